"""Shared fixtures and the grading of one assignment in a scratch nbgrader course."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course import grading, paths

ROOT = paths.repo_root()
MODULES = paths.modules(ROOT)
MUTANTS = Path(__file__).parent / "mutants"


@dataclass
class GradedAssignment:
    module: str
    release: nbformat.NotebookNode      # freshly generated student version
    source: nbformat.NotebookNode
    scores: dict                         # student -> grade id -> CellScore
    variants: dict                       # mutant name -> set of test cells it must fail (empty: a right answer)
    executed: dict                       # student -> the notebook as autograding ran it


def mutant_variants(mutant: dict) -> dict[str, dict]:
    """The named submissions of a mutant file.

    A file either holds one wrong submission (``answers`` and ``fails`` at the top) or a set of
    named ``variants``, each with its ``answers`` and the ``fails`` it must lose; a variant whose
    ``fails`` is empty is a right alternative that must keep full marks.
    """
    if "variants" in mutant:
        return mutant["variants"]
    return {"wrong": {"answers": mutant["answers"], "fails": mutant["fails"]}}


def pytest_generate_tests(metafunc):
    if "module" in metafunc.fixturenames:
        metafunc.parametrize("module", MODULES, scope="module")


def grade_assignment(module: str, tmp_path_factory) -> GradedAssignment:
    """Generate ``module``, submit a solution, a blank and a wrong notebook, autograde them in one pass."""
    mutant_file = MUTANTS / f"{module}.json"
    assert mutant_file.is_file(), f"add {mutant_file}: a deliberately wrong submission for {module}"
    mutant = json.loads(mutant_file.read_text())
    scratch = grading.ScratchCourse(tmp_path_factory.mktemp(module), ROOT)
    release = nbformat.read(scratch.generate(module) / f"{module}.ipynb", as_version=4)
    source = nbformat.read(ROOT / "source" / module / f"{module}.ipynb", as_version=4)
    solved = grading.fill_solutions(release, source)
    scratch.submit("solution", module, solved)
    scratch.submit("blank", module, release)
    variants = mutant_variants(mutant)
    for name, variant in variants.items():
        assert name not in ("solution", "blank") and name.replace("-", "").isalnum(), f"bad variant name {name!r}"
        scratch.submit(name, module, grading.replace_answers(solved, variant["answers"]))
    if "course.data import qm9" in json.dumps(source):
        from course.data import qm9

        qm9.load(verbose=False)  # build the QM9 cache once here, not inside a time-limited graded cell
    scratch.autograde(module)
    executed = {student: nbformat.read(scratch.folder / "autograde" / "autograded" / student / module / f"{module}.ipynb",
                                       as_version=4) for student in ("solution", "blank", *variants)}
    return GradedAssignment(module, release, source, scratch.scores(module),
                            {name: set(v["fails"]) for name, v in variants.items()}, executed)
