"""Aligned conditioning against the paper's prepending alone: the same stage-2 Transformer, trained from scratch with and
without `GPTConfig.aligned` on the tokens of the same trained stage-1 models, same seed, same batches.

For each system and variant: validation NLL (nats per image code) and SC of the samples (the robust judge's mIoU) at
temperature 1 (what `make demo` reports) and with top-k 20, means over sampling seeds 0 and 1 on 128 validation maps.
Stage 1 comes from a finished run (`--run runs/demo`: its saved systems) or, by default, from the systems shipped with
svq_nb. Stage 2 uses the demo's recipe (`stage_configs`) at `--steps` steps on the tokens of the first 20,000 training
scenes, one thread per job, two jobs at a time. Writes nbs/bench_results/aligned_<grid>.json (grid: 8x8 or 16x16).
About 10 minutes at 8x8 and 600 steps, 30 at 16x16 and 500 steps, on 2 cores. `--quick` runs every path in a minute.
"""
import argparse, json, time
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path

import torch

NAMES = ("VQGAN-T", "sVQGAN-T (ref-free)")


def job(args):
    name, aligned, run, steps, n_tokens, n_val, seeds = args
    torch.set_num_threads(1)
    from svq_nb.data import SynthScenes
    from svq_nb.demo import DemoConfig, stage_configs
    from svq_nb.metrics import load_segnet, semantic_consistency
    from svq_nb.synthesis import encode_dataset, trained_systems
    from svq_nb.transformer import CondGPT
    from svq_nb.training import train_stage2
    systems, where = trained_systems([name], run or "no run given")
    if name not in systems: raise SystemExit(f"{name}: {where}")
    s = systems[name].eval()
    s.cfg = replace(s.cfg.unguided(), gpt_top_k=0)   # the Transformers trained here know no empty condition; plain sampling
    train = SynthScenes(n_tokens, size=32, split="train", seed=0).tensors()
    val = SynthScenes(n_val, size=32, split="val", seed=0).tensors()
    cond, x = encode_dataset(s, train)
    s2 = replace(stage_configs(DemoConfig(steps2=steps))[1], log_every=max(1, steps // 10))
    s.gpt = CondGPT(replace(s.gpt.config, aligned=aligned, null_cond=False))
    t0 = time.perf_counter()
    hist = train_stage2(s.gpt, cond, x, s2)
    train_s = time.perf_counter() - t0
    s.eval()
    vc, vx = s.tokens(*val)
    with torch.no_grad(): nll = s.gpt.loss(vc, vx).item()
    judge, out = load_segnet(), {"val NLL": nll, "train s/step": train_s / steps, "loss curve": [(h["step"], h["loss"]) for h in hist],
                                 "grid": f"{s.cfg.vq.latent_size}x{s.cfg.vq.latent_size}", "source": where, "precision": s2.precision}
    for label, kw in (("T=1", {}), ("top-k 20", dict(top_k=20))):
        sc = []
        for seed in seeds:
            with torch.no_grad(): imgs = s.synthesize(val[1], seed=seed, **kw)[:, 0]
            sc.append(semantic_consistency(judge, imgs, val[1]))
        out[f"SC {label}"] = sum(sc) / len(sc)
    print(f"{name:20s} aligned={aligned!s:5} NLL {nll:.3f}  SC T=1 {out['SC T=1']:.3f}  top-k 20 {out['SC top-k 20']:.3f}  "
          f"{out['train s/step']:.2f} s/step ({out['grid']}, {where})", flush=True)
    return name, aligned, out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run", default="", help="a finished demo run whose saved systems give stage 1 (default: the shipped systems)")
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--quick", action="store_true")
    a = p.parse_args()
    steps, n_tokens, n_val, seeds = (4, 64, 8, (0,)) if a.quick else (a.steps, 20_000, 128, (0, 1))
    jobs = [(n, al, a.run, steps, n_tokens, n_val, seeds) for n in NAMES for al in (False, True)]
    with get_context("spawn").Pool(2) as pool: results = pool.map(job, jobs, chunksize=1)
    res = {"steps": steps, "n_tokens": n_tokens, "n_val": n_val, "sampling seeds": list(seeds), "systems": {}}
    for name, aligned, out in results: res["systems"].setdefault(name, {})[f"aligned={aligned}"] = out
    for name, r in res["systems"].items():
        print(f"{name}: aligned - plain: SC T=1 {r['aligned=True']['SC T=1'] - r['aligned=False']['SC T=1']:+.3f}, "
              f"top-k 20 {r['aligned=True']['SC top-k 20'] - r['aligned=False']['SC top-k 20']:+.3f}, "
              f"NLL {r['aligned=True']['val NLL'] - r['aligned=False']['val NLL']:+.3f}")
    if not a.quick:
        grid = results[0][2]["grid"]
        out = Path(__file__).resolve().parent.parent / "nbs" / "bench_results" / f"aligned_{grid}_{steps}.json"
        out.write_text(json.dumps(res, indent=1), encoding="utf-8"); print("wrote", out)


if __name__ == "__main__":
    main()
