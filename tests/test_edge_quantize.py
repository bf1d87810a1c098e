"""Edge cases of `svq_nb.quantize`, moved out of nbs/02_quantize.ipynb (issue 25) so that the notebook reads as a story.

Hand-written: edit this file, not the notebook. The tests that teach (nearest code against brute force, the straight-through
identity, beta on the right term, restarts reviving dead codes, Adam moments of restarted rows) stay in the notebook."""
from fastcore.test import *
import torch, pytest
from svq_nb.quantize import VectorQuantizer, full_fp32_matmul, nearest_code



def test_nearest_code_fp32_under_autocast():
    # issue 24, item 6: the distances and the argmin stay in fp32 under bf16 autocast (2 of these 256 codes differed before)
    g = torch.Generator().manual_seed(0)
    cb = torch.empty(512, 64).uniform_(-1 / 512, 1 / 512, generator=g)    # taming's init: codes within +-1/K, very close together
    z = torch.randn(256, 64, generator=g)
    want = nearest_code(z, cb)
    test_eq(want, torch.cdist(z.double(), cb.double()).argmin(1))         # fp32 picks what float64 picks here
    with torch.autocast("cpu", dtype=torch.bfloat16): test_eq(nearest_code(z, cb), want)
    m, before = torch.backends.cuda.matmul, torch.backends.cuda.matmul.allow_tf32    # TF32 on, as GPU training sets it
    try:
        m.allow_tf32 = True
        with full_fp32_matmul("cuda"): test_eq(m.allow_tf32, False)      # off inside on a GPU (settable without one)
        with full_fp32_matmul("cpu"): test_eq(m.allow_tf32, True)
        test_eq(m.allow_tf32, True)
        m.fp32_precision = "tf32"                                  # TF32 through torch >= 2.9's switch instead
        with full_fp32_matmul("cuda"): test_eq(m.fp32_precision, "ieee")
        test_eq(m.fp32_precision, "tf32")
    finally: m.fp32_precision = "none"; m.allow_tf32 = before


def test_restart_with_l2_norm_backward():
    # 16 codes, 4 vectors per batch: after one step at least 12 codes are dead and restart (this crashed in backward before)
    vq = VectorQuantizer(16, 4, l2_norm=True, restart_dead=True, dead_after=1, seed=0)
    opt = torch.optim.Adam(vq.parameters(), lr=1e-2)
    z = torch.randn(1, 4, 2, 2, generator=torch.Generator().manual_seed(0), requires_grad=True)
    n = []
    for _ in range(3):
        z_q, loss, info = vq(z)
        opt.zero_grad(); (z_q.square().mean() + loss).backward(); opt.step()
        n.append(info['n_restarted'])
        test_eq(len(vq.restarted), info['n_restarted'])
    assert n[0] == 0 and n[1] >= 12, n                       # ages start at 0: the first restart is in step 2
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


def test_restart_every_option_and_dtype():
    # l2_norm x restart_dead x factorised x dtype through forward + backward + optimizer step. Half precision runs on the CPU
    # here (torch >= 2.1 has CPU kernels for every op used); nearest_code searches in float32 whatever the dtype.
    import itertools
    for l2, restart, code_dim, dtype in itertools.product((False, True), (False, True), (None, 3),
                                                          (torch.float32, torch.float16, torch.bfloat16)):
        case = dict(l2_norm=l2, restart_dead=restart, code_dim=code_dim, dtype=dtype)
        torch.manual_seed(0)
        vq = VectorQuantizer(16, 6, l2_norm=l2, restart_dead=restart, dead_after=1, code_dim=code_dim, seed=0).to(dtype)
        opt = torch.optim.SGD(vq.parameters(), lr=0.1)
        z = torch.randn(2, 6, 2, 2, generator=torch.Generator().manual_seed(0)).to(dtype).requires_grad_()
        n = 0
        for step in range(3):
            z_q, loss, info = vq(z)
            test_eq(z_q.dtype, dtype)
            with torch.no_grad():        # the output is built from the codebook as it is now (restarted rows included)
                test_close(z_q.float(), vq.indices_to_latent(info['indices']).float(), eps=1e-2)
            opt.zero_grad(); (z_q.float().square().mean() + loss.float()).backward(); opt.step()
            n += info['n_restarted']
            assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0, case
            assert all(torch.isfinite(p.grad).all() for p in vq.parameters()), case
            assert vq.embedding.weight.grad.abs().sum() > 0, case         # the codes learn (through the codebook loss)
        assert (n > 0) == restart and (len(vq.restarted) > 0) == restart, (case, n)   # restarts exactly when asked for


def test_factorised_and_l2():
    vq = VectorQuantizer(32, 16, code_dim=4, l2_norm=True)
    z = torch.randn(2, 16, 3, 3, requires_grad=True)
    z_q, loss, info = vq(z)
    test_eq(z_q.shape, z.shape); test_eq(vq.embedding.weight.shape, (32, 4))
    test_eq(sorted(vq.state_dict()), ['embedding.weight', 'in_proj.bias', 'in_proj.weight', 'out_proj.bias', 'out_proj.weight'])
    test_close(vq.codebook().detach().norm(dim=1), torch.ones(32))
    assert torch.allclose(z_q, vq.indices_to_latent(info['indices']), atol=1e-5)   # the output is out_proj(unit code)
    (z_q.sum() + loss).backward()
    assert z.grad.abs().sum() > 0 and vq.in_proj.weight.grad.abs().sum() > 0 and vq.embedding.weight.grad.abs().sum() > 0


def test_lookup_any_shape():
    vq = VectorQuantizer(10, 3)
    z = torch.randn(2, 3, 4, 5)
    z_q, _, info = vq(z)
    assert torch.equal(vq.indices_to_latent(info['indices']), z_q)
    assert torch.equal(vq.indices_to_latent(info['indices'].flatten(1), shape=(4, 5)), z_q)
    assert torch.equal(vq.lookup(torch.tensor(7)), vq.embedding.weight[7])
    test_eq(vq.lookup(torch.arange(10).view(2, 1, 5)).shape, (2, 1, 5, 3))
    assert torch.equal(vq.lookup(torch.tensor([1, 2], dtype=torch.int32)), vq.embedding.weight[[1, 2]])
    with pytest.raises(ValueError, match=r"\[0, 10\).*\[0, 10\]"): vq.lookup(torch.tensor([0, 10]))
    with pytest.raises(ValueError, match=r"\[-1, 3\]"): vq.lookup(torch.tensor([-1, 3]))
    with pytest.raises(TypeError, match="integer"): vq.lookup(torch.tensor([1.0]))
    with pytest.raises(ValueError, match=r"\[B,h,w\]"): vq.indices_to_latent(torch.tensor([1, 2]))
