"""The notebooks as a reader meets them: JupyterLab in Debian's Chromium, driven by Playwright (helpers in `lab_browser.py`).

Hand-written (not generated from a notebook). A JupyterLab on 127.0.0.1 with a token serves COPIES of the notebooks from a
temporary folder (Lab autosaves); every main-path notebook, index to 12, is opened, run with Run All from the menu, saved,
and checked: every cell ran, none raised, nothing was written to stderr; one screenshot per notebook is kept in
`_artifacts/browser/` (gitignored). `IN_TEST=1` is set for the kernels, so the notebooks run at their test sizes. The
compare test then moves the widget's example slider and seed like a person would and checks that the sample pictures
change. This file runs index, 01-03 and 11; `test_browser_models.py` (04-06), `test_browser_training.py` (07, 08),
`test_browser_evaluation.py` (09, 10) and `test_browser_demo.py` (12) the rest, in files small enough that `pytest -n 2`
spreads them over both workers.
"""
import ast, shutil, subprocess, sys, time
from pathlib import Path

import pytest

from lab_browser import (ROOT, NBS, MAIN_PATH, jupyter_lab, chromium_page, open_notebook, run_all_and_save, assert_ran_cleanly,
                         run_notebook_in_lab, stop_kernels, screenshot, sample_sources, wait_for_new_samples, _has_error, expect)

# index and 11_compare have their own tests below (a picture, the widget); with them this file runs 01 to 03
NOTEBOOKS = ["01_data.ipynb", "02_quantize.ipynb", "03_modules.ipynb"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    "One JupyterLab for the notebook tests of this module (stopped after the last one, also on failure)."
    with jupyter_lab(tmp_path_factory.mktemp("lab"), ["11_compare.ipynb", "index.ipynb"] + NOTEBOOKS) as server: yield server


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_in_jupyterlab(lab, name):
    url, root = lab
    print(f"{name} browser round: {run_notebook_in_lab(url, root, name):.0f} s")


def test_compare_widget_in_jupyterlab(lab):
    t0, (url, root) = time.time(), lab
    with chromium_page(height=1700) as page:
        open_notebook(page, url, "11_compare.ipynb")
        nb = run_all_and_save(page, root, "11_compare.ipynb")
        assert_ran_cleanly(nb, "11_compare")
        widget = page.locator(".svq-compare")
        expect(widget).to_have_count(1, timeout=30_000)
        samples = sample_sources(page)
        assert len(samples) == 3 * 4, f"expected 4 samples of each of 3 systems, got {len(samples)}"
        assert all(s.startswith("data:image/png;base64,") for s in samples)
        # a sample is shown at exactly the size it was rendered at (no stretching)
        sizes = page.locator(".svq-compare img.svq-sample").evaluate_all(
            "els => els.map(e => [e.naturalWidth, e.naturalHeight, e.getBoundingClientRect().width, e.getBoundingClientRect().height])")
        assert all(nw == w and nh == h for nw, nh, w, h in sizes), sizes
        page.evaluate("""() => { window.__svqBusy = 0;
            new MutationObserver(() => { if (document.querySelector('.svq-busy')) window.__svqBusy++; })
              .observe(document.body, {subtree: true, childList: true, characterData: true}); }""")
        # the example slider, moved with the keyboard as a person would
        slider = page.locator(".widget-slider", has=page.locator(".widget-label", has_text="example"))
        slider.locator(".noUi-handle").focus()
        page.keyboard.press("ArrowRight")
        samples2 = wait_for_new_samples(page, samples, "moving the example slider")
        expect(widget.locator("figure", has_text="semantic map #1")).to_have_count(1)
        # the seed, typed
        seed = page.locator(".widget-text", has=page.locator(".widget-label", has_text="seed")).locator("input")
        seed.fill("7"); seed.press("Enter")
        samples3 = wait_for_new_samples(page, samples2, "typing a new seed")
        assert page.evaluate("window.__svqBusy") > 0, "no busy indicator was shown while sampling"
        expect(widget.locator(".svq-title")).to_contain_text("seed 7")
        # the lost-class toggle and a reference protocol the plain sVQGAN-T cannot use
        page.locator("button", has_text="highlight lost classes").click()
        wait_for_new_samples(page, samples3, "switching on the lost-class highlight")
        page.locator(".widget-toggle-buttons button", has_text="none").click()
        expect(widget.locator(".svq-error")).to_contain_text("cannot sample without one", timeout=30_000)
        assert not _has_error(page), "a widget callback wrote to stderr"
        controls = page.locator(".jp-OutputArea-output .widget-vbox").first
        controls.scroll_into_view_if_needed()
        screenshot(page, "notebook_11_compare", controls)
    stop_kernels(url)
    print(f"11_compare browser round: {time.time() - t0:.0f} s")


def test_index_runs_in_jupyterlab(lab):
    t0, (url, root) = time.time(), lab
    with chromium_page() as page:
        open_notebook(page, url, "index.ipynb")
        nb = run_all_and_save(page, root, "index.ipynb", timeout_s=120)
        assert_ran_cleanly(nb, "index")
        picture = page.locator(".jp-NotebookPanel .jp-OutputArea-output img").first
        expect(picture).to_be_visible()                                   # its picture is there
        picture.scroll_into_view_if_needed()
        screenshot(page, "notebook_index")
    stop_kernels(url)
    print(f"index browser round: {time.time() - t0:.0f} s")


def test_docs_site_in_chromium(tmp_path):
    "`make docs`'s builder on three of the notebooks (the whole site takes half a minute more), then a reader's click."
    nbs, out = tmp_path / "nbs", tmp_path / "docs"
    nbs.mkdir()
    for nb in ("index.ipynb", "01_data.ipynb", "11_compare.ipynb"): shutil.copy(NBS / nb, nbs / nb)
    subprocess.run([sys.executable, str(ROOT / "tests" / "build_docs.py"), "--nbs", str(nbs), "--out", str(out)], check=True,
                   cwd=ROOT, timeout=300)
    assert 'href="12_demo.html"' not in (out / "index.html").read_text()   # only pages that exist are linked
    with chromium_page() as page:
        page.goto((out / "index.html").as_uri())
        link = page.locator("a.svq-nb-link", has_text="11_compare").first
        expect(link).to_have_count(1)
        link.click()
        page.wait_for_load_state()
        assert page.url.endswith("/11_compare.html"), page.url
        expect(page.locator("h1").first).to_contain_text("Compare")
        expect(page.locator("nav.svq-docs-nav a", has_text="index")).to_have_count(1)
        screenshot(page, "docs_11_compare")


def test_browser_rounds_cover_the_main_path():
    "Every main-path notebook, index to 12, is run in exactly one of the browser test files."
    covered = ["index.ipynb", "11_compare.ipynb"]                  # the two with their own tests above
    for f in sorted(Path(__file__).parent.glob("test_browser*.py")):
        for node in ast.parse(f.read_text()).body:
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "NOTEBOOKS": covered += ast.literal_eval(node.value)
    assert sorted(covered) == sorted(MAIN_PATH), sorted(set(MAIN_PATH) ^ set(covered))
