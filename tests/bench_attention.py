"""Which attention kernel a CPU training step should use: SDPA's fused kernel against `explicit_causal_attention`
(two matmuls around a softmax, the causal mask added inside the first), and against the explicit kernel as it was
before ccc57fe ("masked_fill": scale q, matmul, then a masked_fill pass over the scores), in the demo's Transformers
(hand-written, run by `make bench`; prints ratios measured in this one run, asserts nothing).

For the default grid (64 + 64 tokens, 4 heads of 32) and the `--long` grid (256 + 256, 2 heads of 64), as
`system_configs` builds VQGAN-T's Transformer: CPU-seconds of an AdamW training step (batch 32) with
`CausalSelfAttention.impl` set to "sdpa" and to "explicit" (in both formulations), in fp32 and in bf16 autocast (where
the CPU has bf16 instructions), one thread, the kernels taking turns within each round (median of the rounds), and the loss after
the same steps from the same start (how far they drift apart). Then what `make pretrained` does with its last
Transformers: `--share` single-threaded processes on the machine's cores, each training the `--long` Transformer in
bf16, steps per second of all of them together (wall clock, after a barrier), for each kernel, twice in alternating
order (mean of the two). Writes nbs/bench_results/attention_speed.json.
About 9 minutes; `--quick` runs every path in seconds (numbers meaningless).
"""
import argparse, contextlib, json, math, os, platform, statistics, time
import multiprocessing as mp
from dataclasses import replace
from pathlib import Path

import torch

from svq_nb.cpu import cpu_has_bf16
from svq_nb.data import SynthScenes
from svq_nb.demo import DemoConfig, system_configs
from svq_nb.synthesis import System
import svq_nb.transformer as transformer
from svq_nb.transformer import CausalSelfAttention

OUT = Path(__file__).resolve().parent.parent / "nbs" / "bench_results"
IMPLS = ("sdpa", "explicit", "masked_fill")


def masked_fill_attention(q, k, v, dropout_p: float = 0.0):
    "`explicit_causal_attention` before ccc57fe: scale q, matmul, then mask the [T, T] scores in a pass of their own."
    T = q.size(-2)
    att = (q * (1.0 / math.sqrt(q.size(-1)))) @ k.transpose(-2, -1)
    att = att.masked_fill(torch.ones(T, T, dtype=torch.bool, device=q.device).triu(1), float("-inf")).softmax(-1)
    return torch.nn.functional.dropout(att, dropout_p) @ v if dropout_p > 0 else att @ v


@contextlib.contextmanager
def kernel(impl: str):
    "Attention `impl` in every CausalSelfAttention: 'sdpa', 'explicit', or 'masked_fill' (the explicit path, old formulation)."
    saved = CausalSelfAttention.impl, transformer.explicit_causal_attention
    CausalSelfAttention.impl = "sdpa" if impl == "sdpa" else "explicit"
    if impl == "masked_fill": transformer.explicit_causal_attention = masked_fill_attention
    try: yield
    finally: CausalSelfAttention.impl, transformer.explicit_causal_attention = saved


def cpu_name() -> str:
    "The CPU's model name from /proc/cpuinfo (Linux), else what `platform` knows."
    try: return next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration): return platform.processor() or platform.machine()


def build(cfg: DemoConfig):
    torch.manual_seed(0)
    return System(system_configs(cfg, len(SynthScenes.classes), 0)["VQGAN-T"]).gpt


def batch(c, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, c.n_cond_vocab, (32, c.n_cond), generator=gen), torch.randint(0, c.n_vocab, (32, c.n_tokens), generator=gen)


def steps(gpt, opt, cond, x, bf16: bool, impl: str, n: int) -> tuple[float, float]:
    "CPU-seconds per step of n AdamW steps with attention `impl`, and the last loss."
    with kernel(impl):
        t = time.process_time()
        for _ in range(n):
            with torch.autocast("cpu", torch.bfloat16, enabled=bf16): loss = gpt.loss(cond, x)
            opt.zero_grad(); loss.backward(); opt.step()
        return (time.process_time() - t) / n, loss.item()


def worker(cfg: DemoConfig, impl: str, n: int, start, q):
    torch.set_num_threads(1)
    gpt = build(cfg); opt = torch.optim.AdamW(gpt.parameters(), 1e-3); cond, x = batch(gpt.config)
    steps(gpt, opt, cond, x, True, impl, 1)              # warm-up
    start.wait()
    t = time.perf_counter(); steps(gpt, opt, cond, x, True, impl, n); q.put(time.perf_counter() - t)


def shared_rate(cfg: DemoConfig, impl: str, procs: int, n: int) -> float:
    "Training steps per second of `procs` single-threaded processes together (each n steps of the --long Transformer, bf16)."
    ctx = mp.get_context("spawn"); start, q = ctx.Barrier(procs), ctx.Queue()
    ps = [ctx.Process(target=worker, args=(cfg, impl, n, start, q)) for _ in range(procs)]
    for p in ps: p.start()
    try: times = [q.get(timeout=600 + 30 * n) for _ in ps]      # a worker that dies leaves its slot empty: fail, not hang
    finally:
        for p in ps: p.join(timeout=5); p.kill()
    return procs * n / max(times)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--share", type=int, default=3, help="processes for the shared-cores measurement (0: skip it)")
    p.add_argument("--quick", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(1)
    res = {"cpu": cpu_name(), "bf16_instructions": cpu_has_bf16(), "torch": torch.__version__}
    print(f"{cpu_name()}, torch {torch.__version__}, one thread, bf16 instructions: {cpu_has_bf16()}")
    measure(a, res)
    if not a.quick:
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "attention_speed.json").write_text(json.dumps(res, indent=1), encoding="utf-8"); print("wrote", OUT / "attention_speed.json")


def measure(a, res: dict):
    rounds, n = (1, 1) if a.quick else (a.rounds, 4)
    for preset, cfg in (("default 64+64", DemoConfig()), ("--long 256+256", DemoConfig.long())):
        if a.quick: cfg = replace(cfg, latent=8)
        for bf16 in (False, True) if cpu_has_bf16() else (False,):
            key = f"{preset} {'bf16' if bf16 else 'fp32'}"
            models = {i: build(cfg) for i in IMPLS}                         # the same start for every kernel
            opts = {i: torch.optim.AdamW(g.parameters(), 1e-3) for i, g in models.items()}
            cond, x = batch(models["sdpa"].config)
            for i in IMPLS: steps(models[i], opts[i], cond, x, bf16, i, 1)  # warm-up
            times, loss = {i: [] for i in IMPLS}, {}
            for _ in range(rounds):
                for i in IMPLS:
                    t, loss[i] = steps(models[i], opts[i], cond, x, bf16, i, n)
                    times[i].append(t)
            r = {i: {"step_s": statistics.median(times[i]), "loss": loss[i]} for i in IMPLS}
            r["ratio"] = r["explicit"]["step_s"] / r["sdpa"]["step_s"]
            r["ratio_to_masked_fill"] = r["explicit"]["step_s"] / r["masked_fill"]["step_s"]
            print(f"{key}: step SDPA {r['sdpa']['step_s']:.3f} s, explicit {r['explicit']['step_s']:.3f} s (x{r['ratio']:.2f}), "
                  f"masked_fill {r['masked_fill']['step_s']:.3f} s (explicit x{r['ratio_to_masked_fill']:.2f} of it); "
                  f"loss at step {1 + rounds * n} {loss['sdpa']:.4f} / {loss['explicit']:.4f} / {loss['masked_fill']:.4f}", flush=True)
            res[key] = r
    if a.share and cpu_has_bf16():
        cfg = replace(DemoConfig.long(), latent=8) if a.quick else DemoConfig.long()
        rates = {i: [] for i in IMPLS}
        for order in (IMPLS, IMPLS[::-1]):
            for i in order: rates[i].append(shared_rate(cfg, i, a.share, 1 if a.quick else 12))
        rate = {i: statistics.mean(r) for i, r in rates.items()}
        res[f"share {a.share} processes on {os.cpu_count()} cores, --long bf16"] = {
            "steps_per_s": rate, "ratio": rate["sdpa"] / rate["explicit"], "ratio_to_masked_fill": rate["masked_fill"] / rate["explicit"]}
        print(f"{a.share} processes on {os.cpu_count()} cores, --long Transformer, bf16: SDPA {rate['sdpa']:.3f} steps/s, "
              f"explicit {rate['explicit']:.3f} steps/s (time x{rate['sdpa'] / rate['explicit']:.2f}), masked_fill "
              f"{rate['masked_fill']:.3f} steps/s (explicit's time x{rate['masked_fill'] / rate['explicit']:.2f} of it)", flush=True)


if __name__ == "__main__":
    main()
