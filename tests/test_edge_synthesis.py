"""Where a system's stage-1 work runs (`svq_nb.synthesis`), moved out of nbs/08_synthesis.ipynb (issue 25).

Hand-written: edit this file, not the notebook."""
from fastcore.test import *
from svq_nb.data import SynthScenes
from svq_nb.synthesis import tiny_system, encode_dataset



def test_stage1_work_runs_where_stage1_is():
    # issue 24, item 3: System.device is the GPT's, and after stage 1 on a GPU only the VQ model(s) were there: the reconstruction
    # grids, the token encoding and System.fit's encode_dataset sent their inputs to the GPT's device. Here the GPT is on meta
    # and the stage-1 models on the CPU: every stage-1 computation runs where the stage-1 models are
    img, lab = SynthScenes(3, size=16, seed=1).tensors()
    for name in ("VQGAN-T", "sVQVAE-T"):
        s = tiny_system(name, len(SynthScenes.classes))
        s.gpt.to("meta")
        test_eq((s.device.type, s.stage1_device.type), ("meta", "cpu"))
        cond, x = s.tokens(img, lab)
        test_eq(s.cond_tokens(lab, img if s.cfg.coupled else None), cond)
        test_eq(s.reconstruct(img, lab)["image"].device.type, "cpu")
        test_eq(s.decode_tokens(x, cond).shape, img.shape)
        test_eq(encode_dataset(s, (img, lab), batch_size=2), (cond, x))
