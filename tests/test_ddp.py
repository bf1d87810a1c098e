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
