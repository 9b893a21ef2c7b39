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


def test_reproduce_keeps_kernel_stderr_out_of_the_terminal(tmp_path):
    root = make_course(tmp_path, "01-noisy", ["import sys\nprint('to the log', file=sys.__stderr__, flush=True)"])
    done = run_course("reproduce", "01-noisy", "--out", str(tmp_path / "out"), env_root=root)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    assert "to the log" in (tmp_path / "out" / "01-noisy" / "kernel.log").read_text()


def test_help_describes_every_command_with_examples():
    done = run_course("--help")
    assert done.returncode == 0 and "examples:" in done.stdout and "``" not in done.stdout
    for command in ("start", "release", "check", "reproduce", "grade", "qm9", "featurize", "predict"):
        assert f"\n    {command}" in done.stdout, command
    reproduce_help = run_course("reproduce", "--help").stdout
    assert "none: every module" in reproduce_help and "literature protocol" in reproduce_help
    from course import __version__
    assert run_course("--version").stdout.strip() == f"course {__version__}"


def test_module_typos_get_a_suggestion_and_shorthand_works():
    done = run_course("reproduce", "01-regresion")
    assert done.returncode == 2 and "did you mean 01-regression?" in done.stderr
    from course import paths
    known = paths.modules(ROOT)
    for word in ("1", "01", "regression", "01-regression", "REGRESSION"):
        assert paths.resolve_modules([word], ROOT) == ["01-regression"], word
    assert paths.resolve_modules(["6", "lrp", "06-shap-lime"], ROOT) == ["06-shap-lime", "05-lrp"]
    assert paths.resolve_module("0", known) is None and paths.resolve_module("99", known) is None


def test_results_table_fits_the_terminal_unless_wide():
    from course import reproduce, results
    rows = reproduce.rows_of(reproduce.load_results(ROOT / "solutions"))
    narrow = results.format_table(rows, width=100).splitlines()
    assert max(map(len, narrow)) <= 100
    wide = results.format_table(rows).splitlines()
    assert len(wide) == len(rows) + 2 and max(map(len, wide)) > 100
    # every metric reads back whole from its line and the continuation lines below it
    start = narrow[1].index(" -") + 1  # the metric column begins after the module column's dashes
    end = narrow[1].index(" -", start)
    metrics, current = [], None
    for line in narrow[2:]:
        if line[:start].strip():
            current = [line[start:end].strip()]
            metrics.append(current)
        else:
            current.append(line[start:end].strip())
    assert [" ".join(parts) for parts in metrics] == [r.metric for r in rows]


def test_start_copies_the_release_and_refuses_to_overwrite(tmp_path):
    done = run_course("start", "1", "--to", str(tmp_path / "work"))
    copy = tmp_path / "work" / "01-regression" / "01-regression.ipynb"
    assert done.returncode == 0, done.stderr
    assert copy.read_bytes() == (ROOT / "release" / "01-regression" / "01-regression.ipynb").read_bytes()
    copy.write_text("my answers")
    again = run_course("start", "1", "--to", str(tmp_path / "work"))
    assert again.returncode == 2 and "--force" in again.stderr and copy.read_text() == "my answers"
    forced = run_course("start", "1", "--to", str(tmp_path / "work"), "--force")
    assert forced.returncode == 0 and copy.read_text() != "my answers"
    assert "/work/" in (ROOT / ".gitignore").read_text()


def test_check_tells_an_opened_release_from_a_stale_one(tmp_path):
    module = "01-tiny"
    root = make_course(tmp_path, module, None)
    cell = new_code_cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
                         metadata={"nbgrader": {"grade": False, "grade_id": "double", "locked": False,
                                                "schema_version": 3, "solution": True, "task": False}})
    source = root / "source" / module / f"{module}.ipynb"
    nbformat.write(new_notebook(cells=[cell], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                        "language": "python"}}), source)
    assert run_course("release", module, env_root=root).returncode == 0
    assert "raises-exception" in nbformat.read(source, as_version=4).cells[0].metadata["tags"]
    assert run_course("check", module, env_root=root).returncode == 0
    release = root / "release" / module / f"{module}.ipynb"
    pristine = release.read_text()
    opened = nbformat.read(release, as_version=4)
    opened.metadata["language_info"] = {"name": "python", "version": "3.11.7"}
    opened.cells[0].execution_count = 1
    nbformat.write(opened, release)
    done = run_course("check", module, env_root=root)
    assert done.returncode == 1 and "was opened or executed" in done.stdout and "out of date" not in done.stdout
    release.write_text(pristine)
    edited = nbformat.read(source, as_version=4)
    edited.cells[0].source = edited.cells[0].source.replace("def double", "def twice")
    nbformat.write(edited, source)
    done = run_course("check", module, env_root=root)
    assert done.returncode == 1 and "out of date with source/" in done.stdout and "was opened" not in done.stdout


def test_predict_prints_no_tensorflow_lines(tmp_path):
    xyz = tmp_path / "methane.xyz"
    xyz.write_text("5\nmethane\nC 0 0 0\nH 0.629 0.629 0.629\nH -0.629 -0.629 0.629\n"
                   "H -0.629 0.629 -0.629\nH 0.629 -0.629 -0.629\n")
    done = run_course("predict", str(xyz))
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert [line.split(":")[0] for line in done.stdout.splitlines() if not line.startswith(" ")] == ["alpha", "zpve"]


def test_the_sandbox_imports_without_the_data_stack():
    """Grading imports course.sandbox in every job; NumPy, pandas and the QM9 code load only in the kernel."""
    probe = ("import sys, course.sandbox; "
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'pandas', 'rdkit'}), "
             "'course.data' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]", "False"]
