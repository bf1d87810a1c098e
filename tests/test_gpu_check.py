"""`make gpu-check` (tests/gpu_check.py) in CI: on the CPU it must pass every check it can run and skip, naming the GPU it
lacks, every check that needs one; a failing check is reported and the others still run.

Hand-written (not generated from a notebook) because it drives a script.
"""
import importlib.util, json, os, subprocess, sys
from pathlib import Path

SCRIPT = Path(__file__).with_name("gpu_check.py")
ON_CPU = {"environment": "PASS", "cuda_tests": "SKIP", "compile_bf16_gan": "PASS", "resume_on_device": "PASS",
          "svq_train_stage1_then_2": "PASS", "svq_sample_and_evaluate": "PASS", "flash_attention": "SKIP",
          "paper_preset_memory_and_speed": "SKIP", "gpu_preset_speed": "SKIP", "nccl_torchrun": "SKIP"}


def test_gpu_check_on_the_cpu(tmp_path):
    out = tmp_path / "gpu-check.json"
    r = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--out", str(out)], capture_output=True, text=True,
                       timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    s = json.loads(out.read_text())
    assert {c["name"]: c["status"] for c in s["checks"]} == ON_CPU, r.stdout
    assert s["counts"] == {"PASS": 5, "FAIL": 0, "SKIP": 5} and s["device"] == "cpu"
    for c in s["checks"]:
        assert c["what"] and c["seconds"] >= 0
        if c["status"] == "SKIP": assert "needs" in c["reason"] and "GPU" in c["reason"], c
        else: assert c["details"], c
    for name, status in ON_CPU.items(): assert any(l.startswith(status) and name in l for l in r.stdout.splitlines()), name
    assert "5 passed, 0 failed, 5 skipped" in r.stdout


def load_script():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    gc = importlib.util.module_from_spec(spec); spec.loader.exec_module(gc)
    return gc


def test_a_failing_check_is_reported_and_the_others_run(tmp_path, monkeypatch, capsys):
    gc = load_script()
    def broken(ctx):
        "Always fails."
        raise ValueError("boom")
    def fine(ctx):
        "Always passes."
        return {"ok": 1}
    monkeypatch.setattr(gc, "CHECKS", [("broken", broken, 0), ("fine", fine, 0), ("eight_gpus", fine, 8)])
    assert gc.main(["--device", "cpu", "--out", str(tmp_path / "s.json")]) == 1
    s = json.loads((tmp_path / "s.json").read_text())
    assert [(c["name"], c["status"]) for c in s["checks"]] == [("broken", "FAIL"), ("fine", "PASS"), ("eight_gpus", "SKIP")]
    assert s["checks"][0]["error"] == "ValueError: boom" and "Traceback" in s["checks"][0]["traceback"]
    assert "1 passed, 1 failed, 1 skipped" in capsys.readouterr().out


def test_the_preset_runs_work_at_test_size(tmp_path):
    "The code of the GPU-only preset checks (paper, gpu), run on the CPU at the `test` preset's size: no peak memory there."
    gc = load_script()
    out = gc.preset_steps(gc.Context("cpu", tmp_path), "test", steps=2)
    assert set(out) == {"stage1", "stage2"}
    for part in out.values():
        assert part["sec_per_step"] > 0 and part["peak_GiB"] is None and (part["precision"], part["compile"]) == ("fp32", False)
    assert (out["stage1"]["batch"], out["stage2"]["batch"]) == (4, 8)
