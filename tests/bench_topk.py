"""Sampling settings against semantic consistency: the shipped systems' samples at temperature 1 (what `make demo`
reports) and with top-k, top-p, a lower temperature or greedy decoding.

For each setting: SC (the robust judge's mIoU on the samples), SSIM against the ground truth, and diversity, the mean
LPIPS between the samples of two sampling seeds for the same map (0 for greedy decoding). 128 validation maps, seeds 0
and 1, one thread, the systems of `svq_nb.pretrained`. Writes nbs/bench_results/topk.json (`topk_8x8.json`: the same
run on the 8x8 systems that shipped before 90edc22); about 4 minutes at 8x8, 7 at 16x16.
`--quick` runs every path on 8 maps.
"""
import argparse, json
from pathlib import Path

import torch

from svq_nb.data import SynthScenes
from svq_nb.metrics import load_segnet, lpips, semantic_consistency, ssim
from svq_nb.synthesis import pretrained

SETTINGS = (("temperature 1 (the demo's)", {}), ("top-k 100", dict(top_k=100)), ("top-k 50", dict(top_k=50)),
            ("top-k 20", dict(top_k=20)), ("top-k 10", dict(top_k=10)), ("top-k 5", dict(top_k=5)),
            ("top-p 0.9", dict(top_p=0.9)), ("temperature 0.7", dict(temperature=0.7)), ("greedy", dict(greedy=True)))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(1)
    val = SynthScenes(8 if a.quick else 128, size=32, split="val", seed=0).tensors()
    judge, res = load_segnet(), {}
    for name in ("VQGAN-T", "sVQGAN-T (ref-free)"):
        s = pretrained(name).eval()
        for label, kw in SETTINGS[:2] if a.quick else SETTINGS:
            sc, ss, imgs = [], [], []
            for seed in (0, 1):
                with torch.no_grad(): x = s.synthesize(val[1], seed=seed, **kw)[:, 0]
                sc.append(semantic_consistency(judge, x, val[1])); ss.append(ssim(val[0], x).mean().item()); imgs.append(x)
            r = {"SC": sum(sc) / 2, "SSIM": sum(ss) / 2, "diversity": lpips(imgs[0], imgs[1], device="cpu").mean().item()}
            res.setdefault(name, {})[label] = r
            print(f"{name:20s} {label:27s} SC {r['SC']:.3f}  SSIM {r['SSIM']:.3f}  diversity {r['diversity']:.3f}", flush=True)
    if not a.quick:
        out = Path(__file__).resolve().parent.parent / "nbs" / "bench_results" / "topk.json"
        out.write_text(json.dumps(res, indent=1), encoding="utf-8"); print("wrote", out)


if __name__ == "__main__":
    main()
