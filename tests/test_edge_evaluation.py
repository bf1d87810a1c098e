"""Error messages and memory use of the paper's tables (`svq_nb.evaluation`), moved out of nbs/10_evaluation.ipynb (issue 25).

Hand-written: edit this file, not the notebook."""
from fastcore.test import *
from svq_nb.data import SynthScenes
from svq_nb.synthesis import tiny_system
from svq_nb.evaluation import _my_batches, reconstruction_table, synthesis_table



def test_tables_bad_input():
    data = SynthScenes(2, size=32, split="val", seed=0).tensors()
    s = tiny_system("sVQGAN-T", 5, size=32)                     # too few classes for SynthScenes' labels
    test_fail(lambda: reconstruction_table([s], {"synth": data}, compute_fid=False), contains="outside system sVQGAN-T's 5 classes")
    s = tiny_system("sVQGAN-T", len(SynthScenes.classes), size=32)
    test_fail(lambda: synthesis_table([s], {"synth": data}, reference="none", compute_fid=False), contains="needs a reference image")
    test_fail(lambda: synthesis_table([s], {"synth": data}, reference="gt"), contains="expected one of ('ground_truth', 'other', 'none')")
    test_fail(lambda: synthesis_table([s], {"synth": (data[0][:1], data[1])}, compute_fid=False), contains="1 images but 2 labels")


def test_tables_stream_each_ranks_batches():
    # issue 24, item 9: the tables held every image in memory, once per system and rank (list(_batches(...))), and the 'other'
    # protocol a second, concatenated copy (50,000 images at 256 px are about 39 GB per copy); each rank now loads only its
    # own batches, one at a time, and the references by index
    from unittest import mock
    from torch.utils.data import Dataset
    class Logged(Dataset):
        "SynthScenes tensors as a Dataset that logs each item it loads."
        def __init__(self, data, log): self.data, self.log = data, log
        def __len__(self): return len(self.data[1])
        def __getitem__(self, i): self.log.append(i); return {"image": self.data[0][i], "label": self.data[1][i]}
    data = SynthScenes(7, size=32, split="val", seed=0).tensors()
    n = len(SynthScenes.classes)
    systems = {"b": tiny_system("VQGAN-T", n, size=32), "p": tiny_system("sVQGAN-T", n, size=32)}
    log, loaded = [], []                           # loaded: how many items had been read when each batch was scored
    for s in systems.values():
        for f in ("reconstruct", "synthesize"):
            setattr(s, f, lambda *a, _f=getattr(s, f), **kw: (loaded.append(len(log)), _f(*a, **kw))[1])
    run = lambda d, ref: synthesis_table(systems, {"d": d}, batch_size=3, seed=1, compute_fid=False, reference=ref, progress=False)
    t = run(Logged(data, log), "other")
    test_eq(loaded, [3, 6, 7, 13, 19, 21])         # 3 batches per system: the baseline reads its images, the coupled one its references too
    test_eq(t.values, run(data, "other").values)   # the same table as from tensors
    log.clear(); loaded.clear()
    reconstruction_table(systems, {"d": Logged(data, log)}, batch_size=3, compute_fid=False, progress=False)
    test_eq(loaded, [3, 6, 7, 10, 13, 14])
    with mock.patch.dict(_my_batches.__globals__, _ranks=lambda: (1, 2)):           # rank 1 of 2 scores batches 1, 3, ...
        test_eq(_my_batches(7, 2), [(1, [2, 3]), (3, [6])])
