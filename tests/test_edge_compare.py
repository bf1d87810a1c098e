"""Error messages of the comparison (`svq_nb.compare`): bad settings and inputs, moved out of nbs/11_compare.ipynb (issue 25).

Hand-written: edit this file, not the notebook."""
from fastcore.test import *
import pytest
from svq_nb.data import SynthScenes
from svq_nb.synthesis import tiny_system
from svq_nb.compare import CompareSettings, check_compare_inputs, derangement, reference_image, reference_index



def test_settings_checks():
    s = CompareSettings(top_k=0, top_p=1.0)
    test_eq(s.sampling(), dict(n_samples=4, seed=0, temperature=1.0, top_k=0, top_p=None))     # top-k 0: off in synthesize
    test_eq(CompareSettings().sampling()["top_k"], None)                                        # None: each system's own
    test_eq(CompareSettings(top_k=5, top_p=0.9).sampling()["top_k"], 5)
    test_fail(lambda: CompareSettings(reference="gt"), contains="expected one of ('ground truth'")
    test_fail(lambda: CompareSettings(top_p=0.0), contains="top_p must be in (0, 1]")
    test_fail(lambda: CompareSettings(n_samples=0), contains="n_samples must be >= 1")
    test_eq(CompareSettings(seed=1) == CompareSettings(seed=1), True)   # hashable and comparable: a cache key
    for n in (2, 3, 7, 50):
        p = derangement(n)
        test_eq(sorted(p), list(range(n)))                               # a permutation ...
        assert all(p[i] != i for i in range(n))                          # ... that moves every example
        test_eq(derangement(n), p)                                       # fixed: the same every time
    assert any(derangement(50, seed=s) != derangement(50) for s in (1, 2))   # and it depends on its seed
    test_fail(lambda: derangement(1), contains="at least 2 examples")


def test_inputs_and_reference():
    img, lab = SynthScenes(3, size=32, seed=1).tensors()
    s = tiny_system("VQGAN-T", len(SynthScenes.classes), size=32)
    check_compare_inputs({"a": s}, img, lab)
    test_fail(lambda: check_compare_inputs({}, img, lab), contains="non-empty dict")
    test_fail(lambda: check_compare_inputs({"a": s}, img, lab[:2]), contains="labels must be [N, H, W]")
    test_fail(lambda: check_compare_inputs({"a": s}, img[..., :16, :16], lab[..., :16, :16]), contains="built for 32 px")
    test_fail(lambda: check_compare_inputs({"a": s}, img, lab + 100), contains="outside system 'a'")
    test_fail(lambda: check_compare_inputs({"a": "x"}, img, lab), contains="expected an svq_nb System")
    test_eq(reference_image(img, 1, "ground truth"), img[1:2])
    for i in range(3):
        j = derangement(3)[i]
        assert j != i; test_eq(reference_index(3, i, "other example"), j); test_eq(reference_image(img, i, "other example"), img[j:j + 1])
    assert reference_image(img, 0, "none") is None
    test_fail(lambda: reference_image(img, 3, "none"), contains="out of range for 3 examples")
    test_fail(lambda: reference_image(img[:1], 0, "other example"), contains="at least 2 examples")
