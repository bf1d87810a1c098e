"""The stage-2 learning rate: the same Transformer (the `--long` preset's, plain conditioning) trained from scratch at
several learning rates on the tokens of the same trained stage-1 models, same seed, same batches, each with its own
warm-up and cosine decay over `--steps` steps.

For each learning rate: validation NLL (nats per image code) and SC of the samples (the robust judge's mIoU) at
temperature 1 and with top-k 20, means over sampling seeds 0 and 1 on 128 validation maps (`bench_aligned.job`). Stage 1
comes from the systems shipped with svq_nb (or `--run`). One single-threaded process per learning rate, all at once
(they share the cores). Writes nbs/bench_results/lr2_<grid>_<steps>.json. About 45 minutes on 2 cores for three rates
at 1000 steps on the tokens of 40,000 scenes; `--quick` runs every path in a minute.
"""
import argparse, json
from multiprocessing import get_context
from pathlib import Path

from bench_aligned import job


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run", default="", help="a finished demo run whose saved systems give stage 1 (default: the shipped systems)")
    p.add_argument("--system", default="VQGAN-T")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--tokens", type=int, default=40_000, help="training scenes whose tokens the Transformer learns from")
    p.add_argument("--lr", default="1e-3,2e-3,4e-3", help="comma-separated learning rates")
    p.add_argument("--quick", action="store_true")
    a = p.parse_args()
    lrs = [float(v) for v in a.lr.split(",")]
    steps, n_tokens, n_val, seeds = (4, 64, 8, (0,)) if a.quick else (a.steps, a.tokens, 128, (0, 1))
    jobs = [(a.system, False, a.run, steps, n_tokens, n_val, seeds, lr) for lr in lrs]
    with get_context("spawn").Pool(len(jobs)) as pool: results = pool.map(job, jobs, chunksize=1)
    res = {"system": a.system, "steps": steps, "n_tokens": n_tokens, "n_val": n_val, "sampling seeds": list(seeds),
           "lr": {f"{out['lr']:g}": out for _, _, out in results}}
    base = results[0][2]
    for _, _, out in results[1:]:
        print(f"lr {out['lr']:g} - lr {base['lr']:g}: NLL {out['val NLL'] - base['val NLL']:+.3f}, SC T=1 {out['SC T=1'] - base['SC T=1']:+.3f}, "
              f"top-k 20 {out['SC top-k 20'] - base['SC top-k 20']:+.3f}")
    if not a.quick:
        out = Path(__file__).resolve().parent.parent / "nbs" / "bench_results" / f"lr2_{base['grid']}_{steps}.json"
        out.write_text(json.dumps(res, indent=1), encoding="utf-8"); print("wrote", out)


if __name__ == "__main__":
    main()
