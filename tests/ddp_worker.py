"""One rank of tests/test_ddp.py: train stage 1 (sVQGAN-T: discriminator, image dropout, dead-code restarts) and stage 2
(the Transformer, pkeep < 1) of the `test` preset in float64, then save this rank's final state to OUT/rank<R>.pt.

Launched by the test with RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT set, as torchrun would; WORLD_SIZE=1 is the
single-process reference (no process group). Not collected by pytest (no test_ prefix).
"""
import os, sys
from pathlib import Path

import torch
import torch.distributed as dist

from svq_nb.cli import PRESETS, system_config
from svq_nb.data import SynthScenes
from svq_nb.quantize import VectorQuantizer
from svq_nb.synthesis import System
from svq_nb.training import TrainConfig, runtime_state, train_stage1, train_stage2


def main(out: str, steps: int, batch: int) -> None:
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1: dist.init_process_group("gloo")
    torch.set_default_dtype(torch.float64)            # tight equivalence: the sums over ranks only reorder float64 additions
    ds = SynthScenes(16, size=32, split="train", seed=0)
    images, labels = ds.tensors()
    data = (images.double(), labels)
    system = System(system_config(PRESETS["test"], "sVQGAN-T", len(ds.classes), image_dropout=0.5, seed=0))
    state, hist = {}, {}
    for name, model, loss in system.stage1_parts():
        cfg = TrainConfig(steps=steps, batch_size=batch, lr=1e-3, log_every=1, device="cpu", progress=False, seed=0)
        hist[name] = train_stage1(model, loss, data, cfg)
        state[name] = model.state_dict()
        state[name + ".disc"] = loss.image_loss.discriminator.state_dict()
        state[name + ".runtime"] = {k: v for k, v in runtime_state(model).items() if torch.is_tensor(v)}
        state[name + ".restarts"] = [m._gen.get_state() for m in model.modules() if isinstance(m, VectorQuantizer)]
    g = torch.Generator().manual_seed(1)
    gc = system.gpt.config
    cond = torch.randint(0, gc.n_cond_vocab, (16, gc.n_cond), generator=g)
    x = torch.randint(0, gc.n_vocab, (16, gc.n_tokens), generator=g)
    cfg2 = TrainConfig(steps=steps, batch_size=batch, lr=1e-2, betas=(0.9, 0.95), weight_decay=0.01, warmup=2, schedule="cosine",
                       grad_clip=1.0, log_every=1, device="cpu", progress=False, seed=0)
    hist["gpt"] = train_stage2(system.gpt, cond, x, cfg2, pkeep=0.5)
    state["gpt"] = system.gpt.state_dict()
    torch.save({"state": state, "history": hist}, Path(out) / f"rank{rank}.pt")
    if world > 1: dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
