"""Benchmark: stage-2 sampling with and without the KV cache (`CondGPT.sample(use_cache=...)`).

16 images, a 4-layer, 256-wide, 4-head CondGPT with the paper's codebook sizes (16384 image codes, 4096 semantic codes),
at 8x8 latents (64 z_s + 64 z_x tokens) and 16x16 latents (256 + 256). Both samplers run in the same process on the same
model with the same generator seed and return the same codes (up to a rare floating-point tie, which is reported).
The cached time is the fastest of `--reps` runs (the machine may be shared). Then the lower bound of what the cached
sampler could cost: one teacher-forced forward over the finished batch (the same arithmetic, done in one pass), and a
single-token step against an empty cache (the per-step cost that does not depend on the prefix).

    python tests/bench_sampling.py            # full run (recompute at 16x16 takes a few minutes on one thread)
    python tests/bench_sampling.py --quick    # 16x16 recompute estimated from every 16th step

Uses the thread count set by the environment (`make bench` sets OMP_NUM_THREADS=1).
"""
import argparse, sys, time
from pathlib import Path
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # run from a checkout without `pip install -e .`
from svq_nb.transformer import CondGPT, GPTConfig, KVCache


def timed(f):
    "Seconds one call of f takes, and its result."
    t0 = time.perf_counter(); r = f(); return time.perf_counter() - t0, r


@torch.inference_mode()
def recompute_estimate(m: CondGPT, cond: torch.Tensor, x: torch.Tensor, stride: int) -> float:
    "Seconds of the use_cache=False sampler, from every `stride`-th step (the same forward the sampler runs) x stride."
    c, total = m.config, 0.0
    for t in range(0, c.n_tokens, stride):
        h = m._embed(cond, x[:, :t]) if t else m._embed(cond, None)
        total += timed(lambda: m.head(m._hidden(h)[:, -1]))[0]
    return total * stride


@torch.inference_mode()
def lower_bounds(m: CondGPT, cond: torch.Tensor, x: torch.Tensor, reps: int = 3):
    "(one full teacher-forced forward, prefill of the condition, one single-token step against an empty cache) in s."
    c, B = m.config, cond.size(0)
    full = min(timed(lambda: m(cond, x))[0] for _ in range(reps))
    prefill = min(timed(lambda: m._hidden(m._embed(cond, None), KVCache(c, B))[:, -1])[0] for _ in range(reps))
    cache = KVCache(c, B)

    def one_token():
        cache.pos = 0
        return m.head(m._hidden(m._embed(None, x[:, :1], c.n_cond), cache)[:, -1])
    one_token()
    step = min(timed(one_token)[0] for _ in range(20))
    return full, prefill, step


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="estimate the 16x16 recompute time from every 16th step")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--reps", type=int, default=2, help="cached-sampler runs per size; the fastest counts")
    args = ap.parse_args()
    print(f"CondGPT 4 layers, 256 wide, 4 heads, 16384 image / 4096 semantic codes, batch {args.batch}, "
          f"{torch.get_num_threads()} thread(s), torch {torch.__version__}")
    results = []
    for side in (8, 16):
        n = side * side
        torch.manual_seed(0)
        m = CondGPT(GPTConfig(n_cond_vocab=4096, n_vocab=16384, n_cond=n, n_tokens=n, n_layer=4, n_head=4, n_embd=256)).eval()
        cond = torch.randint(0, 4096, (args.batch, n), generator=torch.Generator().manual_seed(1))
        m.sample(cond[:2, :], generator=torch.Generator().manual_seed(0))                     # warm-up
        runs = [timed(lambda: m.sample(cond, generator=torch.Generator().manual_seed(0))) for _ in range(args.reps)]
        t_cache, x = min(r[0] for r in runs), runs[0][1]     # the fastest of a few runs: the least disturbed
        bounds = lower_bounds(m, cond, x)
        if args.quick and side == 16:
            t_rec, note = recompute_estimate(m, cond, x, 16), " (recompute estimated from 1 in 16 steps)"
        else:
            t_rec, x_rec = timed(lambda: m.sample(cond, generator=torch.Generator().manual_seed(0), use_cache=False))
            same = int((x == x_rec).all(1).sum())      # equal up to floating-point ties at CDF boundaries
            note = "" if same == len(x) else f" ({len(x) - same} of {len(x)} samples differ: a floating-point tie)"
        print(f"sampling {side}x{side} ({2 * n} tokens): kv-cache {t_cache:.1f} s, recompute {t_rec:.1f} s, "
              f"{t_rec / t_cache:.1f}x{note}", flush=True)
        results.append((side, n, t_cache, *bounds))
    for side, n, t_cache, full, prefill, step in results:
        per_step = (t_cache - prefill) / (n - 1)
        print(f"  {side}x{side} lower bound: one full teacher-forced forward {full:.2f} s -> kv-cache sampler is "
              f"{t_cache / full:.1f}x of it; prefill {prefill:.2f} s; mean step {per_step * 1e3:.1f} ms vs "
              f"{step * 1e3:.1f} ms for a step with an empty cache ({per_step / step:.1f}x)")


if __name__ == "__main__":
    main()
