"""JupyterLab in a real browser, as a student and as an instructor (Playwright driving Debian's chromium).

A scratch copy of the course is served by ``jupyter lab`` on localhost. The student opens their
copy of Module 1 (``course start``), runs Run All, saves, and presses Validate; the instructor opens
the Formgrader. Screenshots go to ``build/browser/`` (git-ignored). Skipped without Playwright
(``pip install playwright``) or chromium (``apt-get install chromium``).
"""
import shutil

import nbformat
import pytest

import jupyter_process
from conftest import ROOT
from course import run_all, workcopy

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")

MODULE = "01-regression"
TOKEN = "course-browser-test"
SHOTS = ROOT / "build" / "browser"
KERNEL_IDLE = ".jp-Notebook-ExecutionIndicator[data-status='idle']"
_PROMPTS = "[...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent.trim())"
#: Some code cell has run or is running; every code cell has an execution count.
STARTED = f"{_PROMPTS}.some(t => /\\[(\\d+|\\*)\\]/.test(t))"
ALL_RAN = f"(() => {{ const p = {_PROMPTS}; return p.length > 0 && p.every(t => /\\[\\d+\\]/.test(t)); }})()"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A course folder with Module 1 (source, release, a student's copy in work/) served by JupyterLab."""
    course = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    for folder in ("source", "release"):
        shutil.copytree(ROOT / folder / MODULE, course / folder / MODULE)
    (course / "autograde").mkdir()
    workcopy.start(MODULE, course)
    with jupyter_process.running("lab", course, TOKEN, wait_seconds=120) as base:
        SHOTS.mkdir(parents=True, exist_ok=True)
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                                 args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            yield base, course, browser
            browser.close()


def _open(browser, url: str, ready: str, shot: str):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{url}{'&' if '?' in url else '?'}token={TOKEN}")
    try:
        page.wait_for_selector(ready, timeout=120_000)
    except sync_api.TimeoutError:
        page.screenshot(path=SHOTS / f"{shot}-not-ready.png")
        pytest.fail(f"{url}: '{ready}' never appeared (screenshot {SHOTS / shot}-not-ready.png)")
    return page


def _menu(page, menu: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=menu).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=item).first.click()


def test_student_run_all_executes_every_cell_and_validate_reports(lab):
    base, course, browser = lab
    url = f"{base}/lab/tree/{workcopy.WORK_FOLDER}/{MODULE}/{MODULE}.ipynb"
    page = _open(browser, url, KERNEL_IDLE, "student-notebook")
    # On a busy machine the kernel may still be connecting when the page looks ready, and a Run All
    # issued then is dropped: ask again until cells start, then wait until none is left to run.
    for _ in range(3):
        _menu(page, "Run", "Run All Cells")
        try:
            page.wait_for_function(STARTED, timeout=30_000)
            break
        except sync_api.TimeoutError:
            continue
    page.wait_for_function(ALL_RAN, timeout=600_000, polling=2000)
    page.wait_for_selector(KERNEL_IDLE, timeout=600_000)
    page.keyboard.press("Control+s")
    page.wait_for_timeout(3000)
    page.screenshot(path=SHOTS / "student-after-run-all.png")

    nb = nbformat.read(course / workcopy.WORK_FOLDER / MODULE / f"{MODULE}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    idle = [c.id for c in code if not c.execution_count]
    assert not idle, f"{url}: Run All left {len(idle)} of {len(code)} code cells unexecuted, first {idle[0]}"
    failed = [c for c in code if any(o.output_type == "error" for o in c.outputs)]
    assert failed, f"{url}: the blank exercises should fail their checks"
    untagged = [c.id for c in failed if run_all.TAG not in c.metadata.get("tags", [])]
    assert not untagged, f"{url}: cells that are not exercises or checks failed: {untagged}"
    figures = sum("image/png" in o.get("data", {}) for c in code for o in c.outputs)
    assert figures >= 5, f"{url}: only {figures} figures"

    page.get_by_role("button", name="Validate").first.click()
    try:
        page.wait_for_selector("text=Validation Results", timeout=300_000)
    except sync_api.TimeoutError:
        page.screenshot(path=SHOTS / "student-validate.png")
        pytest.fail(f"{url}: no 'Validation Results' dialog after pressing Validate")
    page.screenshot(path=SHOTS / "student-validate.png")
    assert "NotImplementedError" in page.inner_text(".jp-Dialog"), f"{url}: Validate listed no failing exercise"


def test_student_assignment_list_shows_no_exchange_errors(lab):
    base, _, browser = lab
    page = _open(browser, f"{base}/lab", ".lm-MenuBar-itemLabel", "assignment-list")
    _menu(page, "Nbgrader", "Assignment List")
    page.wait_for_timeout(8000)
    page.screenshot(path=SHOTS / "student-assignment-list.png")
    text = page.inner_text("body")
    assert "Error fetching courses" not in text and "exchange directory" not in text, \
        f"{base}/lab Assignment List: exchange errors shown"


def test_instructor_formgrader_lists_the_module_without_warnings(lab):
    base, _, browser = lab
    page = _open(browser, f"{base}/formgrader", "text=Manage Assignments", "formgrader")
    page.wait_for_selector(f"text={MODULE}", timeout=60_000)
    page.screenshot(path=SHOTS / "instructor-formgrader.png")
    assert page.locator("#warning-exchange").count() == 0, f"{base}/formgrader: exchange warning shown"
