"""Training-step benchmark (hand-written, run by `make bench`): images/s of one training step of the `svq` command's `tiny`
preset (32 px, 8x8 latents) for VQGAN-T's image VQGAN, sVQGAN-T's coupled model (both with LPIPS and the discriminator on)
and the stage-2 Transformer, in fp32, with bf16 autocast, and (conv models) with channels_last, as ratios to fp32 measured
in this one run on the CPU; and the VQGAN generator step with the adaptive GAN weight computed taming's way (two extra
backward passes through LPIPS and the discriminator) against `balanced_gan_loss` (one). Prints numbers; asserts nothing
about time.
"""
import sys, time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from svq_nb.cli import PRESETS, system_config, train_configs
from svq_nb.data import SynthScenes
from svq_nb.synthesis import System
from svq_nb.training import train_stage1, train_stage2


def stage1_rate(name: str, variant: str, data, steps: int) -> float:
    "Images/s of the first stage-1 part of `name`, measured over `steps` steps after `steps` warm-up steps."
    p = replace(PRESETS["tiny"], disc_start=0, disc_warmup=1)
    system = System(system_config(p, name, len(SynthScenes.classes)))
    _, model, loss = system.stage1_parts()[0]
    cfg, _ = train_configs(p, steps1=2 * steps, device="cpu")
    cfg = replace(cfg, log_every=steps, progress=False, ckpt_every=0, precision="bf16" if variant == "bf16" else "fp32")
    x, s = data
    if variant == "channels_last":
        model.to(memory_format=torch.channels_last); loss.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    h = train_stage1(model, loss, (x, s), cfg)
    return cfg.batch_size / h[-1]["sec_per_step"]


def stage2_rate(variant: str, n: int, steps: int) -> float:
    "Images/s (token sequences/s) of the tiny preset's Transformer."
    p = PRESETS["tiny"]
    system = System(system_config(p, "sVQGAN-T", len(SynthScenes.classes)))
    gc = system.gpt.config
    g = torch.Generator().manual_seed(0)
    cond, xt = torch.randint(0, gc.n_cond_vocab, (n, gc.n_cond), generator=g), torch.randint(0, gc.n_vocab, (n, gc.n_tokens), generator=g)
    _, cfg = train_configs(p, steps2=2 * steps, device="cpu")
    cfg = replace(cfg, log_every=steps, progress=False, ckpt_every=0, precision="bf16" if variant == "bf16" else "fp32")
    h = train_stage2(system.gpt, cond, xt, cfg)
    return cfg.batch_size / h[-1]["sec_per_step"]


def adaptive_weight_ratio(data, reps: int = 6) -> tuple[float, float]:
    "(ms per generator step taming's way, ms with balanced_gan_loss): the demo's 32 px VQGAN image model after disc_start, batch 16."
    from svq_nb.demo import DemoConfig, system_configs
    from svq_nb.losses import adaptive_weight
    system = System(system_configs(DemoConfig(), len(SynthScenes.classes), 0)["VQGAN-T"])
    _, model, crit = system.stage1_parts()[0]
    x = data[0][:16]
    def taming():
        x_rec, q, _ = model(x)
        nll = crit.reconstruction_loss(x, x_rec)[0]
        g = -crit._logits_no_disc_grad(x_rec).mean()
        (nll + adaptive_weight(nll, g, model.last_layer, crit.disc_weight) * g + q).backward()
    def ours():
        x_rec, q, _ = model(x)
        crit.generator_loss(x, x_rec, q, crit.disc_start + 10 ** 6, model.last_layer)[0].backward()
    times = {taming: 0.0, ours: 0.0}
    for f in times: f()                                  # warm-up
    for _ in range(reps):                                # interleaved: both see the same machine load
        for f in times:
            t = time.perf_counter(); f(); times[f] += time.perf_counter() - t
    return times[taming] / reps * 1000, times[ours] / reps * 1000


if __name__ == "__main__":
    steps = 5
    data = SynthScenes(256, 32).tensors()
    print(f"training step, tiny preset (32 px, batch {PRESETS['tiny'].batch1} / {PRESETS['tiny'].batch2}), CPU, {torch.get_num_threads()} threads")
    for name in ("VQGAN-T", "sVQGAN-T"):
        base = stage1_rate(name, "fp32", data, steps)
        row = [f"{name:>9} stage 1: fp32 {base:7.1f} img/s"]
        for v in ("bf16", "channels_last"): row.append(f"{v} x{stage1_rate(name, v, data, steps) / base:.2f}")
        print(", ".join(row))
    base = stage2_rate("fp32", 512, steps)
    print(f"Transformer stage 2: fp32 {base:7.1f} seq/s, bf16 x{stage2_rate('bf16', 512, steps) / base:.2f}")
    t_old, t_new = adaptive_weight_ratio(data)
    print(f"VQGAN generator step after disc_start (demo's 32 px model, batch 16): taming's adaptive weight {t_old:.0f} ms, "
          f"balanced_gan_loss {t_new:.0f} ms, x{t_old / t_new:.2f}")
