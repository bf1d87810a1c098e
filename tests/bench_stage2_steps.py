"""How far more Transformer steps take the shipped systems: the `--long` Transformer (16x16 tokens, 2 heads of 64, the
demo's stage-2 recipe, at `--lr`) trained from scratch for `--steps` steps, its learning rate decayed over all of them, on the
tokens of the shipped systems' stage 1 (the same 40,000 training scenes as `make pretrained`).

Along the way, at every eighth of the steps: validation loss (nats per image code) on 128 validation scenes, and the
semantic consistency (the robust judge's mIoU) of one sample per validation map, sampling seed 0, temperature 1 (what
`make demo` reports), together with the CPU-seconds spent training. One single-threaded process per system, both at
once. Writes nbs/bench_results/steps2_16x16_<steps>.json (`_L<layers>_W<width>` added for other shapes, `_lr<lr>` for
another peak learning rate than 1e-3, the rate of the stored runs; `make pretrained` now trains at 4e-3, which these runs chose); a system already in that file and not run again keeps its entry. About 50 minutes on 2 cores at the default 3200 steps (about what
`make pretrained` could give each Transformer within 90 minutes, now that it takes 66 with 2000); `--quick` runs every
path in a minute (numbers meaningless).

A point inside a longer schedule is not the end of a shorter one: at step 2000 of a 3200-step schedule the learning rate
is still high, which by itself lowers the curve there against a 2000-step run's end (in the stored run a training seed
moved it more: it read 0.371 and 0.366 at step 2000, the shipped 2000-step runs 0.345 and 0.356). Compare the ends, and
read the curve for its slope.

`--picture DIR` reads every Transformer kept by `--save DIR` (a `--quick` run's too, so keep those elsewhere) and writes, beside the shipped ones', their per-class IoU on
the 128 validation maps (sampling seed 0; with the stage-1 reconstructions' as the ceiling) to
nbs/bench_results/steps2_perclass.json and a grid of their samples to steps2_samples.png.

`--layers` and `--width` change the Transformer's depth and width (heads keep 64 channels each) to ask whether capacity,
not steps, is what the samples lack; `--save DIR` keeps each final Transformer's weights there (outside the repository),
for pictures. The final point is scored with sampling seeds 0 and 1. The stored twice-the-compute runs were
`--systems VQGAN-T --save DIR` with `--steps 6400`, and with `--layers 8` (about 110 minutes together on 2 cores); then
`--systems "sVQGAN-T (ref-free)" --steps 6400 --save DIR` (its entry joins VQGAN-T's in steps2_16x16_6400.json) beside
`--systems VQGAN-T --lr 2e-3` followed by `--lr 4e-3` on the other core (about 120 minutes).
"""
import argparse, json, re, tempfile, time
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path

import torch

OUT = Path(__file__).resolve().parent.parent / "nbs" / "bench_results"
KEPT = re.compile(r"(.+)_L(\d+)_W(\d+)_(\d+)\.pt")      # the file name `kept_name` writes and `picture` reads


def kept_name(name: str, layers: int, width: int, steps: int) -> str:
    return f"{name.replace(' ', '_')}_L{layers}_W{width}_{steps}.pt"


def shaped(config, layers: int, width: int):
    "The shipped Transformer's configuration with `layers` layers of `width` channels, in heads of 64, without the empty condition."
    return replace(config, n_layer=layers, n_embd=width, n_head=width // 64, null_cond=False)


def plain(s):
    "`s` sampling plainly by default: the Transformers trained here know no empty condition (no guidance phase)."
    s.cfg = replace(s.cfg.unguided(), gpt_top_k=0)
    return s


def job(args):
    name, steps, n_tokens, n_val, every, layers, width, save, lr = args
    torch.set_num_threads(1)
    from svq_nb.data import SynthScenes
    from svq_nb.demo import DemoConfig, stage_configs, first_scenes
    from svq_nb.metrics import load_segnet, semantic_consistency
    from svq_nb.synthesis import encode_dataset, pretrained
    from svq_nb.transformer import CondGPT
    from svq_nb.training import FitHooks, train_stage2
    s = plain(pretrained(name).eval())
    demo = DemoConfig.long()
    cond, x = encode_dataset(s, first_scenes(SynthScenes(demo.n_train, size=demo.size, split="train", seed=demo.seed), n_tokens))
    val = SynthScenes(n_val, size=demo.size, split="val", seed=0).tensors()
    vc, vx = s.tokens(*val)
    judge = load_segnet()
    torch.manual_seed(0)
    s.gpt = CondGPT(shaped(s.gpt.config, layers, width))
    s2 = replace(stage_configs(replace(demo, steps2=steps, lr2=lr))[1], log_every=every)
    curve, cpu = [], {"train": 0.0, "t": time.process_time()}

    def score(row):
        if row["step"] % every and row["step"] != steps: return
        cpu["train"] += time.process_time() - cpu["t"]
        s.gpt.eval()
        with torch.no_grad():
            nll = s.gpt.loss(vc, vx).item()
            sc = semantic_consistency(judge, s.synthesize(val[1], seed=0)[:, 0], val[1])
            sc1 = semantic_consistency(judge, s.synthesize(val[1], seed=1)[:, 0], val[1]) if row["step"] == steps else None
        s.gpt.train()
        curve.append({"step": row["step"], "train_cpu_s": cpu["train"], "train loss": row["loss"], "val NLL": nll, "SC": sc,
                      **({"SC seed 1": sc1} if sc1 is not None else {})})
        print(f"{name:20s} step {row['step']:5d}  {cpu['train']:6.0f} cpu-s  val NLL {nll:.3f}  SC {sc:.3f}", flush=True)
        cpu["t"] = time.process_time()

    train_stage2(s.gpt, cond, x, s2, hooks=FitHooks(on_log=score))
    if save:
        Path(save).mkdir(parents=True, exist_ok=True)
        torch.save(s.gpt.state_dict(), Path(save) / kept_name(name, layers, width, steps))
    c = s.gpt.config
    return name, {"steps": steps, "n_tokens": n_tokens, "n_val": n_val, "precision": s2.precision, "lr": s2.lr, "heads": c.n_head, "layers": c.n_layer,
                  "width": c.n_embd, "params": sum(p.numel() for p in s.gpt.parameters()), "curve": curve}


def picture(folder: Path, quick: bool = False):
    "Per-class IoU and a sample grid of the Transformers kept in `folder`, next to the shipped ones."
    import matplotlib; matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from svq_nb.data import SynthScenes, SYNTH_CLASSES, colorize, to_uint8
    from svq_nb.demo import DemoConfig
    from svq_nb.metrics import load_segnet, segnet_confusion, SYNTH_LARGE_CLASSES
    from svq_nb.synthesis import pretrained
    from svq_nb.transformer import CondGPT
    torch.set_num_threads(2)
    kept = sorted(folder.glob("*.pt"))
    if not kept: raise SystemExit(f"{folder}: no Transformer weights (*.pt, written by --save) in it")
    n_val = 8 if quick else 128
    x, y = SynthScenes(n_val, size=DemoConfig.long().size, split="val", seed=0).tensors()
    judge, rows, pics = load_segnet(), {}, {}
    iou = lambda imgs: segnet_confusion(judge, imgs, y).iou()       # [classes], NaN where a class is absent
    rows["real images"] = iou(x)
    for f in kept:
        m = KEPT.fullmatch(f.name)
        if not m: raise SystemExit(f"{f}: expected <system>_L<layers>_W<width>_<steps>.pt, as --save writes")
        name, layers, width, steps = m[1].replace("_", " "), int(m[2]), int(m[3]), int(m[4])
        s = pretrained(name).eval()
        if f"{name} · reconstruction" not in rows:
            pics[f"{name} · reconstruction"] = rec = s.reconstruct(x, y)["image"]
            rows[f"{name} · reconstruction"] = iou(rec)
            shipped = f"{name} · shipped (4 layers, {s.cfg.gpt_guidance:g}x guided" + (f", top-k {s.cfg.gpt_top_k})" if s.cfg.gpt_top_k else ")")
            pics[shipped] = smp = s.synthesize(y, seed=0)[:, 0]
            rows[shipped] = iou(smp)
        plain(s)
        s.gpt = CondGPT(shaped(s.gpt.config, layers, width))
        s.gpt.load_state_dict(torch.load(f, map_location="cpu", weights_only=True)); s.gpt.eval()
        key = f"{name} · {layers} layers of {width}, {steps} steps"
        pics[key] = smp = s.synthesize(y, seed=0)[:, 0]
        rows[key] = iou(smp)
    large = [SYNTH_CLASSES.index(c) for c in SYNTH_LARGE_CLASSES]
    summary = {k: {"mIoU": float(r.nanmean()), "large classes mIoU": float(r[large].nanmean())} for k, r in rows.items()}
    out = {"n_val": n_val, "sampling seed": 0, "classes": SYNTH_CLASSES,
           "IoU": {k: [None if v != v else round(v, 4) for v in r.tolist()] for k, r in rows.items()}, "summary": summary}
    for k, v in summary.items(): print(f"{k:55s} mIoU {v['mIoU']:.3f}  large classes {v['large classes mIoU']:.3f}")
    n = 6
    cols = [("map", [colorize(y[i]) for i in range(n)]), ("ground truth", [to_uint8(x[i]) for i in range(n)])]
    cols += [(k.replace(" · ", "\n"), [to_uint8(v[i]) for i in range(n)]) for k, v in pics.items()]
    fig, axs = plt.subplots(n, len(cols), figsize=(1.45 * len(cols), 1.45 * n + 0.5))
    for j, (title, tiles) in enumerate(cols):
        axs[0, j].set_title(title, fontsize=6.5)
        for i in range(n):
            axs[i, j].imshow(tiles[i], interpolation="nearest"); axs[i, j].set_axis_off()
    fig.tight_layout(pad=0.3)
    dest = Path(tempfile.mkdtemp()) if quick else OUT     # --quick: every path, nothing in the repository
    (dest / "steps2_perclass.json").write_text(json.dumps(out, indent=1), encoding="utf-8")
    fig.savefig(dest / "steps2_samples.png", dpi=110); print("wrote", dest / "steps2_perclass.json", dest / "steps2_samples.png")
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=3200)
    p.add_argument("--systems", default="VQGAN-T,sVQGAN-T (ref-free)", help="comma-separated names of shipped systems")
    p.add_argument("--layers", type=int, default=4, help="Transformer layers (the shipped ones have 4)")
    p.add_argument("--width", type=int, default=128, help="Transformer width, in heads of 64 (the shipped ones: 128)")
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default 1e-3: the stored runs' rate; the file name says any other)")
    p.add_argument("--save", default="", help="folder for the final Transformers' weights (default: not kept)")
    p.add_argument("--picture", default="", help="folder of kept weights: write their per-class IoU and sample grid, train nothing")
    p.add_argument("--quick", action="store_true")
    a = p.parse_args()
    if a.width < 64 or a.width % 64: p.error(f"--width {a.width}: expected a multiple of 64 (heads of 64 channels)")
    if not a.lr > 0: p.error(f"--lr {a.lr}: expected a positive learning rate")
    if a.picture: return picture(Path(a.picture), a.quick)
    steps, n_tokens, n_val = (8, 64, 8) if a.quick else (a.steps, 40_000, 128)
    jobs = [(n, steps, n_tokens, n_val, max(1, steps // 8), a.layers, a.width, a.save, a.lr) for n in a.systems.split(",")]
    with get_context("spawn").Pool(len(jobs)) as pool: results = dict(pool.map(job, jobs, chunksize=1))
    if not a.quick:
        shape = "" if (a.layers, a.width) == (4, 128) else f"_L{a.layers}_W{a.width}"
        out = OUT / f"steps2_16x16_{steps}{shape}{f'_lr{a.lr:g}' if a.lr != 1e-3 else ''}.json"
        old = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}     # other systems' runs of the same shape stay
        out.write_text(json.dumps({**old, **results}, indent=1), encoding="utf-8"); print("wrote", out)


if __name__ == "__main__":
    main()
