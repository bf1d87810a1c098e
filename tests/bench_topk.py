"""Sampling settings against semantic consistency: the shipped systems' samples under temperature, top-k, top-p, greedy
decoding and classifier-free guidance (06_transformer).

For each setting: SC (the robust judge's mIoU on the samples), SSIM and LPIPS against the ground truth, and diversity, the
mean LPIPS between the samples of two sampling seeds for the same map (0 for greedy decoding). 128 validation maps, seeds 0
and 1, one thread, the systems of `svq_nb.pretrained`; every setting names its guidance scale (the shipped systems sample
at their own, `gpt_guidance` and `gpt_top_k`, by default). Writes nbs/bench_results/sampling_settings.json; the guidance settings need
systems that know the empty condition and are left out otherwise. Earlier runs: topk.json (the 16x16 systems shipped until
d94d371, no guidance), topk_8x8.json (the 8x8 ones shipped before 90edc22). About 15 minutes at 16x16 on one core.
`--quick` runs every path on 8 maps.

`--select` measures a grid (guidance 3 / 4 / 5 x top-k none / 50 / 20 / 10) on *selection scenes*, 128 validation maps of
another seed (1) than the ones the tables score, for each system and reference protocol (sVQGAN-T with its true and with
another image); writes nbs/bench_results/sampling_select.json (merged per row, so `--rows` can split the work between
processes). Each system's sampling setting is the one with the highest SC on these scenes under its main protocol.
"""
import argparse, json
from pathlib import Path

import torch

from svq_nb.data import SynthScenes
from svq_nb.metrics import load_segnet, lpips, semantic_consistency, ssim
from svq_nb.synthesis import pretrained, reference_images

PLAIN = dict(guidance=1.0, top_k=0)     # every setting names its guidance scale and top-k (the shipped systems' own: 3 and 20)
SETTINGS = (("temperature 1", PLAIN), ("top-k 20", dict(PLAIN, top_k=20)), ("top-k 5", dict(PLAIN, top_k=5)),
            ("top-p 0.9", dict(PLAIN, top_p=0.9)), ("temperature 0.7", dict(PLAIN, temperature=0.7)), ("greedy", dict(PLAIN, greedy=True)),
            ("guidance 0 (the empty condition)", dict(PLAIN, guidance=0.0)), ("guidance 1.5", dict(PLAIN, guidance=1.5)),
            ("guidance 2", dict(PLAIN, guidance=2.0)), ("guidance 3", dict(PLAIN, guidance=3.0)), ("guidance 4", dict(PLAIN, guidance=4.0)),
            ("guidance 5", dict(PLAIN, guidance=5.0)), ("guidance 3, top-k 20", dict(guidance=3.0, top_k=20)))
GRID = tuple((f"guidance {g:g}" + (f", top-k {k}" if k else ""), dict(guidance=float(g), top_k=k)) for g in (3, 4, 5) for k in (0, 50, 20, 10))
ROWS = {"VQGAN-T": ("VQGAN-T", "none"), "sVQGAN-T (true image)": ("sVQGAN-T", "ground_truth"),
        "sVQGAN-T (other image)": ("sVQGAN-T", "other"), "sVQGAN-T (ref-free)": ("sVQGAN-T (ref-free)", "none")}



def score_setting(s, val, judge, reference=None, **kw) -> dict:
    "SC, SSIM and LPIPS (means over sampling seeds 0 and 1) of `s`'s samples for `val`'s maps under `kw`, and their diversity."
    sc, ss, lp, imgs = [], [], [], []
    for seed in (0, 1):
        with torch.no_grad(): x = s.synthesize(val[1], reference=reference, seed=seed, **kw)[:, 0]
        sc.append(semantic_consistency(judge, x, val[1])); ss.append(ssim(val[0], x).mean().item())
        lp.append(lpips(val[0], x, device="cpu").mean().item()); imgs.append(x)
    return {"SC": sum(sc) / 2, "SSIM": sum(ss) / 2, "LPIPS": sum(lp) / 2, "diversity": lpips(imgs[0], imgs[1], device="cpu").mean().item()}


def select(a):
    "The --select grid: SC, SSIM, LPIPS and diversity of each setting on the selection scenes, per row."
    val = SynthScenes(8 if a.quick else 128, size=32, split="val", seed=1).tensors()
    judge = load_segnet()
    out = Path(__file__).resolve().parent.parent / "nbs" / "bench_results" / "sampling_select.json"
    for row in a.rows or ROWS:
        name, ref = ROWS[row]
        s, res = pretrained(name).eval(), {}
        refs = reference_images(val[0], ref, seed=0) if s.cfg.coupled else None
        for label, kw in GRID[::5] if a.quick else GRID:
            r = res[label] = score_setting(s, val, judge, refs, **kw)
            print(f"{row:24s} {label:24s} SC {r['SC']:.3f}  SSIM {r['SSIM']:.3f}  LPIPS {r['LPIPS']:.3f}  diversity {r['diversity']:.3f}", flush=True)
        best = max(res, key=lambda k: res[k]["SC"])
        print(f"{row}: best on the selection scenes: {best} (SC {res[best]['SC']:.3f})", flush=True)
        if not a.quick:
            done = json.loads(out.read_text(encoding="utf-8")) if out.is_file() else {}
            done[row] = res
            tmp = out.with_suffix(".tmp"); tmp.write_text(json.dumps(done, indent=1), encoding="utf-8"); tmp.replace(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--select", action="store_true", help="the guidance x top-k grid on the selection scenes")
    p.add_argument("--rows", nargs="*", choices=list(ROWS), help="with --select: these rows only")
    a = p.parse_args()
    torch.set_num_threads(1)
    if a.select: return select(a)
    val = SynthScenes(8 if a.quick else 128, size=32, split="val", seed=0).tensors()
    judge, res = load_segnet(), {}
    for name in ("VQGAN-T", "sVQGAN-T (ref-free)"):
        s = pretrained(name).eval()
        res.setdefault(name, {})["own guidance"] = s.cfg.gpt_guidance
        res[name]["own top-k"] = s.cfg.gpt_top_k
        for label, kw in SETTINGS[::6] if a.quick else SETTINGS:
            if kw["guidance"] != 1.0 and not s.gpt.config.null_cond:
                print(f"{name}: {label} left out (the system does not know the empty condition)"); continue
            r = res[name][label] = score_setting(s, val, judge, **kw)
            print(f"{name:20s} {label:33s} SC {r['SC']:.3f}  SSIM {r['SSIM']:.3f}  LPIPS {r['LPIPS']:.3f}  diversity {r['diversity']:.3f}", flush=True)
    if not a.quick:
        out = Path(__file__).resolve().parent.parent / "nbs" / "bench_results" / "sampling_settings.json"
        out.write_text(json.dumps(res, indent=1), encoding="utf-8"); print("wrote", out)


if __name__ == "__main__":
    main()
