"""Hand-written integration test: the `svq_synth_scenes` console script (svq_nb.data.synth_scenes_cli) end to end."""
import os, subprocess, sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent


def run_cli(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    "Run the entry point through a script file like the one pip writes for `svq_synth_scenes`, in a fresh interpreter."
    script = tmp / "svq_synth_scenes_entry.py"
    script.write_text("import sys\nfrom svq_nb.data import synth_scenes_cli\n"
                      "if __name__ == '__main__':\n    sys.exit(synth_scenes_cli())\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


def test_cli_writes_paired_folder(tmp_path):
    out = tmp_path / "synth"
    res = run_cli(tmp_path, str(out), "--n", "3", "--size", "16", "--split", "val", "--seed", "7")
    assert res.returncode == 0, res.stderr
    assert "wrote 3 scenes" in res.stdout
    assert sorted(p.name for p in (out / "images").iterdir()) == ["000000.png", "000001.png", "000002.png"]
    assert sorted(p.name for p in (out / "labels").iterdir()) == ["000000.png", "000001.png", "000002.png"]
    assert (out / "classes.csv").read_text().splitlines()[:2] == ["id,name,r,g,b", "0,unlabeled,0,0,0"]
    from svq_nb.data import PairedFolder, SynthScenes
    ds = PairedFolder(out)
    x, y = SynthScenes(3, 16, "val", 7).tensors()
    assert len(ds) == 3 and ds.classes == SynthScenes.classes
    for i in range(3): assert torch.equal(ds[i]["label"], y[i])


def test_cli_help(tmp_path):
    res = run_cli(tmp_path, "--help")
    assert res.returncode == 0, res.stderr
    assert "--size" in res.stdout and "--split" in res.stdout and "PairedFolder" in res.stdout
