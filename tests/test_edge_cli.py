"""GPU-specific regression tests of `svq_nb.cli` (issue 24), moved out of the appendix notebook nbs/93_cli.ipynb (issue 25).

Hand-written: edit this file, not the notebook. They run on a CPU: the `meta` device and mocks stand in for a GPU."""
from fastcore.test import *
import tempfile
from pathlib import Path
import torch
import datetime, os
from svq_nb.cli import (CLIError, DIST_TIMEOUT, PRESETS, TrainConfig, Trainer, _check_same, _folder_settings, _shard, build_parser,
                        init_distributed, load_run, main, pick_device, run_settings, train_configs)



def test_trainer_puts_the_system_on_its_device():
    # issue 24, item 3: svq train moved only the VQ model(s) to the training device, so the reconstruction grids and the token
    # encoding after stage 1 mixed devices; the Trainer now puts the whole system there (meta stands in for a GPU)
    with tempfile.TemporaryDirectory() as d:
        a = build_parser().parse_args(["train", f"{d}/run", "--system", "VQGAN-T", "--data", "synth:4", "--preset", "test"])
        tr = Trainer(Path(d) / "run", run_settings(a), device="meta")
        test_eq({p.device.type for p in tr.system.parameters()}, {"meta"})
        # the path from stage 1 to the tokens (grids at every checkpoint, then the encoding) with the Transformer elsewhere,
        # as it was on a GPU after stage 1: before, the first grid failed
        tr = Trainer(Path(d) / "run", run_settings(a), device="cpu")
        tr.system.gpt.to("meta"); tr.run.mkdir()
        tr.train("1")
        cond, x = tr.tokens()
        test_eq((cond.shape, x.shape), ((4, 16), (4, 16)))                     # 4 scenes, 4x4 latents
        test_eq(len(list((tr.run / "grids").glob("*_vq-*.png"))), 6)          # image_vq and seg_vq at steps 2, 4, 6


def test_sample_and_evaluate_run_on_the_device():
    # issue 24, item 5: load_run never moved the system and svq sample forced the CPU (and gloo), so on a GPU machine sampling
    # and scoring ran on the CPU; load_run now places the system and both commands take --device (default auto: the GPU)
    from unittest import mock
    from svq_nb.synthesis import tiny_system, save_system
    with tempfile.TemporaryDirectory() as d:
        save_system(tiny_system("VQVAE-T", 17), Path(d) / "run" / "system.pt")
        test_eq({p.device.type for p in load_run(Path(d) / "run", "meta").parameters()}, {"meta"})
        seen = []
        def fake_load_run(run, device="cpu"): seen.append(pick_device(device).type); raise CLIError("stop here")
        with mock.patch.dict(main.__globals__, load_run=fake_load_run), mock.patch("torch.cuda.is_available", return_value=True):
            for cmd in ("sample", "evaluate"):
                test_eq(main([cmd, f"{d}/run", "--data", "synth:2", "--out", f"{d}/out"]), 2)
                test_eq(main([cmd, f"{d}/run", "--data", "synth:2", "--out", f"{d}/out", "--device", "cpu"]), 2)
        test_eq(seen, ["cuda", "cpu", "cuda", "cpu"])


def test_stage_batches_and_learning_rates():
    # issue 24, item 7: --batch-size set both stages, so the paper's 12 / 32 split could not be asked for (and a batch of 12
    # does not split over 8 GPUs), and the learning rates stayed the preset's whatever the batch. Each stage now has its own
    # global batch and its lr follows it as taming's does (base lr x global batch)
    p = PRESETS["paper"]
    s1, s2 = train_configs(p, batch_size1=96, batch_size2=256, device="cpu")          # 8 GPUs: 12 and 32 per GPU
    test_eq((s1.batch_size, s2.batch_size), (96, 256))
    test_close(s1.lr, 4.5e-6 * 96, eps=1e-12); test_close(s2.lr, 4.5e-6 * 256, eps=1e-12)
    s1, s2 = train_configs(p, device="cpu")                                            # the preset's batches: the preset's lr
    test_eq((s1.batch_size, s2.batch_size, s1.lr, s2.lr), (12, 32, p.lr1, p.lr2))
    s1, s2 = train_configs(p, batch_size=64, batch_size2=128, device="cpu")            # --batch-size sets both, --batch-size2 one
    test_eq((s1.batch_size, s2.batch_size), (64, 128))
    s1, s2 = train_configs(p, batch_size1=96, batch_size2=256, device="cpu", scale_lr=False)
    test_eq((s1.lr, s2.lr), (p.lr1, p.lr2))
    args = ["train", "r", "--system", "sVQGAN-T", "--data", "synth", "--preset", "paper", "--batch-size1", "96", "--batch-size2", "256"]
    st = run_settings(build_parser().parse_args(args))
    test_eq((st["batch_size1"], st["batch_size2"], st["lr_scaling"]), (96, 256, "global batch"))
    # a run folder written before these options resumes with the command that started it, and keeps its learning rates
    now = run_settings(build_parser().parse_args(args[:-4] + ["--batch-size", "96"]))
    old = {k: v for k, v in now.items() if k not in ("batch_size1", "batch_size2", "lr_scaling")}
    _check_same(Path("r"), old, now)
    test_eq(_folder_settings(old, now)["lr_scaling"], "none")
    test_eq(_folder_settings(st, st), st)


def test_process_group_timeout_and_device():
    # issue 24, item 8: init_process_group set no timeout (NCCL's default 10 minutes, while rank 0 alone encoded the whole
    # training set) and no device_id; every rank now encodes its share of the tokens (tests/test_ddp.py)
    import datetime, os
    from unittest import mock
    import torch.distributed as dist
    env = {"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}
    with mock.patch.dict(os.environ, env), mock.patch.object(dist, "is_initialized", return_value=False), \
         mock.patch.object(dist, "init_process_group", autospec=True) as init, mock.patch.object(dist, "get_rank", return_value=1), \
         mock.patch("torch.cuda.is_available", return_value=True), mock.patch("torch.cuda.set_device"):
        test_eq(init_distributed("auto"), (1, 2, "cuda:1"))
        test_eq(init_distributed("cpu"), (1, 2, "cpu"))
    (a1, k1), (a2, k2) = init.call_args_list
    test_eq((a1, k1["device_id"], k1["timeout"]), (("nccl",), torch.device("cuda", 1), DIST_TIMEOUT))
    test_eq((a2, "device_id" in k2, k2["timeout"]), (("gloo",), False, DIST_TIMEOUT))
    assert DIST_TIMEOUT >= datetime.timedelta(minutes=30)
    # token shards: whole encoding batches per rank (so the tokens are those of one process), spread evenly
    test_eq([_shard(150, r, 2, 32) for r in range(2)], [range(0, 64), range(64, 150)])          # 5 batches: 2 + 3 (the last one short)
    test_eq([_shard(16, r, 2, 64) for r in range(2)], [range(0, 0), range(0, 16)])
    test_eq([_shard(512, r, 8, 64) for r in range(8)], [range(64 * r, 64 * (r + 1)) for r in range(8)])
    test_eq([len(_shard(640, r, 8, 64)) for r in range(8)], [64, 64, 64, 128, 64, 64, 64, 128])


def test_presets_on_a_gpu():
    # issue 24, item 11: the gpu and paper presets forced bf16 on any GPU, also one without bf16 (pick_precision decides now),
    # and --num-workers was 0 for real datasets although these presets ask for 8
    from unittest import mock
    for bf16 in (True, False):
        with mock.patch("torch.cuda.is_available", return_value=True), mock.patch("torch.cuda.is_bf16_supported", return_value=bf16):
            cfgs = train_configs(PRESETS["gpu"], device="cuda") + train_configs(PRESETS["paper"], device="cuda")
            test_eq({(c.precision, c.compile) for c in cfgs}, {("bf16" if bf16 else "fp32", True)})
            test_eq({TrainConfig.paper_stage1(device="cuda").precision, TrainConfig.paper_stage2(device="cuda").precision}, {"bf16" if bf16 else "fp32"})
    test_eq({name: p.num_workers for name, p in PRESETS.items()}, {"tiny": 0, "gpu": 8, "paper": 8, "test": 0})
    test_eq([c.num_workers for c in train_configs(PRESETS["paper"], device="cpu")], [8, 8])
    test_eq([c.num_workers for c in train_configs(PRESETS["paper"], device="cpu", num_workers=2)], [2, 2])
    test_eq(build_parser().parse_args(["train", "r"]).num_workers, None)                   # None: the preset's
