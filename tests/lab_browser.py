"""Helpers of the browser tests (`tests/test_browser*.py`): JupyterLab on a temporary copy of notebooks, Debian's Chromium
driven by Playwright, Run All through the menu, checks of the saved notebook, screenshots.

Not a test file itself. Every process a helper starts is stopped, also on failure. Needs `chromium` (Debian package;
`.ci/run` installs it): the tests are skipped when it is absent locally, an error in CI.
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


# the main path, index to 12: every one is opened and run in a browser (the appendices 9x are checked by nbdev_test only)
MAIN_PATH = ["index.ipynb"] + sorted(p.name for p in NBS.glob("[01][0-9]_*.ipynb"))


@contextmanager
def jupyter_lab(tmp_path: Path, notebooks: list[str]):
    "JupyterLab serving copies of `notebooks` from a temporary root; yields (base url, root folder)."
    root, settings, work = tmp_path / "nbs", tmp_path / "settings", tmp_path / "lab"
    root.mkdir(); work.mkdir()
    for nb in notebooks: shutil.copy(NBS / nb, root / nb)
    # what the notebooks read next to them (read only): the stored demo runs and benchmark results, and ../tests for 07's two-process worker
    for d in ("demo_results", "demo_results_long", "demo_results_long8", "bench_results"):
        if (NBS / d).is_dir(): (root / d).symlink_to(NBS / d, target_is_directory=True)
    (tmp_path / "tests").symlink_to(ROOT / "tests", target_is_directory=True)
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


# stderr we know of and have not fixed yet: notebook -> the messages tolerated there (anything else on stderr fails)
KNOWN_STDERR: dict[str, tuple[str, ...]] = {}


def _unknown_stderr(text: str, known: tuple[str, ...]) -> str:
    "`text` without the warnings that contain one of `known` (a warning is its line and the indented source line after it)."
    out, skip = [], False
    for line in text.splitlines():
        if any(k in line for k in known): skip = True; continue
        if skip and line.startswith("  "): continue
        skip = False; out.append(line)
    return "\n".join(l for l in out if l.strip())


def assert_ran_cleanly(nb: dict, name: str):
    "Every code cell has run, none raised and none wrote to stderr (warnings included; `KNOWN_STDERR` aside, reported)."
    for i, c in enumerate(nb["cells"]):
        if c["cell_type"] != "code": continue
        errors = [o for o in c.get("outputs", []) if o["output_type"] == "error"]
        assert not errors, f"{name} cell {i} raised {errors[0]['ename']}: {errors[0]['evalue']}\n" + "".join(c["source"])[:300]
        assert c.get("execution_count"), f"{name} cell {i} did not run: " + "".join(c["source"])[:200]
        stderr = "".join("".join(o["text"]) for o in c.get("outputs", []) if o["output_type"] == "stream" and o["name"] == "stderr")
        if stderr and KNOWN_STDERR.get(name):
            print(f"{name} cell {i}: known stderr, tolerated until it is fixed: {stderr.strip().splitlines()[0][:160]}")
            stderr = _unknown_stderr(stderr, KNOWN_STDERR[name])
        assert not stderr, f"{name} cell {i} wrote to stderr:\n{stderr[:1500]}\n--- cell:\n" + "".join(c["source"])[:300]


def stop_kernels(url: str):
    "Shut down every kernel the server runs (a notebook's kernel holds its models: free the memory for the next one)."
    req = lambda method, path: urllib.request.urlopen(urllib.request.Request(f"{url}{path}?token={TOKEN}", method=method), timeout=30)
    for k in json.loads(req("GET", "/api/kernels").read()): req("DELETE", f"/api/kernels/{k['id']}")


def run_notebook_in_lab(url: str, root: Path, name: str, timeout_s: float = 420) -> float:
    "A reader's round: open `name`, Run All, save, check that every cell ran cleanly, keep a screenshot; the seconds it took."
    t0 = time.time()
    with chromium_page() as page:
        open_notebook(page, url, name)
        nb = run_all_and_save(page, root, name, timeout_s=timeout_s)
        assert_ran_cleanly(nb, name)
        assert KNOWN_STDERR.get(name) or not _has_error(page), f"{name}: an output on stderr is shown"
        picture = page.locator(".jp-NotebookPanel .jp-OutputArea-output img").first   # its first picture, or its top
        if picture.count(): picture.scroll_into_view_if_needed()
        else: page.locator(".jp-NotebookPanel .jp-Cell").first.scroll_into_view_if_needed()
        screenshot(page, "notebook_" + Path(name).stem)
    stop_kernels(url)
    return time.time() - t0


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




def notebook_round_tests(notebooks: list[str]):
    "For a browser test file: a module-scoped JupyterLab serving `notebooks`, and one test per notebook (`run_notebook_in_lab`)."
    @pytest.fixture(scope="module")
    def lab(tmp_path_factory):
        "One JupyterLab for the notebooks of this module (stopped after the last one, also on failure)."
        with jupyter_lab(tmp_path_factory.mktemp("lab"), notebooks) as server: yield server

    @pytest.mark.parametrize("name", notebooks)
    def test_notebook_runs_in_jupyterlab(lab, name):
        url, root = lab
        print(f"{name} browser round: {run_notebook_in_lab(url, root, name):.0f} s")

    return lab, test_notebook_runs_in_jupyterlab
