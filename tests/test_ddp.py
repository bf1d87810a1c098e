"""Data-parallel training on torch.distributed (gloo, CPU) is the same computation as one process with the same global batch.

Two real processes (RANK 0 and 1, as torchrun starts them) train the `test` preset's sVQGAN-T in float64 with a global batch of
4 (2 per rank): stage 1 with the discriminator on from step 2, image dropout 0.5 and dead-code restarts after 2 idle steps,
then stage 2 (the Transformer) with pkeep 0.5, warm-up, cosine decay and gradient clipping. A third process trains the same
with no process group. Every parameter, BatchNorm running statistic, codebook usage count and restart generator must match:
the two ranks exactly, the ranks and the single process within float64 rounding (the sums over ranks reorder additions).
Without the gradient all-reduce, or without the sharding, the parameters differ by far more than the tolerance.

Hand-written (not generated from a notebook) because it launches processes: tests/ddp_worker.py is one rank.
"""
import os, socket, subprocess, sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).with_name("ddp_worker.py")
STEPS, BATCH = 6, 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(out: Path, world: int) -> list[subprocess.Popen]:
    "Start `world` ranks of the worker (WORLD_SIZE=1: the single-process reference)."
    out.mkdir(parents=True, exist_ok=True)
    port = str(free_port())
    procs = []
    for rank in range(world):
        env = {**os.environ, "OMP_NUM_THREADS": "1", "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world),
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port}
        procs.append(subprocess.Popen([sys.executable, str(WORKER), str(out), str(STEPS), str(BATCH)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return procs


def flat(d: dict, pre: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict): out.update(flat(v, f"{pre}{k}."))
        elif isinstance(v, list): out.update({f"{pre}{k}.{i}": t for i, t in enumerate(v)})
        else: out[pre + k] = v
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("ddp")
    procs = launch(root / "one", 1) + launch(root / "two", 2)      # all three at once
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
    load = lambda p: torch.load(p, weights_only=True)
    return {"one": load(root / "one" / "rank0.pt"), "r0": load(root / "two" / "rank0.pt"), "r1": load(root / "two" / "rank1.pt")}


def test_two_ranks_equal_one_process(runs):
    one, r0, r1 = (flat(runs[k]["state"]) for k in ("one", "r0", "r1"))
    assert one.keys() == r0.keys() == r1.keys() and len(one) > 300
    for k in one:
        assert torch.equal(r0[k], r1[k]), f"{k}: the two ranks disagree"
        if one[k].is_floating_point():
            assert one[k].dtype == torch.float64, k
            assert torch.allclose(one[k], r0[k], rtol=1e-7, atol=1e-9), f"{k}: max diff {(one[k] - r0[k]).abs().max():.3g}"
        else: assert torch.equal(one[k], r0[k]), f"{k}: {one[k]} vs {r0[k]}"     # usage counts, ages, generator states


def test_the_run_exercised_what_must_be_reduced(runs):
    h = runs["one"]["history"]["vq"]
    assert [r["step"] for r in h] == list(range(1, STEPS + 1))
    assert h[-1]["d_loss"] != 0 and h[-1]["x_d_weight"] > 0          # discriminator and adaptive weight on
    fresh = torch.Generator().manual_seed(0).get_state()
    gens = runs["one"]["state"]["vq.restarts"]
    assert len(gens) == 2 and all(not torch.equal(g, fresh) for g in gens), "no dead-code restart in one of the two codebooks"
    # the logged numbers of the two processes are the global batch's too
    for a, b in zip(h, runs["r0"]["history"]["vq"]):
        for k in ("loss", "x_rec", "s_ce", "d_loss", "x_d_weight"): assert a[k] == pytest.approx(b[k], rel=1e-5), (a["step"], k)
    assert runs["one"]["history"]["gpt"][-1]["loss"] == pytest.approx(runs["r0"]["history"]["gpt"][-1]["loss"], rel=1e-9)


# --- the `svq` command under torchrun -------------------------------------------------------------------------------------
ARGS = ["--system", "sVQGAN-T", "--data", "synth:16", "--preset", "test", "--steps1", "4", "--steps2", "4", "--batch-size", "4",
        "--device", "cpu"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def svq(*argv) -> list[str]: return [sys.executable, "-m", "svq_nb.cli", *argv]


def torchrun(*argv) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port()),
            "-m", "svq_nb.cli", *argv]


def run(cmd) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)


def test_torchrun_train_resume_and_sample(tmp_path):
    import json
    from svq_nb.training import load_checkpoint
    ref, dd = tmp_path / "ref", tmp_path / "dd"
    one = subprocess.Popen(svq("train", str(ref), *ARGS), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    r = run(torchrun("train", str(dd), *ARGS, "--stage", "1"))
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("stage 1 [vq]: finished") == 1                     # rank 0 alone prints
    (dd / "checkpoints" / "vq" / "step-00000004.pt").unlink()                 # as if killed between the two checkpoints
    r = run(torchrun("train", str(dd), *ARGS))
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resuming from" in r.stdout and "step-00000002.pt" in r.stdout and r.stdout.count("finished:") == 1
    assert one.wait(timeout=300) == 0, one.stderr.read()
    rows = lambda run: [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    got, want = rows(dd), rows(ref)
    assert [(x["part"], x["step"]) for x in got] == [(x["part"], x["step"]) for x in want] == [("vq", 2), ("vq", 4), ("gpt", 2), ("gpt", 4)]
    assert got[0]["loss"] == pytest.approx(want[0]["loss"], rel=1e-5)        # the global batch's loss, logged once
    # the resumed torchrun run is bit-identical to an uninterrupted torchrun run
    r = run(torchrun("train", str(tmp_path / "full"), *ARGS))
    assert r.returncode == 0, r.stderr[-3000:]
    a, b, c = (load_checkpoint(p / "system.pt")["state_dict"] for p in (ref, dd, tmp_path / "full"))
    for k in b: assert torch.equal(b[k], c[k]), f"{k}: the resumed torchrun run differs from the uninterrupted one"
    # float32: summing over two ranks reorders additions; Adam turns near-zero gradients into +-lr steps, so the stage-1 weights
    # agree to about one learning rate (1e-3) rather than to rounding: the float64 test above is the exact comparison
    for k in a:
        if k.startswith("vq.") and a[k].is_floating_point(): assert torch.allclose(a[k], b[k], atol=2e-2), k
    # svq sample: maps shared out over the ranks, rank 0 writes the same files as one process
    r1 = run(svq("sample", str(ref), "--data", "synth:4", "--out", str(tmp_path / "s1"), "--maps", "3", "--samples-per-map", "2"))
    r2 = run(torchrun("sample", str(ref), "--data", "synth:4", "--out", str(tmp_path / "s2"), "--maps", "3", "--samples-per-map", "2"))
    assert r1.returncode == 0 and r2.returncode == 0, r1.stderr + r2.stderr[-3000:]
    names = sorted(p.name for p in (tmp_path / "s1").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "s2").iterdir()) and len(names) == 3
    for n in names: assert (tmp_path / "s1" / n).read_bytes() == (tmp_path / "s2" / n).read_bytes(), n
    # svq evaluate: 3 batches of 2 shared out over 2 ranks (2 + 1), FID statistics, confusion counts and score sums reduced
    ev = ["evaluate", str(ref), "--data", "synth:6", "--batch-size", "2", "--segnet-steps", "3", "--segnet-n", "8"]
    p1 = subprocess.Popen(svq(*ev, "--out", str(tmp_path / "e1")), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    r2 = run(torchrun(*ev, "--out", str(tmp_path / "e2")))
    assert p1.wait(timeout=300) == 0 and r2.returncode == 0, p1.stderr.read() + r2.stderr[-3000:]
    assert "scored by 2 processes" in r2.stdout and r2.stdout.count("wrote table1-3") == 1
    for stem in ("table1", "table2", "table3"):
        t1, t2 = (json.loads((tmp_path / e / f"{stem}.json").read_text()) for e in ("e1", "e2"))
        assert t1["caption"] == t2["caption"] and len(t1["results"]) == len(t2["results"]) >= 1
        for x, y in zip(t1["results"], t2["results"]):
            assert (x["system"], x["metric"]) == (y["system"], y["metric"])
            assert y["value"] == pytest.approx(x["value"], rel=1e-6), (stem, x["metric"], x["value"], y["value"])
    # a global batch that does not split across the processes is refused before anything is written
    r = run(torchrun("train", str(tmp_path / "odd"), *ARGS[:-4], "--batch-size", "3", "--device", "cpu"))
    assert r.returncode != 0 and "global batch 3 does not split evenly across WORLD_SIZE=2" in r.stderr and not (tmp_path / "odd").exists()


# --- the token encoding after stage 1, shared out over the ranks (issue 24, item 8) -----------------------------------------
TOKENS = """
import sys, torch, torch.distributed as dist
from pathlib import Path
from svq_nb.cli import encode_tokens
from svq_nb.data import SynthScenes
from svq_nb.synthesis import tiny_system
dist.init_process_group("gloo")
rows = encode_tokens(tiny_system("sVQVAE-T", 17), SynthScenes(150, size=16).tensors(), Path(sys.argv[1]), batch_size=32)
Path(sys.argv[1], f"rows{dist.get_rank()}.txt").write_text(f"{rows.start} {rows.stop}")
dist.destroy_process_group()
"""


def test_token_encoding_is_shared_out(tmp_path):
    "Each rank encodes its own rows (rank 0 used to encode the whole training set while the others waited at a barrier)."
    from svq_nb.data import SynthScenes
    from svq_nb.synthesis import tiny_system, encode_dataset
    from svq_nb.training import load_tokens
    port = str(free_port())
    procs = [subprocess.Popen([sys.executable, "-c", TOKENS, str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**ENV, "RANK": str(r), "LOCAL_RANK": str(r), "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port})
             for r in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
    assert [(tmp_path / f"rows{r}.txt").read_text() for r in range(2)] == ["0 64", "64 150"]
    cond, x = load_tokens(tmp_path)
    want = encode_dataset(tiny_system("sVQVAE-T", 17), SynthScenes(150, size=16).tensors(), batch_size=32)
    assert torch.equal(torch.from_numpy(cond.astype("int64")), want[0]) and torch.equal(torch.from_numpy(x.astype("int64")), want[1])
    assert not (tmp_path / ".shards").exists()
