"""Attention heads at a fixed width: what splitting the demo Transformer's 128 channels into 4 heads of 32, 2 of 64 or 1 of
128 costs per step on a CPU (hand-written, run by `make bench`; prints ratios measured in this one run, asserts nothing).

For the default grid (64 + 64 tokens) and the `--long` grid (256 + 256): CPU-seconds of a training step of the demo's
Transformer (4 layers, 128 wide, batch 32, as `system_configs` builds it, only `gpt_heads` changed), of the attention
alone (`F.scaled_dot_product_attention`, forward and backward, the four layers' share) and of sampling 32 maps with the
KV cache; in fp32 and in bf16 autocast (what `--precision auto` picks on a CPU with bf16 instructions), the training
step with SDPA's attention, the kernel these numbers chose the heads with (since 08fbe9e a CPU in bf16 trains with
`explicit_causal_attention` instead: `tests/bench_attention.py`). One thread; the
head counts take turns within each round, and each number is the median of the rounds. Writes
nbs/bench_results/heads_speed.json. About 4 minutes; `--quick` runs every path in seconds (numbers meaningless).
"""
import argparse, json, statistics, time
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F

from svq_nb.data import SynthScenes
from svq_nb.demo import DemoConfig, system_configs
from svq_nb.synthesis import System
from svq_nb.transformer import CausalSelfAttention

OUT = Path(__file__).resolve().parent.parent / "nbs" / "bench_results"
HEADS = (4, 2, 1)


def build(cfg: DemoConfig, heads: int):
    torch.manual_seed(0)
    return System(replace(system_configs(cfg, len(SynthScenes.classes), 0)["VQGAN-T"], gpt_heads=heads)).gpt


def step_time(gpt, opt, cond, x, bf16: bool, n: int) -> float:
    CausalSelfAttention.impl = "sdpa"
    t = time.process_time()
    for _ in range(n):
        with torch.autocast("cpu", torch.bfloat16, enabled=bf16): loss = gpt.loss(cond, x)
        opt.zero_grad(); loss.backward(); opt.step()
    return (time.process_time() - t) / n


def attention_time(B: int, heads: int, T: int, width: int, bf16: bool, layers: int, n: int) -> float:
    "Forward and backward of causal SDPA on the shapes of one step, times the layers."
    q, k, v = (torch.randn(B, heads, T, width // heads, dtype=torch.bfloat16 if bf16 else torch.float32, requires_grad=True) for _ in range(3))
    t = time.process_time()
    for _ in range(n): F.scaled_dot_product_attention(q, k, v, is_causal=True).sum().backward()
    return layers * (time.process_time() - t) / n


def sample_time(gpt, cond) -> float:
    gpt.eval(); t = time.process_time()
    with torch.no_grad(): gpt.sample(cond, generator=torch.Generator().manual_seed(0))
    gpt.train()
    return time.process_time() - t


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--quick", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(1)
    rounds, n = (1, 1) if a.quick else (a.rounds, 4)
    res = {}
    for preset, cfg in (("default 64+64", DemoConfig()), ("--long 256+256", DemoConfig.long())):
        if a.quick: cfg = replace(cfg, latent=8)
        for bf16 in (False, True):
            key = f"{preset} {'bf16' if bf16 else 'fp32'}"
            models = {h: build(cfg, h) for h in HEADS}
            c = models[4].config
            opts = {h: torch.optim.AdamW(g.parameters(), 1e-3) for h, g in models.items()}
            gen = torch.Generator().manual_seed(0)
            cond = torch.randint(0, c.n_cond_vocab, (32, c.n_cond), generator=gen)
            x = torch.randint(0, c.n_vocab, (32, c.n_tokens), generator=gen)
            for h in HEADS: step_time(models[h], opts[h], cond, x, bf16, 1)         # warm-up
            times = {h: {"step": [], "attention": []} for h in HEADS}
            for _ in range(rounds):
                for h in HEADS:
                    times[h]["step"].append(step_time(models[h], opts[h], cond, x, bf16, n))
                    times[h]["attention"].append(attention_time(32, h, c.n_cond + c.n_tokens - 1, c.n_embd, bf16, c.n_layer, n))
            r = {}
            for h in HEADS:
                r[h] = {k: statistics.median(v) for k, v in times[h].items()}
                with torch.autocast("cpu", torch.bfloat16, enabled=bf16): r[h]["sample_32"] = sample_time(models[h], cond)
            base = r[4]["step"]
            print(f"{key}: " + "; ".join(f"{h} head{'s' * (h > 1)} of {c.n_embd // h}: step {r[h]['step']:.3f} s (x{r[h]['step'] / base:.2f}), "
                                         f"attention {r[h]['attention']:.3f} s ({r[h]['attention'] / r[h]['step']:.0%} of the step), "
                                         f"sampling 32 maps {r[h]['sample_32']:.2f} s" for h in HEADS), flush=True)
            res[key] = {str(h): v for h, v in r.items()}
    if not a.quick:
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "heads_speed.json").write_text(json.dumps(res, indent=1), encoding="utf-8"); print("wrote", OUT / "heads_speed.json")


if __name__ == "__main__":
    main()
