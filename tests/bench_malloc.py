"""Freed-memory benchmark (hand-written, run by `make bench`): the demo's two heaviest kinds of work with glibc's default
`malloc` against `svq_nb.training.keep_freed_memory()` (freed blocks kept for reuse instead of returned to the OS), each
in a fresh process, the two settings interleaved so that both see the same machine: FID Inception features of the 128
validation scenes with every core, and steps of the sVQGAN-T stage-1 model (LPIPS and discriminator on) with one
thread, as a demo worker runs them. Prints wall and system time, the ratio, and whether the results are equal bit for
bit. Asserts nothing about time.

    python tests/bench_malloc.py [--rounds 2]
"""
import argparse, json, os, subprocess, sys

PROBE = r"""
import hashlib, json, os, sys, time, torch
from svq_nb.training import keep_freed_memory
if sys.argv[1] == "keep": assert keep_freed_memory()
work = sys.argv[2]
if work == "fid":
    from svq_nb.data import SynthScenes
    from svq_nb.metrics import fid_features
    torch.set_num_threads(os.cpu_count() or 1)
    images = SynthScenes(128, size=32, split="val", seed=0).tensors()[0]
    fid_features(images[:16], progress=False)                       # load the network outside the timing
    t, c = time.perf_counter(), os.times()
    out = fid_features(images, progress=False)
else:
    from dataclasses import replace
    from svq_nb.data import SynthScenes
    from svq_nb.demo import DemoConfig, system_configs
    from svq_nb.synthesis import System
    from svq_nb.training import TrainConfig, train_stage1
    torch.set_num_threads(1)
    scfg = replace(system_configs(DemoConfig(), len(SynthScenes.classes), 0)["sVQGAN-T"], disc_start=2, disc_warmup=1)
    _, model, loss = System(scfg).stage1_parts()[0]
    train = SynthScenes(256, size=32, split="train", seed=0).tensors()
    t, c = time.perf_counter(), os.times()
    train_stage1(model, loss, train, TrainConfig(steps=10, batch_size=16, lr=2e-4, progress=False))
    out = torch.cat([p.detach().flatten() for p in model.parameters()])
c2 = os.times()
print(json.dumps({"wall": time.perf_counter() - t, "sys": c2.system - c.system, "hash": hashlib.sha1(out.numpy().tobytes()).hexdigest()}))
"""


def run(mode: str, work: str) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(os.cpu_count() or 1)}
    r = subprocess.run([sys.executable, "-c", PROBE, mode, work], capture_output=True, text=True, env=env)
    if r.returncode: raise RuntimeError(f"probe {mode} {work} failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=2, help="interleaved rounds of both settings")
    a = p.parse_args()
    for work, what in (("fid", f"FID features of 128 scenes, {os.cpu_count()} threads"),
                       ("stage1", "10 sVQGAN-T stage-1 steps (LPIPS and D on), 1 thread")):
        res = {"default": [], "keep": []}
        for k in range(a.rounds):
            for mode in (("default", "keep") if k % 2 == 0 else ("keep", "default")):
                res[mode].append(run(mode, work))
        mean = lambda m, key: sum(r[key] for r in res[m]) / len(res[m])
        same = len({r["hash"] for rs in res.values() for r in rs}) == 1
        print(f"{what}: default malloc {mean('default', 'wall'):.1f} s (system {mean('default', 'sys'):.1f} s), "
              f"keep_freed_memory {mean('keep', 'wall'):.1f} s (system {mean('keep', 'sys'):.1f} s): "
              f"x{mean('default', 'wall') / mean('keep', 'wall'):.2f}; same result bit for bit: {same}")


if __name__ == "__main__":
    main()
