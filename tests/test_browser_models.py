"""The main path in JupyterLab and Chromium, 04 to 06 (the stage-1 models, their losses, the Transformer): open, Run All,
save, every cell ran without an error or stderr, one screenshot each (see `test_browser.py` and the helpers in
`lab_browser.py`).
"""
from lab_browser import MAIN_PATH, notebook_round_tests

NOTEBOOKS = ['04_models.ipynb', '05_losses.ipynb', '06_transformer.ipynb']
assert set(NOTEBOOKS) <= set(MAIN_PATH)
lab, test_notebook_runs_in_jupyterlab = notebook_round_tests(NOTEBOOKS)
