"Pytest options for the tests generated from the notebooks: `--slow` and `--cuda` run the cells flagged so."
import os
import pytest
import fastcore.test

os.environ.setdefault("IN_TEST", "1")

# fastcore's helpers (test_eq, test_fail, ...) are imported into the test files by name: they are not tests themselves
for _name in dir(fastcore.test):
    if _name.startswith("test"):
        try: getattr(fastcore.test, _name).__test__ = False
        except (AttributeError, TypeError): pass


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", help="run tests from `#| slow` cells")
    parser.addoption("--cuda", action="store_true", help="run tests from `#| cuda` cells (needs a GPU)")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: heavy test, run with --slow")
    config.addinivalue_line("markers", "cuda: needs a GPU, run with --cuda")


def pytest_collection_modifyitems(config, items):
    for flag in ("slow", "cuda"):
        if config.getoption(f"--{flag}"): continue
        skip = pytest.mark.skip(reason=f"needs --{flag}")
        for item in items:
            if flag in item.keywords: item.add_marker(skip)
    if config.getoption("--cuda"):
        import torch
        if not torch.cuda.is_available():   # asked for GPU tests on a machine without one: report them skipped, not passed
            skip = pytest.mark.skip(reason="--cuda given but torch sees no GPU")
            for item in items:
                if "cuda" in item.keywords: item.add_marker(skip)
