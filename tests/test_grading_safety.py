"""The pieces of safe grading, checked fast: judging, feedback scrubbing, CSV escaping, file names,
submission checks and the refusal to run without a sandbox."""
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from conftest import ROOT
from course import classgrade, gradebook_io, scrub, submissions

HIDDEN_TEST = ("assert f(2) == 4\n### BEGIN HIDDEN TESTS\nassert f(10) == 100, 'secret expectation'\n"
               "assert abs(f(0.5) - 0.25) < 1e-12\n### END HIDDEN TESTS\n")


def graded_cell(grade_id, source="pass", points=1, outputs=(), count=1):
    cell = new_code_cell(source, execution_count=count, outputs=list(outputs))
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": grade_id, "points": points, "locked": True,
                                 "solution": False, "schema_version": 3, "task": False}
    return cell


def test_judge_scores_errors_zero_and_stderr_full():
    error = new_output("error", ename="AssertionError", evalue="", traceback=["AssertionError"])
    noise = new_output("stream", name="stderr", text="DeprecationWarning: something\n")
    executed = new_notebook(cells=[graded_cell("a", outputs=[noise], points=2), graded_cell("b", outputs=[error]),
                                   graded_cell("c", count=None)])
    assert classgrade.judge(executed, {"a": 2, "b": 1, "c": 1, "missing": 3}) == {"a": 2, "b": 0, "c": 0, "missing": 0}


def test_strip_hidden_removes_regions_even_unterminated():
    assert "f(10)" not in scrub.strip_hidden(HIDDEN_TEST) and "f(2) == 4" in scrub.strip_hidden(HIDDEN_TEST)
    assert scrub.strip_hidden("a = 1\n### BEGIN HIDDEN TESTS\nassert a == 2\n") == "a = 1\n" + scrub.PLACEHOLDER


def test_scrub_hides_quoted_hidden_lines_and_caps_bytes():
    source = new_notebook(cells=[graded_cell("t", HIDDEN_TEST)])
    traceback = ["\x1b[0;31mAssertionError\x1b[0m Traceback", "----> 3 assert f(10) == 100, 'secret expectation'",
                 "AssertionError: secret expectation"]
    executed = new_notebook(cells=[graded_cell("t", HIDDEN_TEST, outputs=[
        new_output("error", ename="AssertionError", evalue="secret expectation", traceback=traceback),
        new_output("stream", name="stdout", text="x" * (10 * scrub.MAX_CELL_TEXT_BYTES)),
        new_output("display_data", data={"image/png": "A" * (2 * scrub.MAX_CELL_DATA_BYTES)})])])
    clean = scrub.scrub(executed, source)
    text = nbformat.writes(clean)
    assert "f(10)" not in text and "secret expectation" not in text and "abs(f(0.5)" not in text
    assert "f(2) == 4" in text and scrub.HIDDEN_LINE in text
    assert len(text.encode()) < 2 * scrub.MAX_CELL_TEXT_BYTES + 10_000
    assert "bytes of output cut" in text and "output too large" in text


@pytest.mark.parametrize("value,shown", [("=1+1", "'=1+1"), ("+cmd", "'+cmd"), ("@SUM(A1)", "'@SUM(A1)"),
                                         ("-2", "'-2"), ("alice", "alice"), ("21.0", "21.0")])
def test_spreadsheet_safe(value, shown):
    assert gradebook_io.spreadsheet_safe(value) == shown


@pytest.mark.parametrize("name,ok", [("01-regression.ipynb", True), ("01-regression (1).ipynb", True),
                                     ("alice_01-regression.ipynb", True), ("01-Regression-2.ipynb", True),
                                     ("01-regression copy.ipynb", True), ("02-kernels.ipynb", False),
                                     ("01-regression.ipynb.bak", False), ("x01-regression.ipynb", False)])
def test_lms_file_names(name, ok):
    assert bool(submissions.notebook_name_pattern("01-regression").match(name)) == ok


@pytest.mark.parametrize("name", ["a/b", "..", "a..b", "-rf", "new\nline", "*", "", "x" * 65, "é"])
def test_unsafe_student_ids_are_named(name):
    assert submissions.reason_for_student_id(name)


def test_duplicated_and_forged_grade_cells_become_ordinary(tmp_path):
    release = new_notebook(cells=[graded_cell("t", "assert True")])
    forged = new_notebook(cells=[graded_cell("t", "assert True", points=50), graded_cell("t", "pass"),
                                 graded_cell("bonus", points=100)])
    for index, cell in enumerate(forged.cells):
        cell.id = f"c{index}"
    clean, notes = submissions.normalize(forged, release, "01-x")
    kinds = [c.metadata.get("nbgrader", {}).get("points") for c in clean.cells]
    assert kinds == [1, None, None] and len(notes) == 2
    assert all(c.outputs == [] and c.execution_count is None for c in clean.cells)


def test_grading_without_a_sandbox_refuses_clearly(tmp_path):
    course = tmp_path / "course"
    (course / "source").mkdir(parents=True)
    shutil.copy2(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "source" / "01-regression", course / "source" / "01-regression")
    empty_path = tmp_path / "bin"
    empty_path.mkdir()
    env = {**os.environ, "PATH": str(empty_path)}
    done = subprocess.run([sys.executable, "-m", "course", "grade", "01-regression"], cwd=course, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert "refusing to run student code without a sandbox" in done.stderr and "--trusted-without-sandbox" in done.stderr
    assert not (course / "autograde" / "grades.csv").exists()


def tiny_course(folder):
    """A one-exercise course: fast to grade, sandboxed or not."""
    answer = new_code_cell("def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION", id="answer")
    answer.metadata["nbgrader"] = {"grade": False, "grade_id": "square", "locked": False, "solution": True,
                                   "schema_version": 3, "task": False}
    test = graded_cell("test_square", "assert square(3) == 9\n### BEGIN HIDDEN TESTS\n"
                       "assert square(-4) == 16, 'negative numbers square to positive ones'\n### END HIDDEN TESTS",
                       points=2, count=None)
    test.id = "test"
    (folder / "source" / "01-tiny").mkdir(parents=True)
    (folder / "autograde").mkdir()
    shutil.copy2(ROOT / "nbgrader_config.py", folder)
    nbformat.write(new_notebook(cells=[answer, test], metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}}), folder / "source" / "01-tiny" / "01-tiny.ipynb")
    subprocess.run([sys.executable, "-m", "course", "release", "01-tiny"], cwd=folder, check=True, capture_output=True)
    release = nbformat.read(folder / "release" / "01-tiny" / "01-tiny.ipynb", as_version=4)
    for student, code in (("good", "def square(x):\n    return x * x"),
                          ("wrong", "def square(x):\n    return 3 * abs(x) if x < 0 else x * x")):
        notebook = nbformat.from_dict(release)
        notebook.cells[0].source = code
        (folder / "autograde" / "submitted" / student / "01-tiny").mkdir(parents=True)
        nbformat.write(notebook, folder / "autograde" / "submitted" / student / "01-tiny" / "01-tiny.ipynb")
    return folder


def test_regrading_is_idempotent_and_the_unsandboxed_mode_agrees(tmp_path):
    course = tiny_course(tmp_path)
    runs = []
    for extra in ([], ["--trusted-without-sandbox"]):  # a re-run, and without the sandbox
        if not extra and classgrade.sandbox.unavailable():
            continue
        done = subprocess.run([sys.executable, "-m", "course", "grade", "01-tiny", *extra], cwd=course,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        runs.append((course / "autograde" / "grades.csv").read_text())
    assert all(run == runs[0] for run in runs), runs  # show both grades.csv when the runs disagree
    assert runs[0].splitlines()[1:] == ["01-tiny,good,2.0,2.0,graded", "01-tiny,wrong,0.0,2.0,graded"]
    feedback = (course / "autograde" / "feedback" / "wrong" / "01-tiny" / "01-tiny.html").read_text()
    assert "AssertionError" in feedback and "square(-4)" not in feedback and "negative numbers" not in feedback
    assert len(list((course / "autograde" / "backups").glob("*.db"))) == len(runs) - 1, "one before each rewrite"


def _processes_with(text):
    found = []
    for process in Path("/proc").glob("[0-9]*"):
        try:
            if text in (process / "cmdline").read_bytes().decode(errors="replace"):
                found.append(process.name)
        except OSError:
            pass
    return found


@pytest.mark.skipif(classgrade.sandbox.unavailable() is not None, reason="needs the bubblewrap sandbox")
def test_killing_the_grader_kills_every_student_process(tmp_path):
    course = tiny_course(tmp_path)
    marker = f"sleeper-{uuid.uuid4().hex}"
    release = nbformat.read(course / "release" / "01-tiny" / "01-tiny.ipynb", as_version=4)
    release.cells[0].source = ("import subprocess, sys, time\n"
                               f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)  # {marker}'])\n"
                               "time.sleep(300)")
    (course / "autograde" / "submitted" / "sleeper" / "01-tiny").mkdir(parents=True)
    nbformat.write(release, course / "autograde" / "submitted" / "sleeper" / "01-tiny" / "01-tiny.ipynb")
    grader = subprocess.Popen([sys.executable, "-m", "course", "grade", "01-tiny"], cwd=course,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 180
    while not _processes_with(marker) and time.monotonic() < deadline and grader.poll() is None:
        time.sleep(0.5)
    assert _processes_with(marker), "the sleeper never started"
    grader.kill()
    grader.wait()
    deadline = time.monotonic() + 30
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _processes_with(marker) == []
