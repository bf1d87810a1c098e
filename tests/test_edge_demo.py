"""The demo's latent grid option (`svq_nb.demo.DemoConfig.latent`). Hand-written: edit this file, not the notebook."""
from fastcore.test import *
import torch
from svq_nb.data import SynthScenes
from svq_nb.demo import DemoConfig, demo_vq, system_configs
from svq_nb.synthesis import System



def test_demo_latent_grid():
    test_eq(demo_vq(DemoConfig()).latent_size, 8)                  # the default: size/4
    test_eq(demo_vq(DemoConfig(size=64)).latent_size, 16)
    test_eq(demo_vq(DemoConfig(latent=16)).latent_size, 16)
    test_eq(demo_vq(DemoConfig()).ch_mult, (1, 2)); test_eq(demo_vq(DemoConfig(latent=16)).ch_mult, (1,))
    test_fail(lambda: demo_vq(DemoConfig(latent=4)), contains="DemoConfig.latent=4: expected size/4 or size/2 (size=32: 8 or 16)")
    img, lab = SynthScenes(2, size=32, seed=0).tensors()
    cfg = DemoConfig.quick(latent=16)
    s = System(system_configs(cfg, len(SynthScenes.classes), 0)["sVQGAN-T"])
    cond, x = s.tokens(img, lab)
    test_eq(cond.shape, (2, 256)); test_eq(x.shape, (2, 256))       # 16x16 codes of each kind
    test_eq(s.decode_tokens(x, cond).shape, img.shape)
