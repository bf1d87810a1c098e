"""Benchmark: SynthScenes rendering speed on one CPU thread (run by `make bench`; not a timed test).

Target from the data design: 10,000 scenes at 32x32 in under 10 s on one core.
"""
import sys, time
from pathlib import Path
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # run from a checkout without `pip install -e .` too
from svq_nb.data import SynthScenes, render_scenes


def bench(n: int, size: int) -> float:
    "Seconds to render `n` scenes at `size` (best of 2)."
    best = float("inf")
    for _ in range(2):
        t0 = time.perf_counter()
        render_scenes(torch.arange(n), size)
        best = min(best, time.perf_counter() - t0)
    return best


if __name__ == "__main__":
    torch.set_num_threads(1)
    SynthScenes(8, 32).tensors()  # warm up (noise tile, allocator)
    for n, size in [(10_000, 32), (2_000, 64), (200, 256)]:
        dt = bench(n, size)
        note = f"  (target < 10 s: {'OK' if dt < 10 else 'SLOW'})" if (n, size) == (10_000, 32) else ""
        print(f"SynthScenes {n:>6} scenes at {size:>3}x{size:<3}: {dt:6.2f} s, {n / dt:9,.0f} scenes/s, 1 thread{note}")
