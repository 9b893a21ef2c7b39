"""``course grade`` on a copy of the course with a class of broken and hostile Module 1 submissions.

One grading run (module fixture, a few minutes on two cores); each test checks one promise: every
student gets a grade or a reason, no cheat pays, nothing outside ``autograde/`` changes, no
process outlives grading, no kernel reaches the network, feedback shows no hidden test.
"""
import csv
import hashlib
import html
import re
import shutil
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import nbformat
import pytest

import grading_corpus
from conftest import ROOT
from course import answers, scrub

MODULE = grading_corpus.MODULE


def tree_hash(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and "autograde" not in p.relative_to(folder).parts[:1]}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    grading_corpus.require_sandbox()
    course = tmp_path_factory.mktemp("course-copy")
    shutil.copy2(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "source" / MODULE, course / "source" / MODULE)
    # An existing gradebook (to be backed up) and a linked autograded/ pointing at source/.
    (course / "autograde").mkdir()
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", MODULE, "--force",
                    f"--CourseDirectory.release_directory={tmp_path_factory.mktemp('unused')}"],
                   cwd=course, check=True, capture_output=True)
    (course / "autograde" / "autograded").symlink_to(course / "source")
    (course / "autograde" / "grades.csv").symlink_to(course / "source" / MODULE / f"{MODULE}.ipynb")
    (course / "autograde" / "feedback" / "solution").mkdir(parents=True)
    (course / "autograde" / "feedback" / "solution" / MODULE).symlink_to(course / "source" / MODULE)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.5)
    reached = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                reached.append(listener.accept())
            except OSError:
                pass

    threading.Thread(target=accept, daemon=True).start()
    marker = f"detached-{uuid.uuid4().hex}"
    expected = grading_corpus.build(ROOT, course, listener.getsockname()[1], marker)
    before = tree_hash(course)
    done = subprocess.run([sys.executable, "-m", "course", "grade", MODULE, "--jobs", "2", "--cell-timeout", "60",
                           "--notebook-timeout", "240", "--memory", "2"], cwd=course, capture_output=True, text=True)
    stop.set()
    survivors = [p for p in Path("/proc").glob("[0-9]*") if _cmdline(p).count(marker)]
    return dict(course=course, done=done, expected=expected, before=before, after=tree_hash(course),
                reached=reached, survivors=survivors)


def _cmdline(process: Path) -> str:
    try:
        return (process / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def grades(run) -> dict:
    with (run["course"] / "autograde" / "grades.csv").open(newline="") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def test_the_run_finishes_with_a_line_for_every_student(run):
    done = run["done"]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert len(run["expected"]) >= 25
    summary = done.stdout.split(f"{MODULE}: ", 1)[1]
    for student in run["expected"]:
        assert any(line.strip().startswith(student) for line in summary.splitlines()), student
    assert "checksum" not in done.stdout + done.stderr, "no log noise on the terminal"
    log = (run["course"] / "autograde" / "grade.log").read_text()
    assert "===== hang" in log and "autograde" in log.lower()


def test_every_student_gets_the_grade_or_flag_it_deserves(run):
    rows = grades(run)
    wrong = {}
    for student, expect in run["expected"].items():
        key = "'" + student if student.startswith("=") else student
        row = rows.get(key)
        if row is None:
            wrong[student] = "no row in grades.csv"
        elif isinstance(expect, float):
            if row["status"] != "graded" or float(row["score"]) != expect:
                wrong[student] = (row["score"], row["status"], f"expected {expect}")
        elif not row["status"].startswith("ungradable: " + expect):
            wrong[student] = (row["status"], f"expected ungradable: {expect}")
    assert wrong == {}


def test_grades_csv_cannot_run_formulas(run):
    text = (run["course"] / "autograde" / "grades.csv").read_text()
    assert ",'=1+1," in text
    for row in csv.reader(text.splitlines()[1:]):
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row), row


def test_hostile_code_reaches_nothing(run):
    executed = nbformat.read(run["course"] / "autograde" / "autograded" / "hostile-probes" / MODULE / f"{MODULE}.ipynb",
                             as_version=4)
    printed = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    probes = re.findall(r"PROBE (.+?): (\w+)", printed)
    assert len(probes) == 8 and all(result == "blocked" for _, result in probes), probes
    assert run["reached"] == [], "a kernel reached a port on the grader's loopback"
    assert run["survivors"] == [], "a process started by a kernel outlived grading"


def test_nothing_outside_autograde_changes(run):
    assert run["after"] == run["before"]
    autograde = run["course"] / "autograde"
    assert (autograde / "autograded").is_dir() and not (autograde / "autograded").is_symlink()
    assert not (autograde / "grades.csv").is_symlink()
    assert not (autograde / "feedback" / "solution" / MODULE).is_symlink()
    assert list((autograde / "backups").glob("gradebook-*.db")), "the gradebook is backed up before writing"


def test_library_noise_on_stderr_keeps_full_marks(run):
    executed = nbformat.read(run["course"] / "autograde" / "autograded" / "noisy-forged" / MODULE / f"{MODULE}.ipynb",
                             as_version=4)
    test = next(c for c in executed.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_empirical_risk")
    assert any(o.get("name") == "stderr" for o in test.outputs), "the noise must reach the graded cell"
    assert grades(run)["noisy-forged"]["score"] == "21.0"


def test_notes_name_what_was_neutralised(run):
    out = run["done"].stdout
    assert "repeats test_ridge_fit" in out and "(bonus)" in out and "course.py" in out
    assert f"graded {MODULE} (1).ipynb as {MODULE}.ipynb" in out


def test_feedback_shows_no_hidden_test_and_stays_small(run):
    source = nbformat.read(ROOT / "source" / MODULE / f"{MODULE}.ipynb", as_version=4)
    secrets = scrub.hidden_lines(source)
    assert len(secrets) > 20
    pages = list((run["course"] / "autograde" / "feedback").glob(f"*/{MODULE}/{MODULE}.html"))
    graded = {s for s, e in run["expected"].items() if isinstance(e, float)}
    assert {p.parent.parent.name for p in pages} == graded
    for page in pages:
        raw = page.read_text()
        text = html.unescape(re.sub(r"<[^>]+>", "", raw))
        assert "HIDDEN TESTS" not in text, page
        assert [s for s in secrets if s in text] == [], page
        assert page.stat().st_size < 4 * 1024**2, page
    blank = (run["course"] / "autograde" / "feedback" / "blank" / MODULE / f"{MODULE}.html").read_text()
    assert "NotImplementedError" in blank, "failed tests still show the student why"


def test_feedback_typesets_mathematics_offline(run):
    # nbgrader's feedback template loads MathJax from a CDN; course grade points it at a copy beside
    # the page (hard links: no disk per student), so formulas render without a network.
    page = run["course"] / "autograde" / "feedback" / "solution" / MODULE / f"{MODULE}.html"
    raw = page.read_text()
    assert "cdnjs.cloudflare.com" not in raw
    script = re.search(r'<script src="(mathjax/MathJax\.js)\?', raw)
    assert script and (page.parent / script.group(1)).is_file()
    assert (page.parent / "mathjax" / "config" / "local" / "course.js").is_file()
    assert not any(answers.MARK in p.read_text() for p in page.parent.parent.parent.glob(f"*/{MODULE}/{MODULE}.html"))
