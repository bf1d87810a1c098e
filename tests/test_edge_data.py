"""Edge cases of `svq_nb.data`, moved out of nbs/01_data.ipynb (issue 25) so that the notebook reads as a story.

Hand-written: edit this file, not the notebook. The tests that teach (determinism, looks, small objects, nearest-neighbour
labels, aligned transforms) stay beside their code in the notebook."""
from fastcore.test import *
import tempfile
import torch, pytest
from pathlib import Path
from PIL import Image
from svq_nb.data import SegTransform, SynthScenes, render_scene_grid



def test_synth_any_resolution():
    for size in (7, 17, (24, 40), 96):
        x, y = SynthScenes(3, size=size).tensors()
        h, w = (size, size) if isinstance(size, int) else size
        test_eq(x.shape, (3, 3, h, w)); test_eq(y.shape, (3, h, w))
    # the layout is the same at another resolution: class fractions agree roughly
    y32, y64 = SynthScenes(64, 32).tensors()[1], SynthScenes(64, 64).tensors()[1]
    f32 = torch.bincount(y32.flatten(), minlength=17) / y32.numel(); f64 = torch.bincount(y64.flatten(), minlength=17) / y64.numel()
    assert (f32 - f64).abs().max() < 0.02


def test_synth_disjoint_splits():
    maps = {s: {tuple(l.flatten().tolist()) for l in SynthScenes(300, 16, split=s).tensors()[1]} for s in ("train", "val", "test")}
    assert not (maps["train"] & maps["val"]) and not (maps["train"] & maps["test"]) and not (maps["val"] & maps["test"])


def test_seg_transform_workers():
    class _Grid(torch.utils.data.Dataset):
        def __len__(self): return 4
        def __getitem__(self, i):
            lab = torch.arange(40 * 60).view(40, 60) % 1000
            return dict(image=torch.zeros(3, 40, 60), label=lab)
    def epochs(seed):
        ds = _Grid(); ds.transform = SegTransform(20, train=True, seed=0)
        dl = torch.utils.data.DataLoader(torch.utils.data.Subset(ds, range(4)), batch_size=1, num_workers=2,
                                         collate_fn=lambda b: ds.transform(b[0])["label"], generator=torch.Generator().manual_seed(seed))
        return [torch.stack(list(dl)) for _ in range(2)]
    e1, e2 = epochs(0), epochs(0)
    test_eq(e1[0], e2[0]); test_eq(e1[1], e2[1])                        # reproducible
    assert not torch.equal(e1[0], e1[1])                                # another epoch, other crops
    assert len({tuple(c.flatten().tolist()) for c in e1[0]}) > 1         # items/workers differ


def test_scene_grid():
    p = render_scene_grid(Path(tempfile.mkdtemp()) / "demo", n=6, size=24)
    im = Image.open(p)
    test_eq(im.mode, "RGB"); assert p.name.endswith(".png") and im.size[0] > 4 * 48 and im.size[1] > 2 * 24
