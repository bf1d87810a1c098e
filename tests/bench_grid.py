"""The latent grid: what a 16x16 grid of codes at 32 px buys over the demo's 8x8, and what it costs the Transformer.

`stage1`: VQGAN-T's image model under today's recipe (bench_quality's last rung) with one downsampling (8x8 codes, each a
4x4 pixel patch) or none (16x16 codes, each a 2x2 patch); one thread, the same seed, `--steps` steps (a quarter of them
the continuous warm-up); its reconstructions of 128 validation scenes scored every 60 CPU-seconds (SSIM, LPIPS, SC).
`stage2`: the whole of VQGAN-T at 16x16 (image and semantic model, then the Transformer on 256 + 256 tokens), one thread:
validation NLL and SC of the samples every 300 CPU-seconds. `speed`: a Transformer training step and the sampling of 32
maps at 8x8 and 16x16 grids. Writes nbs/bench_results/grid_<what>.json; `plot` draws the stored ones into grid.png.
`--quick` runs every path at toy size.

The stored results (2026-12-06, Intel Xeon with AMX, fp32, one thread per process while other jobs shared the machine)
came from `stage1 --grid 8`, `stage1 --grid 16` (about 7 minutes each), `stage2 --steps 2400 --steps2 800` (about 35
minutes), `speed` and `plot`.
"""
import argparse, json, sys, time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_quality as bq
from svq_nb.data import SynthScenes
from svq_nb.demo import DemoConfig, system_configs, stage_configs, first_scenes
from svq_nb.metrics import load_segnet, semantic_consistency
from svq_nb.synthesis import System, encode_dataset
from svq_nb.training import train_stage1
from svq_nb.transformer import GPTConfig, CondGPT

OUT = Path(__file__).resolve().parent.parent / "nbs" / "bench_results"


def stage1(grid: int, steps: int, budget: float, every: float, n_val: int) -> dict:
    demo = DemoConfig(steps1=steps, latent=grid)          # bench_quality's image_part builds the model with demo_vq(demo)
    val = SynthScenes(n_val, size=32, split="val", seed=0).tensors()
    return {"grid": grid, "steps": steps, **bq.run_stage1(dict(bq.recipes()[-1][1]), demo, val, load_segnet(), budget, every)}


def stage2(steps1: int, steps2: int, budget2: float, every: float, n_val: int, n_tokens: int) -> dict:
    demo = DemoConfig(steps1=steps1, steps2=steps2, n_tokens=n_tokens, latent=16)
    system = System(system_configs(demo, len(SynthScenes.classes), 0)["VQGAN-T"])
    s1, s2 = (replace(c, device="cpu", precision="fp32") for c in stage_configs(demo))
    val = SynthScenes(n_val, size=32, split="val", seed=0).tensors()
    judge = load_segnet()
    t0, out = time.process_time(), {"steps1": steps1, "steps2": steps2}
    for part, model, loss in system.stage1_parts():
        torch.manual_seed(0); train_stage1(model, loss, SynthScenes(demo.n_train, size=32, seed=0), s1); model.eval()
        print(part, "trained", f"{time.process_time() - t0:.0f} cpu-s", flush=True)
    out["stage1_cpu_s"] = time.process_time() - t0
    with torch.no_grad(): rec = system.reconstruct(*val)
    out["recon_SC"] = semantic_consistency(judge, rec["image"].clamp(-1, 1), val[1])
    out["seg_pixel_acc"] = (rec["label"] == val[1]).float().mean().item()
    print(f"reconstructions: SC {out['recon_SC']:.3f}, semantic maps' pixel accuracy {out['seg_pixel_acc']:.3f}", flush=True)
    cond, x = encode_dataset(system, first_scenes(SynthScenes(demo.n_train, size=32, seed=0), demo.n_tokens))
    val_tokens = system.tokens(*SynthScenes(2 * n_val, size=32, split="val", seed=0).tensors())
    out.update(bq.run_stage2(system, cond, x, val_tokens, val, judge, s2, budget2, every))
    return out


def speed(n: int = 5) -> dict:
    "CPU-seconds of a Transformer step (batch 32) and of sampling 32 maps, the demo's GPT, one thread."
    res = {}
    for hw, nc in ((64, 64), (256, 256), (256, 64)):
        g = CondGPT(GPTConfig(n_cond_vocab=256, n_vocab=1024, n_cond=nc, n_tokens=hw, n_layer=4, n_head=4, n_embd=128))
        opt = torch.optim.AdamW(g.parameters(), 1e-3)
        c, x = torch.randint(0, 256, (32, nc)), torch.randint(0, 1024, (32, hw))
        for i in range(n + 2):
            if i == 2: t = time.process_time()
            g.loss(c, x).backward(); opt.step(); opt.zero_grad()
        step = (time.process_time() - t) / n
        g.eval(); t = time.process_time()
        with torch.no_grad(): g.sample(c, generator=torch.Generator().manual_seed(0))
        res[f"{nc}+{hw} tokens"] = {"train_step_s": step, "sample_32_s": time.process_time() - t}
        print(f"{nc} cond + {hw} image tokens: {step:.3f} s per training step, {res[f'{nc}+{hw} tokens']['sample_32_s']:.2f} s to sample 32 maps", flush=True)
    return res


def plot(out: Path = OUT) -> Path:
    "grid.png from the stored results: stage-1 SC against CPU-seconds at both grids, stage-2 sample SC against steps at 16x16."
    import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    fig, axs = plt.subplots(1, 3, figsize=(14, 4))
    for g, c in ((8, "C0"), (16, "C1")):
        f = out / f"grid_stage1_{g}.json"
        if not f.is_file(): continue
        r = json.loads(f.read_text())
        for ax, k in zip(axs[:2], ("SC", "SSIM")):
            ax.plot([p["cpu_s"] for p in r["curve"]], [p[k] for p in r["curve"]], "o-", ms=3, color=c, label=f"{g}x{g} codes ({r['gflop_per_image']:.2f} GFLOP/img)")
    for ax, k in zip(axs[:2], ("SC", "SSIM")):
        ax.set_title(f"stage 1: reconstruction {k} ↑\n(VQGAN-T's image model, 3000 steps)", fontsize=10); ax.set_xlabel("CPU-seconds (one thread)"); ax.legend(fontsize=8)
    runs = sorted(out.glob("grid_stage2_16_*.json"), key=lambda f: int(f.stem.rsplit("_", 1)[1]))
    for i, f in enumerate(runs):
        r = json.loads(f.read_text())
        axs[2].plot([p["step"] for p in r["curve"]], [p["SC"] for p in r["curve"]], "o-", ms=3, color=f"C{1 + i}",
                    label=f"16x16: VQGAN-T, {r['steps2']} steps (cosine)")
    if runs:
        for run, m in (("demo_results", "s"), ("demo_results_long8", "D")):    # VQGAN-T of the stored 8x8 runs, for scale
            f = out.parent / run / "results.json"
            if f.is_file():
                R = json.loads(f.read_text())
                axs[2].plot([R["settings"]["steps2"]], [R["rows"]["VQGAN-T"]["SC mIoU"][0]], m, color="C0",
                            label=f"8x8: VQGAN-T of nbs/{run}")
        sp = out / "grid_speed.json"
        if sp.is_file():
            s = json.loads(sp.read_text())
            ratio = s["256+256 tokens"]["train_step_s"] / s["64+64 tokens"]["train_step_s"]
            axs[2].set_title(f"stage 2: SC of samples ↑\n(a step at 16x16 costs {ratio:.1f}x one at 8x8)", fontsize=10)
        else: axs[2].set_title("stage 2: SC of samples ↑", fontsize=10)
        axs[2].set(xlabel="Transformer steps (32 sequences each)"); axs[2].legend(fontsize=8)
    fig.tight_layout(); fig.savefig(out / "grid.png", dpi=90); plt.close(fig)
    return out / "grid.png"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("what", nargs="?", default="speed", choices=("stage1", "stage2", "speed", "plot"),
                   help="default (as `make bench` runs it): speed, about a minute")
    p.add_argument("--grid", type=int, default=16, choices=(8, 16))
    p.add_argument("--steps", type=int, default=3000, help="stage1: steps; stage2: steps of each stage-1 model")
    p.add_argument("--steps2", type=int, default=800)
    p.add_argument("--budget", type=float, default=1500, help="CPU-seconds (stage1: of the model; stage2: of the Transformer)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (CPU-seconds then count every thread's time)")
    p.add_argument("--quick", action="store_true", help="every path at toy size, numbers meaningless")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    q = a.quick
    if a.what == "plot": print("wrote", plot()); return
    if a.what == "stage1":
        res = stage1(a.grid, 8 if q else a.steps, 4 if q else a.budget, 2 if q else 60, 16 if q else 128); name = f"stage1_{a.grid}"
    elif a.what == "stage2":
        res = stage2(4 if q else a.steps, 4 if q else a.steps2, 4 if q else a.budget, 2 if q else 300, 16 if q else 128, 32 if q else 20000)
        name = f"stage2_16_{a.steps2}"
    else:
        res = speed(1 if q else 5); name = "speed"
    if not q:
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / f"grid_{name}.json").write_text(json.dumps(res, indent=1), encoding="utf-8")
    print("done", name)


if __name__ == "__main__":
    main()
