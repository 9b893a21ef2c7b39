"""Run All on a student notebook goes through unfinished exercises; a broken solution still fails."""
import json
import os
import shutil
import subprocess
import sys

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from conftest import ROOT, mutant_variants
from course import grading, run_all


def _cell(source, **nbgrader):
    return new_code_cell(source, metadata={"nbgrader": {"grade_id": nbgrader.pop("grade_id", "c"), **nbgrader}})


def test_only_answer_and_check_cells_are_tagged():
    nb = new_notebook(cells=[new_code_cell("import numpy"), new_markdown_cell("text"),
                             _cell("raise NotImplementedError()", solution=True, grade=False, grade_id="answer"),
                             _cell("assert f(1) == 2", solution=False, grade=True, grade_id="check"),
                             _cell("x = 1", solution=False, grade=False, locked=True, grade_id="readonly")])
    nb.cells[3].metadata["tags"] = ["keep-me"]
    assert run_all.untagged_cells(nb) == ["answer", "check"]
    assert run_all.tag_cells(nb) == ["answer", "check"]
    assert [c.metadata.get("tags") for c in nb.cells] == [None, None, ["raises-exception"],
                                                          ["keep-me", "raises-exception"], None]
    assert run_all.tag_cells(nb) == [] and run_all.untagged_cells(nb) == []


def test_every_answer_and_check_cell_is_tagged(module):
    for folder in ("source", "release"):
        nb = nbformat.read(ROOT / folder / module / f"{module}.ipynb", as_version=4)
        assert run_all.untagged_cells(nb) == [], f"{folder}/{module}: run `course release {module}`"


def test_run_all_executes_every_cell_of_the_blank_module_1_release(tmp_path):
    # nbclient stops at an error in an untagged cell, as JupyterLab's Run All does.
    module = "01-regression"
    folder = tmp_path / module
    shutil.copytree(ROOT / "release" / module, folder)
    nb = nbformat.read(folder / f"{module}.ipynb", as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "a code cell did not run"
    failed = {c.metadata.get("nbgrader", {}).get("grade_id", c.id) for c in code
              if any(o.output_type == "error" for o in c.outputs)}
    checks = {c.metadata["nbgrader"]["grade_id"] for c in code if c.metadata.get("nbgrader", {}).get("grade")}
    assert failed and failed <= checks, f"cells that are not check cells failed: {failed - checks}"
    figures = sum("image/png" in o.get("data", {}) for c in code for o in c.outputs)
    assert figures >= 5, f"only {figures} figures rendered"


def test_reproduce_fails_on_a_broken_solution_in_a_tagged_cell(tmp_path):
    # Module 1 with a mutant's wrong answers typed into the solution: its check cells raise,
    # nbclient runs past them (they are tagged), and reproduce must still fail and say where.
    module = "01-regression"
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    shutil.copytree(ROOT / "source" / module, tmp_path / "source" / module)
    path = tmp_path / "source" / module / f"{module}.ipynb"
    mutant = json.loads((ROOT / "tests" / "mutants" / f"{module}.json").read_text())
    wrong = mutant_variants(mutant)["wrong"]["answers"]
    nbformat.write(grading.replace_answers(nbformat.read(path, as_version=4), wrong), path)
    done = subprocess.run([sys.executable, "-m", "course", "reproduce", module, "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "COURSE_ROOT": str(tmp_path)})
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    # test_lp_norm is the first of the mutant's failing check cells in the notebook
    assert f"{module}.ipynb" in done.stderr and "grade id test_lp_norm" in done.stderr, done.stderr
    assert "AssertionError" in done.stderr
    assert not (tmp_path / "out" / module / f"{module}.ipynb").exists(), "a failed solution must not be written"
