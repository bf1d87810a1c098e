"""Stage-1 benchmark (hand-written, run by `make bench`): training speed and codebook health of the tiny CPU models.

1. Training steps/s of `VQModel` and `SemanticVQModel` at `VQConfig.tiny()` (32 px -> 8x8 latents), batch 16, Adam, plain L1
   (+ VQ loss; + 0.1 * (CE + VQ loss) for the coupled model), and of the full VQGAN and sVQGAN steps through
   `svq_nb.training.train_stage1` (L1 + LPIPS-VGG + PatchGAN with its own optimizer, discriminator on from step 0).
2. Codebook usage (fraction of codes used over the last `window` steps) and perplexity of the tiny VQModel after a short run,
   without and with dead-code restarts.
Prints numbers; asserts nothing about time.
"""
import argparse, os, time
import torch
import torch.nn.functional as F
from svq_nb.data import SynthScenes
from svq_nb.models import VQConfig, VQModel, SemanticVQModel


def batches(images, labels, batch, seed=0):
    "Endless seeded random batches."
    g = torch.Generator().manual_seed(seed)
    while True:
        idx = torch.randint(len(images), (batch,), generator=g)
        yield images[idx], labels[idx]


def step_fn(model):
    "One L1 training step for `model` as a closure over (x, s)."
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    def step(x, s):
        if isinstance(model, SemanticVQModel):
            x_rec, s_logits, qx, qs, info = model(x, s)
            loss = (x_rec - x).abs().mean() + qx + 0.1 * (F.cross_entropy(s_logits, s) + qs)
        else:
            x_rec, qx, info = model(x)
            loss = (x_rec - x).abs().mean() + qx
        opt.zero_grad(); loss.backward(); opt.step()
        return loss.item(), info
    return step


def speed(model, data, steps, warmup=3):
    "Training steps per second after `warmup` steps."
    step = step_fn(model)
    for _ in range(warmup): step(*next(data))
    t0 = time.perf_counter()
    for _ in range(steps): step(*next(data))
    return steps / (time.perf_counter() - t0)


def gan_speeds(images, labels, n_classes, steps):
    "Seconds per full VQGAN / sVQGAN training step (generator + discriminator), after one warm-up window."
    from svq_nb.losses import VQGANLoss, SemanticVQLoss
    from svq_nb.training import TrainConfig, train_stage1
    cfg = VQConfig.tiny()
    out = {}
    for name in ("VQGAN", "sVQGAN"):
        torch.manual_seed(0)
        gan = VQGANLoss(disc_start=0, disc_warmup=0)
        if name == "VQGAN": model, loss = VQModel.from_config(cfg), gan
        else: model, loss = SemanticVQModel.from_config(cfg, n_classes), SemanticVQLoss(gan)
        h = train_stage1(model, loss, (images, labels), TrainConfig(steps=2 * steps, batch_size=16, log_every=steps, progress=False))
        out[name] = h[-1]["sec_per_step"]
    return out


def usage_run(restart_dead, data, steps, window):
    "Final (usage, perplexity, L1-ish loss) of the tiny VQModel trained `steps` steps."
    torch.manual_seed(0)
    q = dict(window=window, restart_dead=restart_dead, dead_after=window)
    model = VQModel.from_config(VQConfig.tiny(quantizer=q))
    step = step_fn(model)
    for _ in range(steps): loss, info = step(*next(data))
    return info["usage"].item(), info["perplexity"].item(), loss


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20, help="timed steps per model")
    ap.add_argument("--usage-steps", type=int, default=150, help="steps of the codebook-usage runs")
    ap.add_argument("--window", type=int, default=20, help="usage window and dead-code age, in steps")
    args = ap.parse_args()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    ds = SynthScenes(512, size=32, seed=0)
    images, labels = ds.tensors()
    cfg = VQConfig.tiny()
    for name, make in (("VQModel", lambda: VQModel.from_config(cfg)),
                       ("SemanticVQModel", lambda: SemanticVQModel.from_config(cfg, ds.n_classes))):
        torch.manual_seed(0)
        model = make()
        sps = speed(model, batches(images, labels, 16), args.steps)
        n = sum(p.numel() for p in model.parameters()) / 1e6
        print(f"{name:16s} tiny (32 px -> 8x8, batch 16, {n:.2f}M params): {sps:.2f} steps/s ({1000 / sps:.0f} ms/step)")
    g = gan_speeds(images, labels, ds.n_classes, args.steps)
    print(f"full VQGAN step  (L1 + LPIPS + PatchGAN, train_stage1): {g['VQGAN']:.3f} s/step ({1 / g['VQGAN']:.2f} steps/s)")
    print(f"full sVQGAN step (Eq. 3 with the VQGAN loss):            {g['sVQGAN']:.3f} s/step ({1 / g['sVQGAN']:.2f} steps/s); "
          f"sVQGAN/VQGAN = {g['sVQGAN'] / g['VQGAN']:.2f}x (one run)")
    for restart in (False, True):
        usage, ppl, loss = usage_run(restart, batches(images, labels, 16, seed=1), args.usage_steps, args.window)
        print(f"VQModel tiny, {cfg.n_embed} codes, {args.usage_steps} steps, restarts {'on ' if restart else 'off'}: "
              f"usage {usage:.3f} (last {args.window} steps), perplexity {ppl:.1f}, loss {loss:.3f}")


if __name__ == "__main__":
    main()
