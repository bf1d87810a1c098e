"""Benchmark: SynthScenes rendering speed on one CPU thread (run by `make bench`; not a timed test).

Target from the data design: 10,000 scenes at 32x32 in under 10 s on one core; and a shuffled DataLoader at batch 64
delivers at least 1,000 scenes/s at 32 px on one core (batched fetching through `SynthScenes.__getitems__`).
"""
import sys, time
from pathlib import Path
import torch
from torch.utils.data import DataLoader

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


class PerItem(SynthScenes):
    "SynthScenes without batched fetching: the DataLoader calls __getitem__ once per scene."
    __getitems__ = None
    def __getitem__(self, i): return SynthScenes.__getitems__(self, [i])[0]


def loader_rate(ds, n_batches: int = 30, batch_size: int = 64) -> float:
    "Scenes per second out of a shuffled DataLoader (main process, one thread)."
    dl = DataLoader(ds, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0))
    it = iter(dl); next(it)
    t0 = time.perf_counter()
    for _ in range(n_batches): next(it)
    return n_batches * batch_size / (time.perf_counter() - t0)


if __name__ == "__main__":
    torch.set_num_threads(1)
    SynthScenes(8, 32).tensors()  # warm up (noise tile, allocator)
    for n, size in [(10_000, 32), (2_000, 64), (200, 256)]:
        dt = bench(n, size)
        note = f"  (target < 10 s: {'OK' if dt < 10 else 'SLOW'})" if (n, size) == (10_000, 32) else ""
        print(f"SynthScenes {n:>6} scenes at {size:>3}x{size:<3}: {dt:6.2f} s, {n / dt:9,.0f} scenes/s, 1 thread{note}")
    fast, slow = loader_rate(SynthScenes(100_000, 32)), loader_rate(PerItem(100_000, 32), n_batches=5)
    print(f"DataLoader, shuffled, batch 64, 32 px, 1 thread: batched {fast:,.0f} scenes/s, per item {slow:,.0f} scenes/s "
          f"(x{fast / slow:.1f}; target >= 1,000: {'OK' if fast >= 1000 else 'SLOW'})")
