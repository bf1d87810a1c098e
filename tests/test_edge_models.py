"""Shapes, dtypes and bad input of every stage-1 model (`svq_nb.models`), moved out of nbs/04_models.ipynb (issue 25).

Hand-written: edit this file, not the notebook. The tests that teach (the stop-gradient, the reference-free designs,
overfitting one batch, taming checkpoints) stay beside their code in the notebook."""
from fastcore.test import *
import torch, pytest
from svq_nb.models import SegVQModel, SemanticVQModel, VQConfig, VQModel



def test_model_shapes():
    for cfg in (VQConfig.tiny(), VQConfig.tiny(attention=False, ch=16, ch_mult=(1, 2), z_channels=8, embed_dim=4, resolution=16)):
        f, C, B = 2 ** (len(cfg.ch_mult) - 1), 6, 2
        H = cfg.resolution
        h = H // f
        x, label = torch.rand(B, 3, H, H) * 2 - 1, torch.randint(0, C, (B, H, H))
        vq, seg, svq = VQModel.from_config(cfg), SegVQModel.from_config(cfg, C), SemanticVQModel.from_config(cfg, C)
        test_eq(seg.quantize.n_codes, cfg.n_embed_s); test_eq(svq.quantize_x.n_codes, cfg.n_embed); test_eq(svq.quantize_s.n_codes, cfg.n_embed_s)
        with torch.no_grad():
            x_rec, q, info = vq(x)
            test_eq(x_rec.shape, x.shape); test_eq(x_rec.dtype, torch.float32); test_eq(q.shape, ())
            test_eq(info["indices"].shape, (B, h, h)); test_eq(info["indices"].dtype, torch.long)
            z_q, _, _ = vq.encode(x); test_eq(z_q.shape, (B, cfg.embed_dim, h, h))
            assert torch.equal(vq.decode_indices(info["indices"]), x_rec); assert torch.equal(vq.encode_indices(x), info["indices"])
            logits, q, info = seg(label)
            test_eq(logits.shape, (B, C, H, H)); test_eq(info["indices"].shape, (B, h, h))
            assert torch.equal(seg.decode_indices(info["indices"]), logits)
            x_rec, s_logits, qx, qs, info = svq(x, label)
            test_eq(x_rec.shape, x.shape); test_eq(s_logits.shape, (B, C, H, H)); test_eq(qx.shape, ()); test_eq(qs.shape, ())
            test_eq(info["indices_x"].shape, (B, h, h)); test_eq(info["indices_s"].shape, (B, h, h))
            assert {"perplexity_x", "usage_s"} <= set(info)
            assert torch.equal(svq.decode_indices(info["indices_x"], info["indices_s"]), x_rec)
            assert torch.equal(svq.decode_semantic_indices(info["indices_s"]), s_logits)
            z_q_x, z_q_s, *_ = svq.encode(x, label)
            test_eq(z_q_x.shape, (B, cfg.embed_dim, h, h)); test_eq(z_q_s.shape, (B, cfg.embed_dim, h, h))
            assert all(torch.equal(a, b) for a, b in zip(svq.decode(z_q_x, z_q_s), (x_rec, s_logits)))
        for m in (vq, seg, svq): assert m.last_layer.shape[0] == (C if m is seg else 3)
        assert svq.last_layer is svq.decoder_x.conv_out.weight


def test_paper_size_svq():
    with torch.device("meta"):                   # shapes only, no memory or init time
        m = SemanticVQModel.from_config(VQConfig.paper(), 183)
    test_eq(m.quantize_x.embedding.weight.shape, (16384, 256)); test_eq(m.quantize_s.embedding.weight.shape, (4096, 256))
    test_eq(m.encoder.conv_in.weight.shape, (128, 3 + 183, 3, 3))          # one encoder on concat(image, one-hot map)
    test_eq(m.encoder.conv_out.weight.shape, (512, 512, 3, 3))              # 2 * z_channels: the z_x and z_s heads
    test_eq(m.decoder_s.conv_out.weight.shape, (183, 128, 3, 3)); test_eq(m.decoder_x.conv_out.weight.shape, (3, 128, 3, 3))
    test_eq(m.post_quant_conv_x.weight.shape, (256, 512, 1, 1))            # fuse="concat": [z_x, sg(z_s)] -> z_channels
    test_eq(VQConfig.paper().latent_size, 16)


def test_bad_input():
    cfg = VQConfig.tiny(attention=False, ch=16, ch_mult=(1, 2), z_channels=8, embed_dim=4, resolution=16)
    vq, seg, svq = VQModel.from_config(cfg), SegVQModel.from_config(cfg, 4), SemanticVQModel.from_config(cfg, 4)
    x, label = torch.zeros(1, 3, 16, 16), torch.zeros(1, 16, 16, dtype=torch.long)
    with pytest.raises(ValueError, match=r"\[B, 3, H, W\], got \(1, 1, 16, 16\)"): vq(torch.zeros(1, 1, 16, 16))
    with pytest.raises(ValueError, match="15x16 is not divisible by the down-sampling factor 2"): vq(torch.zeros(1, 3, 15, 16))
    with pytest.raises(ValueError, match=r"class ids \[4, 9\] outside \[0, 4\)"): seg(torch.tensor([[[0, 4], [9, 1]]]))
    with pytest.raises(ValueError, match=r"class ids \[-1\] outside \[0, 4\)"): svq(x[..., :2, :2], torch.tensor([[[0, -1], [1, 1]]]))
    with pytest.raises(TypeError, match="integer tensor of class ids"): seg(label.float())
    with pytest.raises(ValueError, match=r"\[B, H, W\]"): seg(label[0])
    with pytest.raises(ValueError, match=r"image must have shape \[B, 3, H, W\] matching the label map \(1, 16, 16\), got \(1, 3, 8, 8\)"):
        svq(torch.zeros(1, 3, 8, 8), label)
    with pytest.raises(ValueError, match="needs a reference image"): svq(None, label)
    with pytest.raises(ValueError, match="fuse must be one of"): SemanticVQModel.from_config(cfg, 4, fuse="add")
    with pytest.raises(ValueError, match="resolution 30 is not divisible"): VQModel.from_config(cfg, resolution=30, ch_mult=(1, 2, 2))
