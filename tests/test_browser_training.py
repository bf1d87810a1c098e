"""The main path in JupyterLab and Chromium, 07 and 08 (training, synthesis): open, Run All, save, every cell ran without
an error or stderr, one screenshot each (see `test_browser.py` and the helpers in `lab_browser.py`).
"""
from lab_browser import MAIN_PATH, notebook_round_tests

NOTEBOOKS = ['07_training.ipynb', '08_synthesis.ipynb']
assert set(NOTEBOOKS) <= set(MAIN_PATH)
lab, test_notebook_runs_in_jupyterlab = notebook_round_tests(NOTEBOOKS)
