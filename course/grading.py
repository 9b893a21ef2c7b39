"""nbgrader plumbing: generate student versions, check them for leaks, autograde, read scores.

Everything runs through the ``nbgrader`` command line in a *scratch course*: a temporary folder
holding a copy of ``nbgrader_config.py`` and ``source/``, so checks and tests never touch the
instructor's gradebook or the committed ``release/``.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from course import answers
from course.paths import CourseError, repo_root

MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
_REGION = re.compile(r"^\s*#+\s*BEGIN (SOLUTION|HIDDEN TESTS)\s*$(.*?)^\s*#+\s*END \1\s*$",
                     re.MULTILINE | re.DOTALL)
_MARKER_LINE = re.compile(r"^\s*#+\s*(BEGIN|END) SOLUTION\s*$\n?", re.MULTILINE)
# A secret line shorter than this is too generic ("return w") to prove a leak.
MIN_SECRET_LENGTH = 16


def run_nbgrader(args: list[str], cwd: Path) -> str:
    """Run one nbgrader command in ``cwd`` (its kernels report their answers, as in ``course
    grade``); raise with its log when it fails.

    It runs nbgrader (seconds), so the example is not run::

        log = run_nbgrader(["generate_assignment", "01-regression", "--force"], scratch_folder)
    """
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, answers.ENV_VAR: "1"})
    log = done.stdout + done.stderr
    if done.returncode != 0 or "[ERROR]" in log:
        raise CourseError(f"nbgrader {' '.join(args)} failed in {cwd}:\n{log[-4000:]}")
    return log


def nbgrader_meta(cell: NotebookNode) -> dict:
    """The nbgrader metadata of ``cell``; empty for an ordinary cell.

    >>> nbgrader_meta(nbformat.v4.new_code_cell(metadata={"nbgrader": {"grade_id": "t1"}}))
    {'grade_id': 't1'}
    >>> nbgrader_meta(nbformat.v4.new_code_cell())
    {}
    """
    return cell.get("metadata", {}).get("nbgrader", {})


def secret_lines(source: NotebookNode) -> set[str]:
    """Lines of solutions and hidden tests that must never reach students.

    Lines that also occur outside those regions (shared imports, blank scaffolding) and very
    short lines are left out, since finding them in a release proves nothing.

    >>> cell = nbformat.v4.new_code_cell("import numpy as np\\n### BEGIN SOLUTION\\nimport numpy as np\\n"
    ...                                  "return np.linalg.solve(A, b)\\nreturn w\\n### END SOLUTION")
    >>> secret_lines(nbformat.v4.new_notebook(cells=[cell]))
    {'return np.linalg.solve(A, b)'}
    """
    inside, outside = set(), set()
    for cell in source.cells:
        text = cell.source
        for match in _REGION.finditer(text):
            inside.update(line.strip() for line in match.group(2).splitlines())
        outside.update(line.strip() for line in _REGION.sub("", text).splitlines())
    return {line for line in inside - outside if len(line) >= MIN_SECRET_LENGTH}


def find_leaks(source: NotebookNode, release: NotebookNode) -> list[str]:
    """Problems that would give solutions or hidden tests away, one message each.

    >>> source = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
    ...     "### BEGIN SOLUTION\\nreturn np.linalg.solve(A, b)\\n### END SOLUTION", id="fit")])
    >>> release = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("return np.linalg.solve(A, b)", id="fit")])
    >>> find_leaks(source, release)
    ["cell 0 (fit) contains solution or hidden-test text: 'return np.linalg.solve(A, b)'"]
    >>> len(find_leaks(source, source))   # both markers and the solution line
    3
    """
    problems = []
    secrets = secret_lines(source)
    for index, cell in enumerate(release.cells):
        where = f"cell {index} ({cell.get('id', '?')})"
        for marker in MARKERS:
            if marker in cell.source:
                problems.append(f"{where} contains the marker '{marker}'")
        for line in cell.source.splitlines():
            if line.strip() in secrets:
                problems.append(f"{where} contains solution or hidden-test text: {line.strip()!r}")
    return problems


def fill_solutions(release: NotebookNode, source: NotebookNode) -> NotebookNode:
    """The release notebook with every answer cell typed in as a student would from the source.

    Solution markers are dropped; test cells stay as released (autograding restores the hidden
    tests from the gradebook anyway). The solution run as a submission must score full marks.

    >>> meta = {"nbgrader": {"solution": True, "grade_id": "fit"}}
    >>> source = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
    ...     "def f(x):\\n    ### BEGIN SOLUTION\\n    return 2 * x\\n    ### END SOLUTION", metadata=meta)])
    >>> release = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
    ...     "def f(x):\\n    raise NotImplementedError()", metadata=meta)])
    >>> print(fill_solutions(release, source).cells[0].source)
    def f(x):
        return 2 * x
    """
    answers = {nbgrader_meta(c).get("grade_id"): c.source for c in source.cells
               if nbgrader_meta(c).get("solution")}
    filled = nbformat.from_dict(release)
    for cell in filled.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if nbgrader_meta(cell).get("solution"):
            if grade_id not in answers:
                raise CourseError(f"answer cell {grade_id!r} of the release has no source cell")
            cell.source = _MARKER_LINE.sub("", answers[grade_id]).rstrip("\n")
    return filled


def replace_answers(notebook: NotebookNode, answers: dict[str, str]) -> NotebookNode:
    """A copy of ``notebook`` whose answer cells named by grade id get new code: a mutant
    (a plausible wrong answer) to grade.

    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
    ...     "f = lambda x: 2 * x", metadata={"nbgrader": {"solution": True, "grade_id": "fit"}})])
    >>> replace_answers(nb, {"fit": "f = lambda x: x + 2"}).cells[0].source, nb.cells[0].source
    ('f = lambda x: x + 2', 'f = lambda x: 2 * x')
    >>> replace_answers(nb, {"fti": ""})
    Traceback (most recent call last):
    ...
    course.paths.CourseError: no answer cells with grade ids ['fti']
    """
    changed = nbformat.from_dict(notebook)
    found = set()
    for cell in changed.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
            found.add(grade_id)
    missing = set(answers) - found
    if missing:
        raise CourseError(f"no answer cells with grade ids {sorted(missing)}")
    return changed


def notebook_differences(expected: NotebookNode, actual: NotebookNode) -> list[str]:
    """Cell-by-cell differences between two notebooks (empty when they are the same); outputs
    are not compared.

    >>> a = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1", id="c1")])
    >>> b = nbformat.from_dict(a); b.cells[0].source = "x = 2"
    >>> notebook_differences(a, a), notebook_differences(a, b)
    ([], ['cell 0 (c1): source differs'])
    """
    problems = []
    if expected.metadata != actual.metadata:
        problems.append("notebook metadata differs")
    if len(expected.cells) != len(actual.cells):
        problems.append(f"{len(expected.cells)} cells expected, {len(actual.cells)} found")
    for index, (a, b) in enumerate(zip(expected.cells, actual.cells)):
        for key in ("cell_type", "id", "source", "metadata"):
            if a.get(key) != b.get(key):
                problems.append(f"cell {index} ({a.get('id', '?')}): {key} differs")
    return problems


@dataclass(frozen=True)
class CellScore:
    """Points of one graded cell out of its maximum, as the gradebook holds them.

    >>> CellScore(1.0, 2.0).score / CellScore(1.0, 2.0).max_score
    0.5
    """

    score: float
    max_score: float


class ScratchCourse:
    """A throw-away nbgrader course folder built from the repository's sources.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as root, tempfile.TemporaryDirectory() as scratch:
    ...     _ = (Path(root) / "nbgrader_config.py").write_text("c = get_config()\\n")
    ...     course = ScratchCourse(Path(scratch), Path(root))
    ...     course.submit("alice", "01-x", nbformat.v4.new_notebook())
    ...     print(sorted(p.relative_to(scratch).as_posix() for p in Path(scratch).rglob("*.ip*")))
    ['autograde/submitted/alice/01-x/01-x.ipynb']
    """

    def __init__(self, folder: Path, root: Path | None = None) -> None:
        self.root = root or repo_root()
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        shutil.copy2(self.root / "nbgrader_config.py", self.folder / "nbgrader_config.py")
        (self.folder / "autograde").mkdir(exist_ok=True)

    def generate(self, module: str) -> Path:
        """Generate the student version of ``module``; return its release folder.

        Runs nbgrader, so the example is not run::

            ScratchCourse(scratch).generate("01-regression")   # scratch / "release" / "01-regression"
        """
        shutil.copytree(self.root / "source" / module, self.folder / "source" / module,
                        dirs_exist_ok=True, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        run_nbgrader(["generate_assignment", module, "--force"], self.folder)
        return self.folder / "release" / module

    def submit(self, student: str, module: str, notebook: NotebookNode) -> None:
        """Put ``notebook`` where nbgrader collects ``student``'s ``module`` (see the class's example)."""
        folder = self.folder / "autograde" / "submitted" / student / module
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, folder / f"{module}.ipynb")

    def autograde(self, module: str) -> str:
        """Grade every submission of ``module`` in one nbgrader pass; returns nbgrader's log.

        Runs nbgrader and the notebooks, so the example is not run::

            course = ScratchCourse(scratch)
            course.generate("01-regression")
            course.submit("alice", "01-regression", fill_solutions(release, source))
            course.autograde("01-regression")
        """
        return run_nbgrader(["autograde", module, "--force", "--create"], self.folder)

    def scores(self, module: str) -> dict[str, dict[str, CellScore]]:
        """Per student, the autograded score of every graded cell, by grade id.

        Reads the gradebook of :meth:`autograde` (not run here)::

            course.scores("01-regression")["alice"]["test-risk"]   # CellScore(score=2.0, max_score=2.0)
        """
        from nbgrader.api import Gradebook

        url = "sqlite:///" + str(self.folder / "autograde" / "gradebook.db")
        result: dict[str, dict[str, CellScore]] = {}
        with Gradebook(url) as gradebook:
            for submission in gradebook.assignment_submissions(module):
                student = submission.student.id
                notebook = gradebook.find_submission_notebook(module, module, student)
                result[student] = {g.name: CellScore(float(g.score), float(g.max_score))
                                   for g in notebook.grades}
        return result


def check_release(module: str, scratch: Path, root: Path | None = None) -> list[str]:
    """Compare the committed release of ``module`` with a fresh generation; look for leaks.

    ``course check`` calls it; it runs nbgrader, so the example is not run::

        check_release("01-regression", Path(tempfile.mkdtemp()))   # [] when release/ is current
    """
    root = root or repo_root()
    generated = ScratchCourse(scratch, root).generate(module) / f"{module}.ipynb"
    committed = root / "release" / module / f"{module}.ipynb"
    if not committed.is_file():
        return [f"{committed} is missing: run `course release {module}`"]
    fresh, release = nbformat.read(generated, as_version=4), nbformat.read(committed, as_version=4)
    source = nbformat.read(root / "source" / module / f"{module}.ipynb", as_version=4)
    problems = [f"{committed} is out of date with source/: {p}"
                for p in notebook_differences(fresh, release)]
    problems += [f"{committed}: {p}" for p in find_leaks(source, release)]
    return problems
