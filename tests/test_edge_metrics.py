"""Bad input and missing weights of the metrics (`svq_nb.metrics`), moved out of nbs/09_metrics.ipynb (issue 25).

Hand-written: edit this file, not the notebook. The tests that teach (SSIM and LPIPS values, the Frechet distance in
closed form, streaming FID, the confusion matrix by hand, the segmenters) stay beside their code in the notebook."""
from fastcore.test import *
import warnings
import pytest
import torch
from svq_nb.metrics import check_images, check_pair, ConfusionMatrix, FIDAccumulator, WeightsNotFound, get_lpips, lpips



def test_check_images_errors():
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    test_eq(check_images(x), x)
    test_fail(lambda: check_images(x * 127.5 + 127.5), contains="looks like [0, 255] images: use x / 127.5 - 1")
    test_fail(lambda: check_images(x * 3), contains="outside the expected [-1, 1]")
    test_fail(lambda: check_images((x * 127.5 + 127.5).to(torch.uint8)), contains="dtype torch.uint8")
    test_fail(lambda: check_images(x[:, :1]), contains="expected shape [N,3,H,W], got (2, 1, 32, 32)")
    test_fail(lambda: check_images(x.numpy()), contains="expected a torch.Tensor")
    test_fail(lambda: check_images(x, min_size=64), contains="needs at least 64x64")
    test_fail(lambda: check_images(x.clone().fill_(float("nan"))), contains="NaN")
    test_fail(lambda: check_pair(x, x[:, :, :16]), contains="same shape")
    with pytest.warns(UserWarning, match=r"\[0, 1\] images"): check_images((x + 1) / 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error"); check_images(x.clamp(-1 - 5e-4, 1 + 5e-4) * (1 + 5e-4))  # within the tolerance


def test_confusion_matrix_errors():
    cm = ConfusionMatrix(4)
    test_fail(lambda: cm.update(torch.tensor([[1, 2]]), torch.tensor([[1, 7]])), contains="target has ids [7] outside the label space [0, 4)")
    test_fail(lambda: cm.update(torch.tensor([[-1, 2]]), torch.tensor([[1, 2]])), contains="pred has ids [-1]")
    test_fail(lambda: cm.update(torch.tensor([[1, 2]]), torch.tensor([[1, 2, 3]])), contains="differ in shape")
    test_fail(lambda: cm.update(torch.zeros(1, 3, 2), torch.tensor([[1, 2]])), contains="logits have 3 classes, expected 4")
    test_fail(lambda: cm.update(torch.tensor([[1., 2.]]), torch.tensor([[1, 2]])), contains="integer class ids")
    test_fail(lambda: ConfusionMatrix(4).miou(), contains="no labeled pixels")
    test_fail(lambda: ConfusionMatrix(4).update(torch.tensor([[1]]), torch.tensor([[0]])).miou(), contains="no labeled pixels")
    test_eq(cm.mat.sum(), 0)                                     # failed updates count nothing


def test_missing_weights_pass_through():
    g_ = get_lpips.__globals__                      # the module's namespace (notebook or svq_nb.metrics)
    def _missing(*args, **kwargs): raise WeightsNotFound("no weights: looked for alexnet.ckpt; run `make setup`")
    saved = {k: g_[k] for k in ("lpips_net", "fid_inception")}
    caches = {k: dict(g_[k]) for k in ("_LPIPS_NETS", "_FID_NETS")}
    g_["lpips_net"] = g_["fid_inception"] = _missing
    for k in caches: g_[k].clear()
    try:
        x = torch.zeros(2, 3, 32, 32)
        with pytest.raises(WeightsNotFound, match="looked for alexnet.ckpt; run `make setup`"): lpips(x, x)
        with pytest.raises(WeightsNotFound, match="run `make setup`"): FIDAccumulator(progress=False).update(x)
        assert issubclass(WeightsNotFound, FileNotFoundError)
    finally:
        g_.update(saved)
        for k, v in caches.items(): g_[k].update(v)
