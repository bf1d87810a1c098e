"""Engineering checks of the conditional GPT (`svq_nb.transformer`), moved out of nbs/06_transformer.ipynb (issue 25).

Hand-written: edit this file, not the notebook. The tests that teach (the loss on image positions only, separate
embedding tables, pkeep, top-k / top-p, cache equals recompute, the toy task) stay beside their code in the notebook."""
from fastcore.test import *
import torch, pytest
from svq_nb.transformer import CondGPT, GPTConfig



def test_unchecked_loss_reads_nothing_back():
    # issue 24, item 10: the GPT's input checks synced the host 3 times per step (.any() / .unique()); check=False reads nothing back
    from torch.overrides import TorchFunctionMode
    READS = {torch.Tensor.__bool__, torch.Tensor.item, torch.Tensor.tolist, torch.Tensor.nonzero, torch.nonzero, torch.Tensor.unique,
             torch.unique, torch.Tensor.__int__, torch.Tensor.__float__}
    class HostReads(TorchFunctionMode):
        "Records the torch calls that copy a tensor's value back to the host (a GPU sync)."
        def __init__(self): super().__init__(); self.calls = []
        def __torch_function__(self, func, types, args=(), kwargs=None):
            if func in READS: self.calls.append(func.__name__)
            return func(*args, **(kwargs or {}))
    cfg = GPTConfig.tiny(n_cond_vocab=12, n_vocab=16, n_cond=6, n_tokens=5)
    m = CondGPT(cfg)
    g = torch.Generator().manual_seed(0)
    cond, x = torch.randint(0, 12, (3, 6), generator=g), torch.randint(0, 16, (3, 5), generator=g)
    loss = lambda **kw: m.loss(cond, x, pkeep=0.5, generator=torch.Generator().manual_seed(1), **kw)
    with HostReads() as checked: a = loss()
    with HostReads() as unchecked: b = loss(check=False)
    test_eq(len(checked.calls), 3); test_eq(unchecked.calls, [])
    test_eq(a.item(), b.item())                                        # the same loss
    with pytest.raises(ValueError, match="long tensor"): m.loss(cond.float(), x, check=False)    # shapes and dtypes still checked
    # the token arrays of a training run are checked once, as numpy arrays (token files) or tensors
    m.check_tokens(cond.numpy().astype("int16"), x)
    with pytest.raises(ValueError, match=r"x \(z_x\) tokens must lie in \[0, 16\), got \[0, 16\]"): m.check_tokens(cond, torch.full((3, 5), 16).index_fill(0, torch.tensor([0]), 0))
    with pytest.raises(ValueError, match=r"cond \(z_s\) tokens must be integers \[N, 6\]"): m.check_tokens(cond[:, :5], x)
    with pytest.raises(ValueError, match="3 condition rows but 2"): m.check_tokens(cond, x[:2])


def test_param_groups_split():
    m = CondGPT(GPTConfig.tiny())
    decay, no_decay = m.param_groups(0.1)
    test_eq((decay["weight_decay"], no_decay["weight_decay"]), (0.1, 0.0))
    ids = lambda ps: {id(p) for p in ps}
    test_eq(ids(decay["params"]) | ids(no_decay["params"]), ids(m.parameters()))
    test_eq(ids(decay["params"]) & ids(no_decay["params"]), set())
    assert id(m.head.weight) in ids(decay["params"]) and id(m.cond_emb.weight) in ids(decay["params"])
    assert id(m.ln_f.weight) in ids(no_decay["params"]) and id(m.blocks[0].mlp.c_fc.bias) in ids(no_decay["params"])
    torch.optim.AdamW(m.param_groups(0.1), lr=1e-3)              # accepted by AdamW


def test_sampled_tokens_train_later():
    # sample() runs under no_grad, not inference_mode: its tokens are ordinary tensors that a training step can use
    # (self-training on samples, say); inference tensors "cannot be saved for backward".
    torch.manual_seed(0)
    cfg = GPTConfig.tiny(n_cond_vocab=12, n_vocab=16, n_cond=7, n_tokens=9)
    m = CondGPT(cfg)
    cond = torch.randint(0, 12, (4, 7), generator=torch.Generator().manual_seed(4))
    x = m.sample(cond, generator=torch.Generator().manual_seed(1))
    m.loss(cond, x).backward()                                                 # "Inference tensors cannot be saved for backward" before
    assert not x.is_inference()
    assert m.tok_emb.weight.grad[x[:, :-1].unique()].abs().sum(1).min() > 0   # every sampled input token gets a gradient
