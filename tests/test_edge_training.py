"""Robustness of the training loop (`svq_nb.training`), moved out of nbs/07_training.ipynb (issue 25).

Hand-written: edit this file, not the notebook. The tests that teach (the batch stream, atomic checkpoints, exact resume
of both stages, the codebook warm-up, compiled against eager training) stay beside their code in the notebook."""
from fastcore.test import *
import tempfile
import pytest
import torch
from svq_nb.training import TrainConfig, NonFiniteError, train_stage1, train_stage2, checkpoint_step, latest_checkpoint



def test_nonfinite_steps_are_skipped_then_stop():
    from svq_nb.transformer import GPTConfig, CondGPT
    g = torch.Generator().manual_seed(0)
    cond, x = torch.randint(0, 8, (16, 4), generator=g), torch.randint(0, 8, (16, 4), generator=g)
    class Flaky(CondGPT):
        "Non-finite loss on the steps listed in `bad`."
        bad, calls = set(), 0
        def loss(self, *a, **kw):
            Flaky.calls += 1
            l = super().loss(*a, **kw)
            return l * float("nan") if Flaky.calls in Flaky.bad else l
    def flaky_run(bad, d, **kw):
        Flaky.bad, Flaky.calls = set(bad), 0
        torch.manual_seed(0)
        gpt = Flaky(GPTConfig.tiny(8, 8, 4, 4, n_layer=1, n_embd=16))
        cfg = TrainConfig(steps=6, batch_size=8, lr=1e-2, log_every=3, progress=False, ckpt_dir=d, ckpt_every=1, **kw)
        return gpt, train_stage2(gpt, cond, x, cfg)
    with tempfile.TemporaryDirectory() as d:
        clean, _ = flaky_run([], f"{d}/0")
        gpt, h = flaky_run([2, 5], f"{d}/1")
        test_eq([r["nonfinite"] for r in h], [1, 1])                      # counted in the logged rows
        assert all(torch.isfinite(p).all() for p in gpt.parameters())     # never applied
        assert not all(torch.equal(a, b) for a, b in zip(clean.parameters(), gpt.parameters()))
        with pytest.raises(NonFiniteError, match="3 steps in a row") as e: flaky_run([3, 4, 5], f"{d}/2", max_nonfinite=3)
        assert "step-00000002.pt" in str(e.value)                         # the last good checkpoint, kept
        test_eq(checkpoint_step(latest_checkpoint(f"{d}/2")), 2)


def test_resume_on_another_device():
    # issue 24, item 4: resume a finished stage-1 run onto another device (meta for a GPU); every resume failed there with
    # "RNG state must be a torch.ByteTensor" (torch's and the quantizers' generator states had been moved to the device)
    import warnings
    from dataclasses import replace
    from svq_nb.data import SynthScenes
    from svq_nb.synthesis import tiny_system
    data = SynthScenes(8, size=32).tensors()
    parts = lambda: tiny_system("sVQGAN-T", 17, size=32, disc_start=1, disc_warmup=0).stage1_parts()[0][1:]
    with tempfile.TemporaryDirectory() as d:
        cfg = TrainConfig(steps=2, batch_size=4, log_every=1, device="cpu", progress=False, ckpt_dir=d)
        model, loss = parts()
        hist = train_stage1(model, loss, data, cfg)
        model, loss = parts()
        with warnings.catch_warnings():                            # "copying ... to a meta parameter ... is a no-op", once per tensor
            warnings.filterwarnings("ignore", message=".*to a meta parameter")
            test_eq(train_stage1(model, loss, data, replace(cfg, device="meta"), resume=True), hist)   # restored, nothing left to train
        test_eq({p.device.type for p in [*model.parameters(), *loss.parameters()]}, {"meta"})
