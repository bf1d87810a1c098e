"""Error messages of the real-dataset loaders (`svq_nb.datasets`), moved out of nbs/91_real_datasets.ipynb (issue 25).

Hand-written: edit this file, not the notebook. Each bad input must raise an error that names the file and what was expected."""
from fastcore.test import *
import tempfile
import numpy as np, pytest
from pathlib import Path
from PIL import Image
from svq_nb.data import read_label
from svq_nb.datasets import ADE20k, Cityscapes, CocoStuff, write_fixture



def test_err_missing_split():
    root = write_fixture("ade20k", Path(tempfile.mkdtemp()) / "ade", 1, split="val")
    test_fail(lambda: ADE20k(root, "train"), contains="images/training")
    test_fail(lambda: ADE20k(root, "test"), contains="split must be one of")


def test_err_label_without_image():
    root = write_fixture("cityscapes", Path(tempfile.mkdtemp()) / "cs", 2)
    next((root / "leftImg8bit/val/bremen").glob("*.png")).unlink()
    with pytest.raises(FileNotFoundError, match=r"bremen_000001_000020_gtFine_labelIds\.png has no image: expected .*bremen_000001_000020_leftImg8bit\.png"):
        Cityscapes(root, "val")


def test_err_size_mismatch():
    root = write_fixture("ade20k", Path(tempfile.mkdtemp()) / "ade", 1, size=(10, 12))
    Image.fromarray(np.zeros((11, 12), np.uint8), mode="L").save(root / "annotations/validation/ADE_val_00000001.png")
    test_fail(lambda: ADE20k(root, "val")[0], contains="12x10 (WxH) but its label")


def test_err_values_outside():
    root = write_fixture("ade20k", Path(tempfile.mkdtemp()) / "ade", 1, size=(4, 4))
    lp = root / "annotations/validation/ADE_val_00000001.png"
    Image.fromarray(np.array([[1, 151, 200, 3]] * 4, np.uint8), mode="L").save(lp)
    test_fail(lambda: ADE20k(root, "val")[0], contains="values [151, 200]")
    test_fail(lambda: ADE20k(root, "val")[0], contains=str(lp))
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(lp)     # an RGB "label" is not a class-id map
    test_fail(lambda: ADE20k(root, "val")[0], contains="mode 'RGB'")


def test_err_unreadable():
    root = write_fixture("cocostuff", Path(tempfile.mkdtemp()) / "coco", 1, size=(32, 32))
    ip = root / "images/val2017/000000000139.jpg"
    ip.write_bytes(ip.read_bytes()[:200])                 # truncated JPEG
    test_fail(lambda: CocoStuff(root, "val")[0], contains=f"cannot read image file {ip}")
    lp = root / "annotations/val2017/000000000139.png"
    lp.write_bytes(b"not a png")
    test_fail(lambda: read_label(lp), contains=f"cannot read label file {lp}")
