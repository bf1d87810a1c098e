"""`make gpu-check`: the first thing to run on a GPU machine, about 5 minutes on one GPU (never measured: no GPU has been
lent to this project yet).

Each check prints PASS, FAIL or SKIP on one line and the script goes on after a failure; a JSON summary (the environment,
every check's status, time, details or error) goes to --out. On a CPU it runs what it can at tiny sizes (compile with the
aot_eager backend, the `svq` commands on the CPU) and says what it skipped and why; `make test` runs it that way
(tests/test_gpu_check.py). Exit code 1 when a check failed.

    python tests/gpu_check.py [--out runs/gpu-check.json] [--device auto|cpu|cuda]

Hand-written, not generated from a notebook: it drives the library as a user would, across notebooks.
"""
from __future__ import annotations
import argparse, contextlib, datetime, gc, io, json, os, platform, re, socket, subprocess, sys, tempfile, time, traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("CI", "1")                      # no progress bars in the output


class Skip(Exception):
    "A check that cannot run here (the reason is its message)."


CHECKS = []

def check(gpus: int = 0):
    "Register a check; `gpus`: how many GPUs it needs (0: it runs on a CPU too)."
    def register(fn):
        CHECKS.append((fn.__name__, fn, gpus))
        return fn
    return register


class Context:
    "What every check needs: the device, the compile backend and precision for it, a scratch folder."
    def __init__(self, device: str, tmp: Path):
        import torch
        from svq_nb.training import pick_device, pick_precision
        self.device = pick_device(device)
        self.gpu = self.device.type == "cuda"
        self.n_gpus = torch.cuda.device_count() if self.gpu else 0
        self.backend = "inductor" if self.gpu else "aot_eager"    # inductor on a CPU compiles for minutes: aot_eager checks the same graphs
        self.precision = pick_precision("auto", self.device) if self.gpu else "bf16"   # the CPU check: bf16 autocast at tiny size
        self.tmp = tmp

    def fresh(self) -> None:
        "Between checks: compiled graphs, cached GPU memory and the peak-memory counter start afresh."
        import torch
        torch._dynamo.reset()
        gc.collect()
        if self.gpu: torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats()


def svq(*argv: str) -> str:
    "Run an `svq` command in this process; its output, or CLIError-style failure with that output."
    from svq_nb.cli import main
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out): code = main(list(argv))
    if code != 0: raise RuntimeError(f"svq {' '.join(argv)} exited with {code}: {out.getvalue()[-2000:]}")
    return out.getvalue()


def synthetic(n: int, size: int, n_classes: int, seed: int = 0):
    "Random (images, labels) tensors: enough for memory and speed, which do not depend on the pictures."
    import torch
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=g) * 2 - 1, torch.randint(0, n_classes, (n, size, size), generator=g)


def timed_steps(hist: list[dict]) -> float:
    "Seconds per step after the first (which compiles), from a history logged at every step."
    rows = hist[1:] or hist
    return sum(r["sec_per_step"] for r in rows) / len(rows)


# --- the checks, in the order they run -------------------------------------------------------------------------------------
@check()
def environment(ctx: Context) -> dict:
    "The GPU(s), torch and CUDA versions, bf16 support, and the offline weights (LPIPS, FID Inception)."
    import torch
    from svq_nb.training import cpu_has_bf16
    from svq_nb.weights import weights_status
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    info = {"host": socket.gethostname(), "python": platform.python_version(), "torch": torch.__version__,
            "cuda_build": torch.version.cuda, "svq_nb_commit": commit or "?", "device": str(ctx.device),
            "cpu_count": os.cpu_count(), "cpu_bf16": cpu_has_bf16(), "weights": weights_status()}
    if ctx.gpu:
        info.update(gpus=[f"{torch.cuda.get_device_name(i)}, {torch.cuda.get_device_properties(i).total_memory / 2**30:.0f} GiB"
                          for i in range(ctx.n_gpus)], gpu_bf16=torch.cuda.is_bf16_supported(), cudnn=torch.backends.cudnn.version(),
                    capability=".".join(map(str, torch.cuda.get_device_capability())))
    missing = [k for k, v in info["weights"].items() if v.startswith("missing")]
    if missing: raise RuntimeError(f"offline weights missing: {', '.join(missing)} ({info['weights']})")
    return info


@check(gpus=1)
def cuda_tests(ctx: Context) -> dict:
    "The `#| cuda` notebook tests, through their generated pytest functions (pytest tests/ --cuda -m cuda)."
    r = subprocess.run([sys.executable, "-m", "pytest", "tests/", "--cuda", "-m", "cuda", "-q", "-p", "no:cacheprovider"],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    last = (r.stdout.strip().splitlines() or [""])[-1]
    if r.returncode != 0: raise RuntimeError(f"pytest --cuda: {last}\n{r.stdout[-3000:]}{r.stderr[-1000:]}")
    if "skipped" in last and "passed" not in last: raise RuntimeError(f"every cuda test skipped: {last}")
    return {"pytest": last}


@check()
def compile_bf16_gan(ctx: Context) -> dict:
    """Both stages compiled as the presets compile them (stage 1's encoders and decoders, the whole GPT) under bf16 autocast
    with the discriminator on: one step's loss and gradients against eager (bf16 trajectories drift apart within a few Adam
    steps, compiled or not), then 4 compiled training steps: finite, the GAN on from step 2, no recompiles after step 1."""
    import torch
    from torch._dynamo.utils import counters
    from svq_nb.data import SynthScenes
    from svq_nb.modules import Encoder, Decoder
    from svq_nb.synthesis import tiny_system
    from svq_nb.training import TrainConfig, FitHooks, compiled, stage1_losses, train_stage1, train_stage2
    from svq_nb.transformer import GPTConfig, CondGPT
    dev, bf16 = ctx.device, ctx.precision == "bf16"
    data = SynthScenes(16, size=32).tensors()
    g = torch.Generator().manual_seed(0)
    cond, x = torch.randint(0, 32, (64, 16), generator=g), torch.randint(0, 32, (64, 16), generator=g)
    out = {"backend": ctx.backend, "precision": ctx.precision}
    def one_step(name, modules, params, loss_of):
        "Loss and gradients of one step, eager then compiled: they must agree to bf16's precision."
        res = []
        for backend in (False, ctx.backend):
            ctx.fresh()
            for p in params: p.grad = None
            with compiled(modules, backend), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16): loss = loss_of()
            loss.backward()
            res.append((loss.item(), torch.cat([p.grad.flatten().float() for p in params if p.grad is not None])))
        (l0, g0), (l1, g1) = res
        cos = torch.nn.functional.cosine_similarity(g0, g1, dim=0).item()
        out[f"{name}_one_step"] = {"loss_eager": l0, "loss_compiled": l1, "grad_cosine": cos}
        if abs(l0 - l1) > 1e-2 * max(1.0, abs(l0)) or cos < 0.99: raise RuntimeError(f"{name}: compiled step differs from eager: {out[f'{name}_one_step']}")
    torch.manual_seed(0)
    _, model, loss = tiny_system("sVQGAN-T", 17, size=32, disc_start=0, disc_warmup=0).stage1_parts()[0]
    model.to(dev).train(); loss.to(dev).train()
    batch = {"image": data[0][:4].to(dev), "label": data[1][:4].to(dev)}
    one_step("stage1", [m for m in model.modules() if isinstance(m, (Encoder, Decoder))], list(model.parameters()),
             lambda: stage1_losses(model, loss, batch, step=1)[0])
    torch.manual_seed(0)
    gpt = CondGPT(GPTConfig.tiny(32, 32, 16, 16)).to(dev)
    one_step("stage2", [gpt], list(gpt.parameters()), lambda: gpt.loss(cond[:16].to(dev), x[:16].to(dev), check=False))
    graphs = lambda: counters["stats"]["unique_graphs"]
    for name in ("stage1", "stage2"):
        ctx.fresh()
        seen = []
        hooks = FitHooks(on_log=lambda row: seen.append(graphs()))
        cfg = TrainConfig(steps=4, batch_size=4 if name == "stage1" else 16, lr=1e-3, log_every=1, progress=False, device=str(dev),
                          precision=ctx.precision, compile=ctx.backend)
        if name == "stage1":
            _, model, loss = tiny_system("sVQGAN-T", 17, size=32, disc_start=1, disc_warmup=0).stage1_parts()[0]
            hist = train_stage1(model, loss, data, cfg, hooks=hooks)
            if not hist[-1]["x_d_weight"] > 0: raise RuntimeError("stage 1: the discriminator never switched on")
        else: hist = train_stage2(CondGPT(GPTConfig.tiny(32, 32, 16, 16)), cond, x, cfg, pkeep=0.5, hooks=hooks)
        out[f"{name}_graphs_after_each_step"] = seen
        out[f"{name}_losses"] = [round(r["loss"], 4) for r in hist]
        if len(set(seen)) != 1: raise RuntimeError(f"{name}: recompiled after the first step (graphs after each step: {seen})")
        if any(r["nonfinite"] for r in hist): raise RuntimeError(f"{name}: non-finite steps {[r['nonfinite'] for r in hist]}")
    return out


@check()
def resume_on_device(ctx: Context) -> dict:
    "A stage-1 run (the `test` preset's sVQGAN-T: GAN, dead-code restarts) and a stage-2 run (pkeep 0.5) stopped and resumed on the device."
    import torch
    from svq_nb.cli import PRESETS, system_config
    from svq_nb.data import SynthScenes
    from svq_nb.synthesis import System
    from svq_nb.training import TrainConfig, train_stage1, train_stage2
    from svq_nb.transformer import GPTConfig, CondGPT
    ctx.fresh()
    data = SynthScenes(16, size=32).tensors()
    out = {}
    def compare(name, full: dict, resumed: dict):
        diffs = [(k, (a.float() - resumed[k].float()).abs().max().item()) for k, a in full.items() if a.is_floating_point()]
        k, worst = max(diffs, key=lambda d: d[1])
        out[f"{name}_max_weight_difference"] = worst
        limit = 0.0 if not ctx.gpu else 1e-2           # a GPU: cuDNN autotuning may pick other algorithms after a restart
        if worst > limit: raise RuntimeError(f"{name}: the resumed run differs from the uninterrupted one ({k}: {worst:.3g})")
    def stage1(folder, steps, resume=False):
        _, model, loss = System(system_config(PRESETS["test"], "sVQGAN-T", 17)).stage1_parts()[0]
        cfg = TrainConfig(steps=steps, batch_size=4, lr=1e-3, log_every=1, progress=False, device=str(ctx.device), ckpt_dir=str(folder))
        train_stage1(model, loss, data, cfg, resume=resume)
        return model.state_dict()
    compare("stage1", stage1(ctx.tmp / "r1a", 6), (stage1(ctx.tmp / "r1b", 3), stage1(ctx.tmp / "r1b", 6, resume=True))[1])
    g = torch.Generator().manual_seed(0)
    cond, x = torch.randint(0, 16, (64, 16), generator=g), torch.randint(0, 16, (64, 16), generator=g)
    def stage2(folder, steps, resume=False):
        torch.manual_seed(0)
        gpt = CondGPT(GPTConfig.tiny())
        cfg = TrainConfig(steps=steps, batch_size=16, lr=1e-3, log_every=1, progress=False, device=str(ctx.device), ckpt_dir=str(folder))
        train_stage2(gpt, cond, x, cfg, pkeep=0.5, resume=resume)
        return gpt.state_dict()
    compare("stage2", stage2(ctx.tmp / "r2a", 4), (stage2(ctx.tmp / "r2b", 2), stage2(ctx.tmp / "r2b", 4, resume=True))[1])
    return out


@check()
def svq_train_stage1_then_2(ctx: Context) -> dict:
    "`svq train` with the `test` preset on the device: --stage 1, then --stage 2 (tokens, the Transformer, system.pt)."
    ctx.fresh()
    run = ctx.tmp / "run"
    args = ["train", str(run), "--system", "sVQGAN-T", "--data", "synth:16", "--preset", "test", "--device", ctx.device.type]
    t0 = time.perf_counter()
    log1, log2 = svq(*args, "--stage", "1"), svq(*args, "--stage", "2")
    if not (run / "system.pt").is_file(): raise RuntimeError(f"no system.pt after --stage 2:\n{log2[-2000:]}")
    where = re.findall(r"at batch \d+ on (\S+)", log1 + log2)
    if not where or any(not w.startswith(ctx.device.type) for w in where): raise RuntimeError(f"trained on {where}, not {ctx.device}")
    return {"seconds": round(time.perf_counter() - t0, 1), "trained_on": sorted(set(where)), "tokens": sorted(p.name for p in (run / "tokens").iterdir())}


@check()
def svq_sample_and_evaluate(ctx: Context) -> dict:
    "`svq sample` and `svq evaluate` (FID on a GPU) of the run trained by the previous check, on the device."
    ctx.fresh()
    run = ctx.tmp / "run"
    if not (run / "system.pt").is_file(): raise Skip("needs the run of svq_train_stage1_then_2, which failed")
    svq("sample", str(run), "--data", "synth:4", "--out", str(ctx.tmp / "samples"), "--maps", "2", "--samples-per-map", "2",
        "--device", ctx.device.type)
    pngs = sorted(p.name for p in (ctx.tmp / "samples").iterdir())
    if len(pngs) != 2: raise RuntimeError(f"svq sample wrote {pngs}")
    fid = [] if ctx.gpu else ["--no-fid"]
    svq("evaluate", str(run), "--data", "synth:8", "--out", str(ctx.tmp / "tables"), "--batch-size", "4", "--segnet-steps", "2",
        "--segnet-n", "8", "--device", ctx.device.type, *fid)
    t1 = json.loads((ctx.tmp / "tables" / "table1.json").read_text())
    return {"samples": pngs, "table1": {f"{r['metric']}": r["value"] for r in t1["results"]}}


@check(gpus=1)
def flash_attention(ctx: Context) -> dict:
    "The GPT's training forward and backward on the flash-attention kernel (bf16, head size 64), against the math kernel."
    import torch
    from torch.nn.attention import sdpa_kernel, SDPBackend
    from svq_nb.transformer import GPTConfig, CondGPT
    ctx.fresh(); torch.manual_seed(0)
    if not torch.cuda.is_bf16_supported(): raise Skip("this GPU has no bf16: the flash kernel needs bf16 or fp16")
    gpt = CondGPT(GPTConfig.paper(n_layer=2)).to(ctx.device)
    g = torch.Generator(device=ctx.device).manual_seed(0)
    cond = torch.randint(0, 4096, (8, 256), device=ctx.device, generator=g)
    x = torch.randint(0, 16384, (8, 256), device=ctx.device, generator=g)
    losses = {}
    for name, kernel in (("flash", SDPBackend.FLASH_ATTENTION), ("math", SDPBackend.MATH)):
        gpt.zero_grad()
        with sdpa_kernel(kernel), torch.autocast(ctx.device.type, dtype=torch.bfloat16):
            loss = gpt.loss(cond, x, check=False)
        loss.backward()
        losses[name] = loss.item()
    if abs(losses["flash"] - losses["math"]) > 1e-2 * abs(losses["math"]): raise RuntimeError(f"flash {losses['flash']} vs math {losses['math']}")
    return losses


def preset_steps(ctx: Context, name: str, steps: int) -> dict:
    """`steps` training steps of each stage at preset `name`'s sizes, batches, precision and compile, on random data: sVQGAN-T's
    stage 1 with the GAN on from the first step (LPIPS VGG, discriminator), then the GPT. Per stage: batch, precision,
    compile, peak GPU memory, seconds per step after the first (which compiles), the first step's seconds."""
    import torch
    from dataclasses import replace
    from svq_nb.cli import PRESETS, system_config, train_configs
    from svq_nb.synthesis import System
    from svq_nb.training import train_stage1, train_stage2
    p = PRESETS[name]
    s1, s2 = (replace(c, log_every=1, progress=False) for c in train_configs(p, steps1=steps, steps2=steps, device=str(ctx.device)))
    ctx.fresh()
    system = System(system_config(p, "sVQGAN-T", 243))
    _, model, loss = system.stage1_parts()[0]
    loss.image_loss.disc_start = 0                                         # the GAN on from the first step
    def stats(cfg, hist):
        return {"batch": cfg.batch_size, "precision": cfg.precision, "compile": cfg.compile, "sec_per_step": round(timed_steps(hist), 3),
                "first_step_s": round(hist[0]["sec_per_step"], 1),
                "peak_GiB": round(torch.cuda.max_memory_allocated() / 2**30, 2) if ctx.gpu else None}
    out = {"stage1": stats(s1, train_stage1(model, loss, synthetic(2 * s1.batch_size, p.resolution, 243), s1))}
    del model, loss
    system.vq.cpu(); ctx.fresh()
    c, g = system.gpt.config, torch.Generator().manual_seed(0)
    tokens = (torch.randint(0, c.n_cond_vocab, (2 * s2.batch_size, c.n_cond), generator=g), torch.randint(0, c.n_vocab, (2 * s2.batch_size, c.n_tokens), generator=g))
    out["stage2"] = stats(s2, train_stage2(system.gpt, *tokens, s2))
    return out


@check(gpus=1)
def paper_preset_memory_and_speed(ctx: Context) -> dict:
    """The `paper` preset's sizes: sVQGAN-T stage 1 at batch 12 with the GAN on and the 24-layer GPT at batch 32, compiled
    in the preset's precision (bf16 where the GPU has it): peak GPU memory and seconds per step."""
    return preset_steps(ctx, "paper", steps=3)


@check(gpus=1)
def gpu_preset_speed(ctx: Context) -> dict:
    "The `gpu` preset: stage-1 (sVQGAN-T, GAN on) and stage-2 steps per second at its batches (32, 64), compiled, after the compiling step."
    out = preset_steps(ctx, "gpu", steps=6)
    for part in out.values(): part["steps_per_s"] = round(1 / part["sec_per_step"], 2)
    return out


@check(gpus=2)
def nccl_torchrun(ctx: Context) -> dict:
    "`svq train` (test preset, both stages) and `svq evaluate` under torchrun on 2 GPUs (NCCL)."
    def torchrun(*argv):
        with socket.socket() as s: s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(port),
                            "-m", "svq_nb.cli", *argv], cwd=ROOT, capture_output=True, text=True, timeout=600)
        if r.returncode != 0: raise RuntimeError(f"torchrun svq {argv[0]} exited with {r.returncode}: {r.stderr[-3000:]}")
        return r.stdout
    run = ctx.tmp / "ddp"
    t0 = time.perf_counter()
    log = torchrun("train", str(run), "--system", "sVQGAN-T", "--data", "synth:64", "--preset", "test", "--device", "cuda")
    if "on cuda:0" not in log or not (run / "system.pt").is_file(): raise RuntimeError(f"no system.pt or not on cuda:0:\n{log[-2000:]}")
    log = torchrun("evaluate", str(run), "--data", "synth:16", "--out", str(ctx.tmp / "ddp_tables"), "--batch-size", "4",
                   "--segnet-steps", "2", "--segnet-n", "8", "--device", "cuda")
    if "scored by 2 processes" not in log: raise RuntimeError(f"evaluate did not run on 2 processes:\n{log[-2000:]}")
    return {"seconds": round(time.perf_counter() - t0, 1)}


# --- driver ----------------------------------------------------------------------------------------------------------------
def run_checks(device: str = "auto", only: list[str] | None = None) -> dict:
    "Run every check (or those named in `only`), print one line each, return the summary."
    import torch
    results = []
    with tempfile.TemporaryDirectory() as d:
        ctx = Context(device, Path(d))
        print(f"svq_nb gpu-check on {ctx.device} ({ctx.n_gpus} GPU(s)), torch {torch.__version__}, compile backend {ctx.backend}", flush=True)
        for name, fn, gpus in CHECKS:
            if only and name not in only: continue
            t0, row = time.perf_counter(), {"name": name, "what": " ".join((fn.__doc__ or "").split())}
            try:
                if ctx.n_gpus < gpus: raise Skip(f"needs {gpus} GPU{'s' if gpus > 1 else ''}, this machine has {ctx.n_gpus}"
                                                 + ("" if ctx.gpu else " (running on the CPU)"))
                row.update(status="PASS", details=fn(ctx))
            except Skip as e: row.update(status="SKIP", reason=str(e))
            except Exception as e:
                row.update(status="FAIL", error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc()[-4000:])
            row["seconds"] = round(time.perf_counter() - t0, 1)
            note = row.get("reason") or row.get("error", "").splitlines()[0] if row["status"] != "PASS" else json.dumps(row["details"], default=str)
            print(f"{row['status']:4}  {name:<30} {row['seconds']:7.1f} s  {note[:300]}", flush=True)
            results.append(row)
            try: ctx.fresh()
            except Exception: pass
    count = {s: sum(r["status"] == s for r in results) for s in ("PASS", "FAIL", "SKIP")}
    return {"when": datetime.datetime.now().isoformat(timespec="seconds"), "device": str(ctx.device), "gpus": ctx.n_gpus,
            "counts": count, "checks": results}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="svq_nb's first five minutes on a GPU: PASS / FAIL / SKIP per check, a JSON summary.")
    p.add_argument("--out", default=str(ROOT / "runs" / "gpu-check.json"), help="where to write the JSON summary")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--only", nargs="*", help="run only these checks (names as printed)")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    summary = run_checks(a.device, a.only)
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    out = Path(a.out); out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
    c = summary["counts"]
    print(f"{c['PASS']} passed, {c['FAIL']} failed, {c['SKIP']} skipped in {summary['seconds']:.0f} s; summary in {out}")
    return 1 if c["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
