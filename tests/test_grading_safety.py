"""The pieces of safe grading, checked fast: judging, feedback scrubbing, CSV escaping, file names,
submission checks and the refusal to run without a sandbox."""
import os
import shutil
import subprocess
import sys

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
