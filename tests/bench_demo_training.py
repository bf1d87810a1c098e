"""Demo-training benchmark (hand-written, run by `make bench`): wall time of training the stages of `make demo ARGS=--fast`
(VQGAN-T's image and semantic VQ models, sVQGAN-T, the reference-free sVQGAN-T and their three Transformers) at a fraction
of the demo's steps, in this process with every core (one stage after another) against `train_stages` with one
single-threaded worker process per core; the ratio is measured in this one run, both orders interleaved. Also checks that
the workers' weights equal those of a one-thread run in this process, bit for bit. Prints numbers; asserts nothing about time.

`--share`: what sharing the cores costs (`train_stages(share=True)` runs more single-threaded processes than cores at the
end of `make pretrained`): the steps per second that `cores` and `cores + 1` single-threaded processes make together,
each training the `--long` preset's Transformer (256 + 256 tokens, batch 32, the demo's precision) for `--seconds`.

    python tests/bench_demo_training.py [--frac 0.15]
    python tests/bench_demo_training.py --share [--seconds 60]
"""
import argparse, os, tempfile, time
from dataclasses import replace
from pathlib import Path

import torch

from svq_nb.data import SynthScenes
from svq_nb.demo import DemoConfig, Progress, plan_stages, stage_configs, system_configs, train_stages
from svq_nb.training import load_checkpoint


def plan(cfg: DemoConfig, cache: Path) -> list:
    s1, s2 = stage_configs(cfg)
    return [st for n, c in system_configs(cfg, len(SynthScenes.classes), 0).items()
            for st in plan_stages(n, c, s1, s2, cache, "bench", tuple(cfg.budget))]


def timed(cfg, train, workers: int, threads: int) -> tuple[float, Path, tempfile.TemporaryDirectory]:
    d = tempfile.TemporaryDirectory()
    torch.set_num_threads(threads if workers == 1 else torch.get_num_threads())
    t = time.perf_counter()
    train_stages(plan(cfg, Path(d.name)), train, workers, Progress(1, log=lambda *a: None), threads)
    return time.perf_counter() - t, Path(d.name), d


def gpt_steps(seconds: float, q) -> None:
    "Train the --long preset's Transformer on random tokens for `seconds` on one thread; put its steps per second on `q`."
    torch.set_num_threads(1)
    from svq_nb.demo import DemoConfig, stage_configs, system_configs
    from svq_nb.synthesis import System
    cfg = DemoConfig.long(); s2 = stage_configs(cfg)[1]
    torch.manual_seed(0)
    gpt = System(system_configs(cfg, len(SynthScenes.classes), 0)["VQGAN-T"]).gpt      # the --long Transformer, as the demo builds it
    opt = torch.optim.AdamW(gpt.parameters(), s2.lr, betas=s2.betas)
    cond, x = torch.randint(0, cfg.codes_s, (s2.batch_size, cfg.latent ** 2)), torch.randint(0, cfg.codes, (s2.batch_size, cfg.latent ** 2))
    n, t = 0, time.perf_counter()
    while time.perf_counter() - t < seconds:
        with torch.autocast("cpu", torch.bfloat16, enabled=s2.precision == "bf16"): loss = gpt.loss(cond, x)
        opt.zero_grad(); loss.backward(); opt.step(); n += 1
    q.put(n / (time.perf_counter() - t))


def share(seconds: float) -> None:
    import multiprocessing as mp
    cores, ctx = os.cpu_count() or 1, mp.get_context("spawn")
    total = {}
    for k in (cores, cores + 1):
        q = ctx.Queue(); ps = [ctx.Process(target=gpt_steps, args=(seconds, q)) for _ in range(k)]
        for p in ps: p.start()
        for p in ps: p.join()
        each = [q.get() for _ in ps]; total[k] = sum(each)
        print(f"  {k} single-threaded processes on {cores} cores: {', '.join(f'{v:.3f}' for v in each)} steps/s each, {total[k]:.3f} together")
    print(f"sharing {cores} cores among {cores + 1} processes keeps x{total[cores + 1] / total[cores]:.3f} of the throughput of {cores}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--frac", type=float, default=0.15, help="fraction of the demo's stage-1 and stage-2 steps")
    p.add_argument("--share", action="store_true", help="measure what sharing the cores among more processes costs")
    p.add_argument("--seconds", type=float, default=60.0, help="with --share: seconds each measurement trains")
    a = p.parse_args()
    if a.share: return share(a.seconds)
    cores = os.cpu_count() or 1
    base = DemoConfig()
    cfg = replace(base, steps1=max(2, round(a.frac * base.steps1)), steps2=max(2, round(a.frac * base.steps2)))
    train = SynthScenes(cfg.n_train, size=cfg.size, split="train", seed=cfg.seed).tensors()
    print(f"--fast stages at {cfg.steps1} stage-1 / {cfg.steps2} stage-2 steps ({a.frac:.0%} of the demo's), {cores} cores")
    seq, par = [], []
    for order in ("seq", "par"), ("par", "seq"):
        for o in order:
            if o == "seq": t, _, d = timed(cfg, train, 1, cores); seq.append(t)
            else: t, path, keep = timed(cfg, train, cores, 1); par.append(t); par_dir = keep
            print(f"  {'in this process, ' + str(cores) + ' threads' if o == 'seq' else str(cores) + ' worker processes, 1 thread each'}: {t:.1f} s")
            if o == "seq": d.cleanup()
    s, q = sum(seq) / len(seq), sum(par) / len(par)
    print(f"train_stages: {s:.1f} s one after another with {cores} threads, {q:.1f} s in {cores} single-threaded workers: x{s / q:.2f}")
    t1, one, d1 = timed(cfg, train, 1, 1)
    same = all(torch.equal(u, v) for f in Path(par_dir.name).glob("*.pt")
               for x, y in [(load_checkpoint(f), load_checkpoint(one / f.name))]
               for u, v in zip(*(list((z.get("state_dict") or z["snapshots"]["1.0"]).values()) for z in (x, y))))
    print(f"one thread in this process: {t1:.1f} s; the workers' weights equal it bit for bit: {same}")


if __name__ == "__main__":
    main()
