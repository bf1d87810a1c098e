"""The main path in JupyterLab and Chromium, 09 and 10 (metrics, the paper's tables): open, Run All, save, every cell ran
without an error or stderr, one screenshot each (see `test_browser.py` and the helpers in `lab_browser.py`).
"""
from lab_browser import MAIN_PATH, notebook_round_tests

NOTEBOOKS = ['09_metrics.ipynb', '10_evaluation.ipynb']
assert set(NOTEBOOKS) <= set(MAIN_PATH)
lab, test_notebook_runs_in_jupyterlab = notebook_round_tests(NOTEBOOKS)
