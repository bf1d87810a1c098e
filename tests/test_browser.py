"""The notebooks as a reader meets them: JupyterLab in Debian's Chromium, driven by Playwright.

Hand-written (not generated from a notebook). Each test starts JupyterLab on 127.0.0.1 with a token and a temporary root
folder holding COPIES of the notebooks (Lab autosaves), runs every cell through the Run menu, and checks the saved
notebook for errors. The compare test then moves the widget's example slider and seed like a person would and checks
that the sample pictures change. `IN_TEST=1` is set for the kernels, so the notebooks run at their test sizes.
Screenshots are kept in `_artifacts/browser/` (gitignored). Every process a test starts is stopped, also on failure.
Needs `chromium` (Debian package; `.ci/run` installs it): skipped when it is absent locally, an error in CI.
"""
import json, os, re, shutil, signal, socket, subprocess, sys, time, urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / "nbs"
ARTIFACTS = ROOT / "_artifacts" / "browser"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LAUNCH_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]
TOKEN = "svq-browser-test"

if CHROMIUM is None:
    if os.environ.get("CI"):
        raise RuntimeError("the browser tests need Debian's chromium: .ci/run should have installed it (apt-get install -y chromium)")
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium): browser tests skipped", allow_module_level=True)

from playwright.sync_api import sync_playwright, expect  # noqa: E402  (after the skip: nothing to drive without chromium)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    "Every live process below `pid` (from /proc), children first."
    kids = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit(): continue
        try: ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError): continue
        kids.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        for k in kids.get(todo.pop(), []): out.append(k); todo.append(k)
    return out


def _stop(proc: subprocess.Popen) -> None:
    "Stop the server and everything it started (kernels): SIGTERM, then SIGKILL what is left."
    procs = _descendants(proc.pid)
    if proc.poll() is None: proc.send_signal(signal.SIGTERM)
    try: proc.wait(timeout=15)
    except subprocess.TimeoutExpired: proc.kill(); proc.wait()
    for pid in procs:
        try: os.kill(pid, signal.SIGKILL)
        except ProcessLookupError: pass


@contextmanager
def jupyter_lab(tmp_path: Path, notebooks: list[str]):
    "JupyterLab serving copies of `notebooks` from a temporary root; yields (base url, root folder)."
    root, settings, work = tmp_path / "root", tmp_path / "settings", tmp_path / "lab"
    root.mkdir(); work.mkdir()
    for nb in notebooks: shutil.copy(NBS / nb, root / nb)
    for ext, cfg in {"apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
                     "notebook-extension/tracker": {"windowingMode": "none"}}.items():   # every cell in the DOM
        f = settings / "@jupyterlab" / f"{ext}.jupyterlab-settings"
        f.parent.mkdir(parents=True, exist_ok=True); f.write_text(json.dumps(cfg))
    port = _free_port()
    env = {**os.environ, "IN_TEST": "1", "OMP_NUM_THREADS": "1", "JUPYTER_RUNTIME_DIR": str(work / "runtime"),
           "JUPYTER_PLATFORM_DIRS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [str(Path(sys.executable).parent / "jupyter-lab"), "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}", f"--LabApp.user_settings_dir={settings}",
           f"--LabApp.workspaces_dir={work}", "--ServerApp.open_browser=False"]
    log = open(tmp_path / "jupyter.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(120):
            if proc.poll() is not None: raise RuntimeError(f"jupyter lab exited with {proc.returncode}: {(tmp_path / 'jupyter.log').read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2); break
            except OSError: time.sleep(0.5)
        else: raise RuntimeError("jupyter lab did not answer within 60 s")
        yield url, root
    finally:
        _stop(proc); log.close()


@contextmanager
def chromium_page(height: int = 1000):
    "A Chromium page (Debian's browser through Playwright), closed on exit."
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try: yield browser.new_page(viewport={"width": 1400, "height": height})
        finally: browser.close()


def open_notebook(page, url: str, name: str):
    "Open `name` and wait for its kernel; a kernel dialog (no kernelspec) fails the test."
    page.goto(f"{url}/lab/tree/{name}?token={TOKEN}&reset")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
    expect(page.get_by_text(re.compile(r"Python 3 \(ipykernel\) \| Idle"))).to_have_count(1, timeout=90_000)
    time.sleep(1)
    assert page.locator(".jp-Dialog").count() == 0, f"{name} opened with a dialog: " + page.locator(".jp-Dialog").first.inner_text()


def run_all_and_save(page, root: Path, name: str, timeout_s: float = 240) -> dict:
    "Run All Cells from the menu, wait until every code cell ran, save; return the saved notebook (Lab's copy)."
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
    prompts = page.locator(".jp-NotebookPanel .jp-CodeCell .jp-InputArea-prompt")
    deadline = time.time() + timeout_s
    while True:   # '[*]:' running, '[ ]:' not run yet, '[3]:' done
        texts = prompts.all_inner_texts()
        idle = page.locator(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']").count() == 1
        if texts and idle and all(t.strip()[1:-2].strip().isdigit() for t in texts): break
        if idle and any("*" not in t and not t.strip()[1:-2].strip() for t in texts) and _has_error(page): break   # stopped at an error
        if time.time() > deadline: raise AssertionError(f"{name}: cells still running after {timeout_s} s: {texts}")
        time.sleep(0.5)
    before = (root / name).stat().st_mtime
    page.keyboard.press("Control+s")
    for _ in range(60):
        if (root / name).stat().st_mtime != before: break
        time.sleep(0.25)
    time.sleep(0.5)
    return json.loads((root / name).read_text())


def _has_error(page) -> bool:
    return page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() > 0


def assert_ran_cleanly(nb: dict, name: str):
    "Every code cell has run and none raised."
    for i, c in enumerate(nb["cells"]):
        if c["cell_type"] != "code": continue
        errors = [o for o in c.get("outputs", []) if o["output_type"] == "error"]
        assert not errors, f"{name} cell {i} raised {errors[0]['ename']}: {errors[0]['evalue']}\n" + "".join(c["source"])[:300]
        assert c.get("execution_count"), f"{name} cell {i} did not run: " + "".join(c["source"])[:200]


def screenshot(page, stem: str, locator=None) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{stem}.png"
    (locator or page).screenshot(path=str(path))
    print(f"screenshot: {path}")
    return path


def sample_sources(page) -> list[str]:
    return page.locator(".svq-compare img.svq-sample").evaluate_all("els => els.map(e => e.src)")


def wait_for_new_samples(page, old: list[str], what: str, timeout_s: float = 60):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        new = sample_sources(page)
        if new and new != old and page.locator(".svq-busy").count() == 0: return new
        time.sleep(0.25)
    raise AssertionError(f"the sample pictures did not change after {what}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    "One JupyterLab for the notebook tests of this module (stopped after the last one, also on failure)."
    with jupyter_lab(tmp_path_factory.mktemp("lab"), ["11_compare.ipynb", "index.ipynb"]) as server: yield server


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
        screenshot(page, "11_compare_widget", controls)
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
        screenshot(page, "index_page")
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
