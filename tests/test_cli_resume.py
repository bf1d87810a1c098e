"""Exact resume of `svq train`, proven on real processes: SIGKILL (and SIGTERM) a run in stage 1 and in stage 2, rerun the
same command, and the final weights are bit-identical (`torch.equal`) to those of a run that was never interrupted.

Hand-written (not generated from a notebook) because it spawns and kills subprocesses. The `test` preset keeps it to
seconds: 32 px, 4x4 latents, discriminator on from step 2 with a 2-step warm-up, dead-code restarts after 2 idle steps,
stage 2 with pkeep 0.5 (its corruption generator must be checkpointed too).
"""
import os, signal, subprocess, sys, time
from pathlib import Path

import pytest
import torch

from svq_nb.training import checkpoint_files, checkpoint_step, latest_checkpoint, load_checkpoint

ARGS = ["--system", "sVQGAN-T", "--data", "synth:16", "--preset", "test", "--steps1", "8", "--steps2", "8",
        "--pkeep", "0.5", "--device", "cpu"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def svq(*argv) -> list[str]: return [sys.executable, "-m", "svq_nb.cli", *argv]


def train_cmd(run: Path) -> list[str]: return svq("train", str(run), *ARGS)


def start_and_signal(run: Path, part: str, step: int, sig: int, timeout: float = 120) -> subprocess.CompletedProcess:
    "Start `svq train`, send `sig` as soon as `part` has a checkpoint at `step` or later, return the finished process."
    p = subprocess.Popen(train_cmd(run), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while True:
        files = checkpoint_files(run / "checkpoints" / part)
        if files and checkpoint_step(files[-1]) >= step: break
        if p.poll() is not None: raise AssertionError(f"svq train ended (rc {p.returncode}) before {part} step {step}:\n{p.stderr.read()}")
        if time.time() - t0 > timeout: p.kill(); raise AssertionError("timed out")
        time.sleep(0.02)
    os.kill(p.pid, sig)
    out, err = p.communicate(timeout=timeout)
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def weights(run: Path) -> dict:
    st = load_checkpoint(run / "system.pt")
    return st["state_dict"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    "A run that was never interrupted."
    run = tmp_path_factory.mktemp("ref") / "run"
    r = subprocess.run(train_cmd(run), env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return run


def test_sigkill_and_sigterm_resume_is_exact(reference, tmp_path):
    run = tmp_path / "run"
    r = start_and_signal(run, "vq", 3, signal.SIGKILL)                        # stage 1, discriminator warming up
    assert r.returncode == -signal.SIGKILL and not (run / "system.pt").exists()
    r = start_and_signal(run, "gpt", 2, signal.SIGTERM)                       # stage 2: finish the step, checkpoint, say how to resume
    assert r.returncode == 128 + signal.SIGTERM, r.stderr
    assert "Resume with the same command" in r.stderr and "resuming" in r.stdout
    stopped = checkpoint_step(latest_checkpoint(run / "checkpoints" / "gpt"))
    r = start_and_signal(run, "gpt", stopped + 1, signal.SIGKILL)             # stage 2 again, with pkeep < 1
    assert r.returncode == -signal.SIGKILL
    r = subprocess.run(train_cmd(run), env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    a, b = weights(reference), weights(run)
    assert a.keys() == b.keys()
    for k in a: assert torch.equal(a[k], b[k]), f"{k} differs from the uninterrupted run"
    # the stage-1 run really exercised the discriminator and dead-code restarts
    st = load_checkpoint(latest_checkpoint(run / "checkpoints" / "vq"))
    assert "disc" in st["modules"] and st["history"][-1]["d_loss"] != 0
    fresh = torch.Generator().manual_seed(0).get_state()
    gens = [v for k, v in st["runtime"]["model"].items() if k.endswith("_gen") and "quant" in k]
    assert gens and any(not torch.equal(g, fresh) for g in gens), "no dead-code restart happened"
    # metrics.jsonl holds each logged step once, in order, although steps were redone after the kills
    import json
    rows = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    for part in ("vq", "gpt"):
        steps = [r["step"] for r in rows if r["part"] == part]
        assert steps == sorted(set(steps)) and steps[-1] == 8, (part, steps)
    r = subprocess.run(train_cmd(run), env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "is finished" in r.stdout


class Evil:
    "Unpickling this runs code: it creates a file."
    def __init__(self, path): self.path = str(path)
    def __reduce__(self): return (open, (self.path, "w"))


def test_cli_refuses_pickled_objects(reference, tmp_path):
    import shutil
    run = tmp_path / "run"
    shutil.copytree(reference, run)
    (run / "system.pt").unlink()
    marker = tmp_path / "pwned"
    torch.save({"step": 8, "x": Evil(marker)}, run / "checkpoints" / "gpt" / "step-00000009.pt")
    r = subprocess.run(train_cmd(run), env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "could not be read safely" in r.stderr and "step-00000009.pt" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not marker.exists()
    torch.save({"format": "svq_nb.system/1", "x": Evil(marker)}, run / "system.pt")
    r = subprocess.run(svq("sample", str(run), "--data", "synth:2", "--out", str(tmp_path / "s")), env=ENV, capture_output=True, text=True)
    assert r.returncode == 2 and "could not be read safely" in r.stderr and not marker.exists(), r.stderr
