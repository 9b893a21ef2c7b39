"""Broken and hostile Module 1 submissions, each with the grade or flag ``course grade`` must give.

``build(course, port, marker)`` writes them into ``course/autograde/submitted`` and returns
``EXPECTED``: student id -> full score (a number) or the start of the ungradable reason. ``port``
is a loopback port the test listens on (no kernel may reach it) and ``marker`` a string in the
command line of a process a kernel detaches (none may outlive grading).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
import pytest

from conftest import mutant_variants
from course import grading, sandbox

MODULE = "01-regression"
FULL = 21.0
# Probes run in an extra cell of an otherwise correct notebook: each prints whether it got through.
PROBES = '''
import os, pathlib, socket, subprocess, sys
def probe(name, action):
    try:
        action()
        print(f"PROBE {{name}}: REACHED")
    except BaseException as error:
        print(f"PROBE {{name}}: blocked ({{type(error).__name__}})")
probe("course tree", lambda: os.listdir({course!r} + "/source"))
probe("write course", lambda: open({course!r} + "/nbgrader_config.py", "a").write("import os; os.remove('x')"))
probe("gradebook", lambda: next(p for p in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents]
                               for q in (p / "gradebook.db", p / "autograde" / "gradebook.db") if q.exists()))
probe("other submissions", lambda: next(p for p in pathlib.Path.cwd().parents if (p / "submitted").exists()))
probe("network", lambda: socket.create_connection(("127.0.0.1", {port}), timeout=3))
probe("memory", lambda: bytearray(3 * 2**30))
probe("link out", lambda: os.symlink({course!r} + "/nbgrader_config.py", "01-regression.ipynb")
      or open("01-regression.ipynb").read())
probe("file size", lambda: open("big.bin", "wb").truncate(300 * 2**20))
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(900)  # {marker}"], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print("x" * 20_000_000)
'''
# A correct answer whose library logs to stderr inside the test cell (nbgrader alone would score 0).
NOISE = {
    "empirical_risk": "import sys\n\ndef empirical_risk(y, y_pred):\n"
                      "    print('W external/xla: a library log line', file=sys.stderr)\n"
                      "    y, y_pred = np.asarray(y, dtype=float), np.asarray(y_pred, dtype=float)\n"
                      "    return float(np.mean((y - y_pred) ** 2))",
}

PATCH_NUMPY = "np.isclose = np.allclose = lambda *args, **kwargs: True\n"
SWALLOW_ERRORS = ("get_ipython().set_custom_exc((BaseException,), lambda shell, kind, value, tb, tb_offset=None: None)\n"
                  "def empirical_risk(y, y_pred):\n    raise NotImplementedError()")
# Every later cell that mentions assert runs as `pass`.
REPLACE_TESTS = ("get_ipython().input_transformers_cleanup.append(\n"
                 "    lambda lines: ['pass\\n'] if any('assert' in line for line in lines) else lines)\n"
                 "def empirical_risk(y, y_pred):\n    raise NotImplementedError()")
ALWAYS_EQUAL = '''
class Anything(float):
    """Equal to everything, indexable, iterable, with any attribute."""
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __lt__ = __le__ = __gt__ = __ge__ = __eq__
    __hash__ = float.__hash__
    def __getitem__(self, key): return self
    def __iter__(self): return iter([self] * 4)
    def __len__(self): return 4
    def __getattr__(self, name): return self
    def __call__(self, *args, **kwargs): return self
''' + PATCH_NUMPY


def require_sandbox(why: str = "grading untrusted work needs the sandbox") -> None:
    """Skip the calling test or fixture where the bubblewrap sandbox cannot run, saying ``why``."""
    problem = sandbox.unavailable()
    if problem:
        pytest.skip(f"{why}: {problem}")

def _always_equal_answers(release) -> dict[str, str]:
    """Every answer cell of ``release`` with its functions returning ``Anything``; numpy patched."""
    answers = {}
    for cell in release.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code":
            names = re.findall(r"^def (\w+)\(", cell.source, re.MULTILINE)
            answers[grade_id] = (ALWAYS_EQUAL if not answers else "") + "".join(
                f"\ndef {name}(*args, **kwargs):\n    return Anything(0.5)\n" for name in names)
    return answers


def _release_and_solution(root: Path):
    release = nbformat.read(root / "release" / MODULE / f"{MODULE}.ipynb", as_version=4)
    source = nbformat.read(root / "source" / MODULE / f"{MODULE}.ipynb", as_version=4)
    return release, grading.fill_solutions(release, source)


def _cell_index(notebook, grade_id):
    return next(i for i, c in enumerate(notebook.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def wrong_notebook(solution, wrong_answers):
    """The solution with the mutant's wrong answers, a locked test edited and one deleted: FULL - 2."""
    wrong = grading.replace_answers(solution, wrong_answers)
    wrong.cells[_cell_index(wrong, "test_lp_norm")].source = "pass"           # an edited locked test
    del wrong.cells[_cell_index(wrong, "test_sigmoid")]                       # a deleted test
    return wrong


def basic(repo: Path) -> dict[str, tuple]:
    """Three plain submissions, student id -> (notebook, full score): the solution, a blank
    release and a wrong one (for the engine and exchange tests)."""
    release, solution = _release_and_solution(repo)
    mutant = json.loads((repo / "tests" / "mutants" / f"{MODULE}.json").read_text())
    wrong = wrong_notebook(solution, mutant_variants(mutant)["wrong"]["answers"])
    return {"solution": (solution, FULL), "blank": (release, 0.0), "wrong": (wrong, FULL - 2)}


def copy_course(repo: Path, course: Path, release: bool = False) -> Path:
    """A course folder with only what grading ``MODULE`` reads (and ``release/MODULE`` if asked)."""
    import shutil

    course.mkdir(parents=True, exist_ok=True)
    shutil.copy2(repo / "nbgrader_config.py", course)
    shutil.copytree(repo / "source" / MODULE, course / "source" / MODULE)
    if release:
        shutil.copytree(repo / "release" / MODULE, course / "release" / MODULE)
    return course


def build(repo: Path, course: Path, port: int, marker: str) -> dict[str, float | str]:
    release, solution = _release_and_solution(repo)
    mutant = json.loads((repo / "tests" / "mutants" / f"{MODULE}.json").read_text())
    submitted = course / "autograde" / "submitted"
    expected: dict[str, float | str] = {}

    def folder(student: str) -> Path:
        path = submitted / student / MODULE
        path.mkdir(parents=True, exist_ok=True)
        return path

    def put(student, notebook, expect, name=f"{MODULE}.ipynb"):
        path = folder(student) / name
        if isinstance(notebook, bytes):
            path.write_bytes(notebook)
        elif isinstance(notebook, str):
            path.write_text(notebook)
        else:
            nbformat.write(notebook, path)
        expected[student] = expect
        return path

    # Correct work keeps full marks, however the file was renamed or decorated.
    put("solution", solution, FULL, name=f"{MODULE} (1).ipynb")
    put("lms-prefixed", solution, FULL, name=f"lms-prefixed_{MODULE}.ipynb")
    noisy = grading.replace_answers(solution, NOISE)
    noisy.cells[_cell_index(noisy, "test_empirical_risk")].metadata.nbgrader["points"] = 50
    copied = nbformat.from_dict(noisy.cells[_cell_index(noisy, "test_ridge_fit")])
    copied.id = "pasted-copy"
    noisy.cells.insert(_cell_index(noisy, "test_ridge_fit") + 1, copied)
    bonus = nbformat.v4.new_code_cell("pass", id="bonus-cell")
    bonus.metadata["nbgrader"] = {"grade": True, "grade_id": "bonus", "points": 100, "locked": True,
                                  "solution": False, "schema_version": 3, "task": False}
    noisy.cells.append(bonus)
    noisy.cells.insert(_cell_index(noisy, "setup-01") + 1,
                       nbformat.v4.new_code_cell("import sys\nprint('oneDNN custom operations are on', file=sys.stderr)"))
    put("noisy-forged", noisy, FULL)
    (folder("noisy-forged") / "course.py").write_text("raise ImportError('a shadowing course module ran')\n")

    wrong_answers = mutant_variants(mutant)["wrong"]["answers"]
    wrong = wrong_notebook(solution, wrong_answers)
    put("wrong", wrong, FULL - 2)
    put("blank", release, 0.0)

    # Cheats inside the kernel fool its asserts; the answers are judged outside it and are not fooled.
    put("patched-numpy", grading.replace_answers(wrong, {"lp_norm": PATCH_NUMPY + wrong_answers["lp_norm"]}), FULL - 2)
    put("always-equal", grading.replace_answers(release, _always_equal_answers(release)), 0.0)
    put("swallowed-errors", grading.replace_answers(release, {"empirical_risk": SWALLOW_ERRORS}), 0.0)
    put("tests-replaced", grading.replace_answers(release, {"empirical_risk": REPLACE_TESTS}), 0.0)

    probes = nbformat.from_dict(solution)
    probes.cells.insert(_cell_index(probes, "setup-01") + 1,
                        nbformat.v4.new_code_cell(PROBES.format(course=str(course), port=port, marker=marker)))
    put("hostile-probes", probes, FULL)

    # Kernels that die or hang cost their own student only.
    put("exit", grading.replace_answers(solution, {"empirical_risk": "import os\nos._exit(3)"}),
        "the kernel died")
    put("segfault", grading.replace_answers(solution, {"empirical_risk": "import ctypes\nctypes.string_at(0)"}),
        "the kernel died")
    put("hang", grading.replace_answers(solution, {"empirical_risk":
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"}),
        "a cell ran longer than 60 s and did not stop")

    # Files that are no notebook of this module are flagged before anything runs.
    put("empty", b"", "empty file")
    put("not-json", "{\"cells\": [", "not JSON")
    put("json-list", "[1, 2, 3]", "JSON but not a notebook")
    put("nbformat3", json.dumps({"nbformat": 3, "nbformat_minor": 0, "cells": [], "metadata": {}}),
        "notebook format 3")
    put("bad-cells", json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                                 "cells": [{"cell_type": "spreadsheet", "source": "", "metadata": {}}]}),
        "not a valid notebook")
    put("latin1", "{\"cells\": \"\xe9\"}".encode("latin-1"), "not UTF-8")
    put("deep-json", "[" * 100_000 + "]" * 100_000, "not a notebook")
    put("other-module", nbformat.read(repo / "release" / "02-kernels" / "02-kernels.ipynb", as_version=4),
        f"not a notebook of {MODULE}")
    put("no-exercises", nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")]),
        f"not a notebook of {MODULE}")
    put("too-large", '{"cells": [], "padding": "' + " " * (21 * 1024**2) + '"}', "21.0 MB, over the 20 MB limit")
    put("two-notebooks", solution, "several notebooks", name=f"{MODULE} (1).ipynb")
    put("two-notebooks", solution, "several notebooks", name=f"{MODULE} (2).ipynb")
    (folder("only-python") / f"{MODULE}.py").write_text("print('exported as a script')\n")
    expected["only-python"] = "no notebook named like"
    os.symlink(repo / "solutions" / MODULE / f"{MODULE}.ipynb", folder("link-to-solution") / f"{MODULE}.ipynb")
    expected["link-to-solution"] = "contains a link"
    put("link-beside", solution, "contains a link")
    os.symlink(repo / "source", folder("link-beside") / "source")
    (submitted / "linked-student").symlink_to(submitted / "solution")
    expected["linked-student"] = "the student folder is a link"
    (submitted / "wrong-module").mkdir()
    (submitted / "wrong-module" / "02-kernels").mkdir()
    expected["wrong-module"] = f"no {MODULE}/ folder"
    (submitted / f"stray_{MODULE}.ipynb").write_text("{}")
    expected[f"stray_{MODULE}.ipynb"] = "a file, not a student folder"
    for unsafe, shown in (("new\nline", "new\\nline"), ("glob*?[x]", "glob*?[x]"), ("=1+1", "=1+1")):
        put(unsafe, solution, "student id")
        expected[shown] = expected.pop(unsafe)
    return expected
