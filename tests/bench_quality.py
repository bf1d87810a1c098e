"""Time to quality: what each recipe change we kept buys, on curves of quality against CPU-seconds.

Stage 1: VQGAN-T's image model trained under a ladder of recipes, each the one before plus one change, from the demo
of 2026-12-05 ("before") to today's `make demo` ("after"); one thread, the same seed, the same CPU budget each. Every
`--every` CPU-seconds its reconstructions of 128 validation scenes are scored: SSIM, LPIPS and SC (the shipped
semantic-consistency segmenter on the reconstructions). Stage 2: the Transformer of VQGAN-T on the tokens of the final
recipe's models, the demo's old recipe against the new one: validation NLL (nats/token) and SC of its samples.

Also: each recipe's FLOPs per image of a training step (torch.utils.flop_counter) and the GFLOP/s it achieves, next to
this CPU's rate for a 1024x1024 float32 matmul. Writes nbs/bench_results/quality.json and quality.png; prints the
CPU-seconds each recipe needs to reach a quality level, as ratios. About 45 minutes (`--budget` scales it);
`--quick` runs every path in a minute with meaningless numbers.
"""
import argparse, json, math, os, time, warnings
from dataclasses import replace
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from svq_nb.data import SynthScenes
from svq_nb.models import VQConfig
from svq_nb.synthesis import System, SystemConfig, encode_dataset
from svq_nb.training import TrainConfig, FitHooks, Interrupted, train_stage1, train_stage2, stage1_losses
from svq_nb.metrics import ssim, lpips, semantic_consistency, load_segnet
from svq_nb.demo import DemoConfig, demo_vq, system_configs, stage_configs, first_scenes

ROOT = Path(__file__).resolve().parent.parent
N_CLASSES = len(SynthScenes.classes)

# The stage-1 ladder: (label, changes to the recipe before it). "before" is the demo of 2026-12-05.
BEFORE = dict(vq="tiny", codes=256, lr=2e-4, lpips="vgg", disc_ndf=64, disc_start=0.5, disc_weight=0.8, pool=2000, warmup=0.0)
LADDER = [("before (demo of 2026-12-05)", {}),
          ("+ LPIPS with AlexNet", dict(lpips="alex")),
          ("+ lr 1e-3", dict(lr=1e-3)),
          ("+ 2x2 patches as channels", dict(vq="patch2")),
          ("+ fresh scenes every step", dict(pool=0)),
          ("+ warm-up, k-means codebook of 1024", dict(warmup=0.25, codes=1024)),
          ("+ late, narrow, light discriminator (after)", dict(disc_ndf=32, disc_start=0.75, disc_weight=0.1))]


def recipes():
    "The cumulative recipes of the ladder."
    r, out = dict(BEFORE), []
    for label, change in LADDER:
        r = {**r, **change}; out.append((label, dict(r)))
    return out


def image_part(r: dict, demo: DemoConfig, seed: int = 0):
    "(model, loss, train config) of VQGAN-T's image model under recipe `r`."
    vq = (VQConfig.tiny(resolution=demo.size, quantizer=dict(restart_dead=True, dead_after=50, seed=seed)) if r["vq"] == "tiny"
          else demo_vq(demo, seed))
    vq = replace(vq, n_embed=r["codes"])
    scfg = SystemConfig("VQGAN-T", N_CLASSES, vq=vq, lpips_net=r["lpips"], disc_ndf=r["disc_ndf"], disc_weight=r["disc_weight"],
                        disc_start=int(r["disc_start"] * demo.steps1), disc_warmup=max(1, demo.steps1 // 20), seed=seed)
    _, model, loss = next(p for p in System(scfg).stage1_parts() if p[0] == "image_vq")
    tcfg = TrainConfig(steps=demo.steps1, batch_size=demo.batch_size, lr=r["lr"], codebook_warmup=int(r["warmup"] * demo.steps1),
                       log_every=10, progress=False, device="cpu", precision="fp32", seed=seed)
    return model, loss, tcfg


def step_flops(model, loss, batch) -> float:
    "FLOPs per image of one generator step (forward and backward, the perceptual network included; the discriminator is off)."
    fc = FlopCounterMode(display=False)
    with fc, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stage1_losses(model, loss, batch, 0)[0].backward()
    model.zero_grad(set_to_none=True)
    return fc.get_total_flops() / len(batch["label"])


def matmul_gflops() -> float:
    "This core's float32 rate for a 1024x1024 matmul."
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    for _ in range(3): a @ b
    t = time.perf_counter(); n = 20
    for _ in range(n): a @ b
    return 2 * 1024 ** 3 * n / (time.perf_counter() - t) / 1e9


class Clock:
    "CPU-seconds spent training: evaluation time is taken out."
    def __init__(self): self.t0, self.paused = time.process_time(), 0.0
    def now(self) -> float: return time.process_time() - self.t0 - self.paused
    def pause(self):
        t = time.process_time()
        return lambda: setattr(self, "paused", self.paused + time.process_time() - t)


def run_stage1(r: dict, demo: DemoConfig, val, judge, budget: float, every: float) -> dict:
    "Train one recipe for `budget` CPU-seconds; its curve and speed."
    torch.manual_seed(0)
    model, loss, tcfg = image_part(r, demo)
    data = SynthScenes(2000, size=demo.size, seed=0).tensors() if r["pool"] else SynthScenes(demo.n_train, size=demo.size, seed=0)
    x0, y0 = SynthScenes(demo.batch_size, size=demo.size, seed=9).tensors()
    flops = step_flops(model, loss, {"image": x0, "label": y0})
    clock, curve, state = Clock(), [], {"next": 0.0, "steps": 0}
    def score(row):
        state["steps"] = row["step"]
        if clock.now() < state["next"]: return
        resume = clock.pause()
        model.eval()
        with torch.no_grad(): rec = model(val[0])[0].clamp(-1, 1)
        model.train()
        curve.append({"cpu_s": clock.now(), "step": row["step"], "SSIM": ssim(val[0], rec).mean().item(),
                      "LPIPS": lpips(val[0], rec, device="cpu").mean().item(), "SC": semantic_consistency(judge, rec, val[1])})
        print(f"    {clock.now():6.0f} cpu-s  step {row['step']:5d}  SSIM {curve[-1]['SSIM']:.3f}  LPIPS {curve[-1]['LPIPS']:.3f}  "
              f"SC {curve[-1]['SC']:.3f}", flush=True)
        state["next"] += every
        resume()
    try: train_stage1(model, loss, data, tcfg, hooks=FitHooks(on_log=score, should_stop=lambda: clock.now() > budget))
    except Interrupted: pass
    secs = clock.now()
    return {"curve": curve, "gflop_per_image": flops / 1e9, "steps": state["steps"],
            "gflops_achieved": flops * tcfg.batch_size * state["steps"] / max(secs, 1e-9) / 1e9}


def run_stage2(system: System, cond, x, val_tokens, val, judge, tcfg: TrainConfig, budget: float, every: float) -> dict:
    "Train the Transformer of `system` for `budget` CPU-seconds; validation NLL and the SC of its samples."
    torch.manual_seed(0)
    gpt = system.gpt
    clock, curve, state = Clock(), [], {"next": 0.0, "steps": 0}
    vc, vx = val_tokens
    def score(row):
        state["steps"] = row["step"]
        if clock.now() < state["next"]: return
        resume = clock.pause()
        gpt.eval()
        with torch.no_grad():
            nll = gpt.loss(vc, vx).item()
            samples = system.decode_tokens(gpt.sample(vc[:len(val[1])], generator=torch.Generator().manual_seed(0)), vc[:len(val[1])])
        gpt.train()
        curve.append({"cpu_s": clock.now(), "step": row["step"], "NLL": nll, "SC": semantic_consistency(judge, samples, val[1])})
        print(f"    {clock.now():6.0f} cpu-s  step {row['step']:5d}  NLL {nll:.3f}  sample SC {curve[-1]['SC']:.3f}", flush=True)
        state["next"] += every
        resume()
    try: train_stage2(gpt, cond, x, replace(tcfg, log_every=10, device="cpu", precision="fp32"),
                      hooks=FitHooks(on_log=score, should_stop=lambda: clock.now() > budget))
    except Interrupted: pass
    return {"curve": curve, "steps": state["steps"]}


def time_to(curve: list[dict], key: str, level: float, higher: bool = True) -> float | None:
    "CPU-seconds at which `key` first reaches `level` (linear between points), or None."
    prev = None
    for p in curve:
        if (p[key] >= level) if higher else (p[key] <= level):
            if prev is None: return p["cpu_s"]
            f = (level - prev[key]) / (p[key] - prev[key])
            return prev["cpu_s"] + f * (p["cpu_s"] - prev["cpu_s"])
        prev = p
    return None


def plot(R: dict, path: Path):
    import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    fig, axs = plt.subplots(1, 5, figsize=(21, 4.2))
    for i, (label, res) in enumerate(R["stage1"].items()):
        c = res["curve"]
        for ax, k in zip(axs[:3], ("SC", "SSIM", "LPIPS")):
            ax.plot([p["cpu_s"] for p in c], [p[k] for p in c], "o-", ms=3, color=plt.cm.viridis(i / max(1, len(R["stage1"]) - 1)), label=label)
    for ax, k, arrow in zip(axs[:3], ("SC", "SSIM", "LPIPS"), ("↑", "↑", "↓")):
        ax.set(title=f"stage 1: reconstructions, {k} {arrow}", xlabel="CPU-seconds (one thread)")
    axs[0].legend(fontsize=7, loc="lower right")
    for label, res in R["stage2"].items():
        c = res["curve"]
        axs[3].plot([p["cpu_s"] for p in c], [p["NLL"] for p in c], "o-", ms=3, label=label)
        axs[4].plot([p["cpu_s"] for p in c], [p["SC"] for p in c], "o-", ms=3, label=label)
    axs[3].set(title="stage 2: validation NLL (nats/token) ↓", xlabel="CPU-seconds (one thread)")
    axs[4].set(title="stage 2: SC of samples ↑", xlabel="CPU-seconds (one thread)"); axs[4].legend(fontsize=8)
    fig.tight_layout(); fig.savefig(path, dpi=90); plt.close(fig)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--budget", type=float, default=300, help="CPU-seconds per stage-1 recipe (stage 2: 1.5x)")
    p.add_argument("--every", type=float, default=30, help="CPU-seconds between evaluations")
    p.add_argument("--quick", action="store_true", help="every path at toy size, numbers meaningless")
    p.add_argument("--out", default=str(ROOT / "nbs" / "bench_results"))
    a = p.parse_args()
    torch.set_num_threads(1)
    demo = DemoConfig.quick() if a.quick else DemoConfig()
    n_val = 16 if a.quick else 128
    budget, every = (4.0, 2.0) if a.quick else (a.budget, a.every)
    val = SynthScenes(n_val, size=demo.size, split="val", seed=0).tensors()
    judge = load_segnet()
    R = {"machine": {"matmul_gflops_1_thread": matmul_gflops(), "cpu": os.uname().machine, "torch": torch.__version__,
                     "budget_cpu_s": budget}, "stage1": {}, "stage2": {}}
    print(f"1024x1024 float32 matmul on one thread: {R['machine']['matmul_gflops_1_thread']:.0f} GFLOP/s", flush=True)
    for label, r in recipes():
        print(f"stage 1: {label}", flush=True)
        R["stage1"][label] = {"recipe": r, **run_stage1(r, demo, val, judge, budget, every)}
    # stage 2: VQGAN-T's Transformer on the tokens of the final recipe's image model and semantic model
    system = System(system_configs(demo, N_CLASSES, 0)["VQGAN-T"])
    s1, s2 = stage_configs(demo)
    print("stage 2: training the final recipe's models of VQGAN-T (image model, semantic model)", flush=True)
    for part, model, loss in system.stage1_parts():
        torch.manual_seed(0)
        clock = Clock()
        try: train_stage1(model, loss, SynthScenes(demo.n_train, size=demo.size, seed=0), replace(s1, device="cpu", precision="fp32"),
                          hooks=FitHooks(should_stop=lambda: clock.now() > 2 * budget))
        except Interrupted: pass
        model.eval()
    train = SynthScenes(demo.n_train, size=demo.size, seed=0)
    val_tokens = system.tokens(*SynthScenes(2 * n_val, size=demo.size, split="val", seed=0).tensors())
    before2 = TrainConfig(steps=demo.steps2, batch_size=2 * demo.batch_size, lr=1e-3, betas=(0.9, 0.95), warmup=min(50, demo.steps2 // 10),
                          grad_clip=1.0, weight_decay=0.01, progress=False)
    for label, tcfg, n in (("before: constant lr, tokens of 2000 scenes", before2, 2000),
                           ("after: cosine decay, tokens of 20000 fresh scenes", s2, demo.n_tokens)):
        print(f"stage 2: {label}", flush=True)
        cond, x = encode_dataset(system, first_scenes(train, n))
        torch.manual_seed(0); system.gpt.load_state_dict(System(system.cfg).gpt.state_dict())     # the same initial Transformer
        R["stage2"][label] = run_stage2(system, cond, x, val_tokens, val, judge, tcfg, 1.5 * budget, every)
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    (out / "quality.json").write_text(json.dumps(R, indent=1), encoding="utf-8")
    plot(R, out / "quality.png")
    print("\nstage-1 recipes: FLOPs per image, achieved rate, CPU-seconds to reach a level of SC (ratio against 'before')", flush=True)
    first = next(iter(R["stage1"].values()))
    levels = [0.3, 0.35, 0.4]
    for label, res in R["stage1"].items():
        ts = [time_to(res["curve"], "SC", l) for l in levels]
        t0 = [time_to(first["curve"], "SC", l) for l in levels]
        cells = ", ".join(f"SC {l}: " + ("not reached" if t is None else f"{t:.0f} s" + (f" (x{b / t:.1f})" if b and t else ""))
                          for l, t, b in zip(levels, ts, t0))
        print(f"  {label:42s} {res['gflop_per_image']:.2f} GFLOP/img at {res['gflops_achieved']:.0f} GFLOP/s "
              f"({res['gflops_achieved'] / R['machine']['matmul_gflops_1_thread']:.0%} of matmul); final SC {res['curve'][-1]['SC']:.3f}; {cells}")
    for label, res in R["stage2"].items():
        print(f"  stage 2, {label}: final NLL {res['curve'][-1]['NLL']:.3f}, sample SC {res['curve'][-1]['SC']:.3f} after {res['steps']} steps")
    print(f"wrote {out / 'quality.json'} and {out / 'quality.png'}")


if __name__ == "__main__":
    main()
