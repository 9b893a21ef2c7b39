"""The course command: clear messages and exit codes for what users get wrong."""
import os
import shutil
import subprocess
import sys

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from conftest import ROOT


def run_course(*args, env_root=None, cwd=ROOT):
    env = None
    if env_root:
        env = {**os.environ, "COURSE_ROOT": str(env_root)}
    return subprocess.run([sys.executable, "-m", "course", *args], capture_output=True, text=True, cwd=cwd, env=env)


def test_unknown_module_is_named_with_the_available_ones():
    done = run_course("reproduce", "99-nothing")
    assert done.returncode == 2
    assert "99-nothing" in done.stderr and "01-regression" in done.stderr


def make_course(tmp_path, module, cells):
    tmp_path.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    folder = tmp_path / "source" / module
    folder.mkdir(parents=True)
    if cells is not None:
        nbformat.write(new_notebook(cells=[new_code_cell(c) for c in cells]), folder / f"{module}.ipynb")
    return tmp_path


def test_missing_notebook_is_named(tmp_path):
    root = make_course(tmp_path, "01-empty", None)
    done = run_course("reproduce", "01-empty", env_root=root)
    assert done.returncode == 2 and "missing notebook" in done.stderr and "01-empty.ipynb" in done.stderr


def test_failed_cell_is_named_and_rows_are_tabled(tmp_path):
    root = make_course(tmp_path, "01-bad", ["from course.results import record\n"
                                            "record('answer', 42, target=40, relation='>=')",
                                            "1 / 0"])
    done = run_course("reproduce", "01-bad", "--out", str(tmp_path / "out"), env_root=root)
    assert done.returncode == 2
    assert "01-bad.ipynb" in done.stderr and "cell 1" in done.stderr and "ZeroDivisionError" in done.stderr

    good = make_course(tmp_path / "good", "01-good", ["from course.results import record\n"
                                                      "record('answer', 42, target=40, relation='>=')\n"
                                                      "record('miss', 1, target=0, relation='<=')"])
    done = run_course("reproduce", "01-good", "--out", str(tmp_path / "out2"), env_root=good)
    assert done.returncode == 3, done.stderr
    lines = [line.split() for line in done.stdout.splitlines() if line.startswith("01-good")]
    assert lines == [["01-good", "answer", ">=", "40", "42", "yes"], ["01-good", "miss", "<=", "0", "1", "NO"]]
    executed = nbformat.read(tmp_path / "out2" / "01-good" / "01-good.ipynb", as_version=4)
    assert executed.metadata["course_run"]["budget"] == "quick" and "Executed solution" in executed.cells[0].source


def test_repo_root_is_the_course_copy_run_in(tmp_path):
    # Grading a copy of the course must grade that copy, not the checkout the package came from.
    copy = make_course(tmp_path / "copy", "01-copy", ["1"])
    (copy / "deeper").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "COURSE_ROOT"}
    for cwd in (copy, copy / "deeper"):
        done = subprocess.run([sys.executable, "-c", "from course.paths import repo_root; print(repo_root())"],
                              capture_output=True, text=True, cwd=cwd, env=env)
        assert done.stdout.strip() == str(copy.resolve()), done.stderr
    elsewhere = subprocess.run([sys.executable, "-c", "from course.paths import repo_root; print(repo_root())"],
                               capture_output=True, text=True, cwd=tmp_path, env=env)
    assert elsewhere.stdout.strip() == str(ROOT), "outside any course the installed checkout is used"
