"""Errors for bad input of the encoder and decoder (`svq_nb.modules`), moved out of nbs/03_modules.ipynb (issue 25).

Hand-written: edit this file, not the notebook."""
from fastcore.test import *
import torch, pytest
from svq_nb.modules import Decoder, Encoder



def test_bad_input_errors():
    arch = dict(ch=16, ch_mult=(1, 2, 2), num_res_blocks=1, attn_resolutions=(), resolution=16, z_channels=4)
    enc, dec = Encoder(in_channels=3, double_z=False, **arch), Decoder(out_ch=3, **arch)
    with pytest.raises(ValueError, match=r"\[B, 3, H, W\], got \(2, 4, 16, 16\)"): enc(torch.randn(2, 4, 16, 16))
    with pytest.raises(ValueError, match=r"\[B, 3, H, W\]"): enc(torch.randn(3, 16, 16))
    with pytest.raises(ValueError, match="18x16 is not divisible by the down-sampling factor 4"): enc(torch.randn(1, 3, 18, 16))
    with pytest.raises(ValueError, match="17x16 is not divisible"): enc(torch.randn(1, 3, 17, 16))
    with pytest.raises(ValueError, match=r"decoder input must have shape \[B, 4, h, w\]"): dec(torch.randn(1, 5, 4, 4))
    with pytest.raises(ValueError, match="resolution 20 is not divisible by the down-sampling factor 8"):
        Encoder(**{**arch, 'ch_mult': (1, 1, 2, 2), 'resolution': 20})
    with pytest.raises(ValueError, match="multiple of 32.*48"): Encoder(**{**arch, 'ch': 48})
