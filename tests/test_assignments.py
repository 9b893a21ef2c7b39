"""Every assignment in source/: generation, leaks, and autograding of known submissions."""
import json
import re

import nbformat
import pytest

from conftest import MODULES, ROOT, GradedAssignment, grade_assignment
from course import answers, classgrade, grading

MARKER = re.compile(r"(BEGIN|END) (SOLUTION|HIDDEN TESTS)")


def graded_cells(notebook):
    return {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"] for c in notebook.cells
            if c.get("metadata", {}).get("nbgrader", {}).get("grade")}


def _outputs(cell, kind):
    return [o for o in cell.get("outputs", []) if o.get("output_type") == kind
            or (kind == "stderr" and o.get("name") == "stderr")]


def _reported(notebook):
    tests = graded_cells(notebook)
    return {g: found for g, found in answers.notebook_answers(notebook).items() if g in tests}


class Assignment:
    """Every check of one assignment. Each module folder gets a subclass (end of this file), so that
    pytest-xdist's ``--dist=loadscope`` keeps the module's tests, and its one grading pass, on one
    worker while other modules grade on the others."""

    module: str

    @pytest.fixture(scope="class")
    def graded(self, tmp_path_factory) -> GradedAssignment:
        return grade_assignment(self.module, tmp_path_factory)

    def test_committed_release_equals_fresh_generation(self, graded):
        committed = ROOT / "release" / graded.module / f"{graded.module}.ipynb"
        assert committed.is_file(), f"run `course release {graded.module}`"
        fresh = json.loads(nbformat.writes(graded.release))
        assert json.loads(committed.read_text()) == fresh, f"release/{graded.module} is stale: run `course release`"

    def test_release_has_no_markers(self, graded):
        text = (ROOT / "release" / graded.module / f"{graded.module}.ipynb").read_text()
        assert not MARKER.search(text)

    def test_release_has_no_solution_or_hidden_test_text(self, graded):
        # Independent of grading.secret_lines: every long line inside solution or hidden-test regions.
        secret = set()
        for cell in graded.source.cells:
            inside = False
            for line in cell.source.splitlines():
                if MARKER.search(line):
                    inside = "BEGIN" in line
                elif inside and len(line.strip()) >= 16:
                    secret.add(line.strip())
        outside = {line.strip() for c in graded.source.cells for line in MARKER.split(c.source)[0].splitlines()}
        secret -= outside
        assert secret, "the source notebook should contain solutions"
        released = {line.strip() for c in graded.release.cells for line in c.source.splitlines()}
        assert not secret & released

    def test_every_answer_cell_is_stubbed_and_every_test_locked(self, graded):
        for cell in graded.release.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution") and cell.cell_type == "code":
                assert "raise NotImplementedError()" in cell.source, meta["grade_id"]
            if meta.get("grade"):
                assert meta.get("locked"), f"test cell {meta['grade_id']} must be locked"

    def test_grade_and_cell_ids_unique(self, graded):
        ids = [c.id for c in graded.source.cells]
        grade_ids = [c.metadata["nbgrader"]["grade_id"] for c in graded.source.cells if "nbgrader" in c.metadata]
        assert len(ids) == len(set(ids))
        assert len(grade_ids) == len(set(grade_ids))

    def test_solution_gets_full_marks(self, graded):
        expected = graded_cells(graded.source)
        scores = graded.scores["solution"]
        assert set(scores) == set(expected)
        lost = {cell: s.score for cell, s in scores.items() if s.score != s.max_score}
        assert not lost, f"the solution loses points in {lost}"
        assert sum(s.max_score for s in scores.values()) == sum(expected.values())

    def test_blank_release_scores_zero_everywhere(self, graded):
        scores = graded.scores["blank"]
        assert set(scores) == set(graded_cells(graded.source))
        assert {cell: s.score for cell, s in scores.items() if s.score != 0} == {}

    def test_each_mutant_loses_exactly_its_cells(self, graded):
        # Wrong answers lose exactly the cells they name; right alternatives (no cells named) keep full marks.
        assert graded.variants, "the mutant file names no submissions"
        mismatched = {}
        for name, fails in graded.variants.items():
            scores = graded.scores[name]
            assert fails <= set(scores), f"mutant {name} names unknown test cells {fails - set(scores)}"
            failed = {cell for cell, s in scores.items() if s.score < s.max_score}
            if failed != fails:
                mismatched[name] = {"should fail": sorted(fails), "failed": sorted(failed)}
            if fails:
                assert 0 < sum(s.score for s in scores.values()) < sum(s.max_score for s in scores.values()), name
        assert mismatched == {}
        assert any(graded.variants.values()), "at least one mutant must be a wrong answer"

    def test_fill_solutions_types_answers_without_markers(self, graded):
        solved = grading.fill_solutions(graded.release, graded.source)
        answer_cells = [c for c in solved.cells if c.metadata.get("nbgrader", {}).get("solution")]
        assert answer_cells and all("NotImplementedError" not in c.source and not MARKER.search(c.source) for c in answer_cells)

    def test_blank_release_runs_with_errors_only_in_exercise_cells(self, graded):
        # What a student sees after "Run All" with nothing filled in: lecture cells all work.
        for index, cell in enumerate(graded.executed["blank"].cells):
            meta = cell.metadata.get("nbgrader", {})
            if _outputs(cell, "error"):
                assert meta.get("solution") or meta.get("grade"), f"lecture cell {index} ({cell.id}) fails without answers"

    def test_solution_writes_nothing_to_stderr(self, graded):
        # nbgrader scores a graded cell with stderr output as failed: warnings and logs must stay silent.
        noisy = {cell.id: _outputs(cell, "stderr")[0].get("text", "")[:200] for cell in graded.executed["solution"].cells
                 if _outputs(cell, "stderr") or _outputs(cell, "error")}
        assert noisy == {}

    def test_every_hidden_test_reports_answers(self, graded):
        # course grade judges the reported answers outside the student's kernel (course.answers).
        hidden = {c.metadata.nbgrader["grade_id"] for c in graded.source.cells if "BEGIN HIDDEN TESTS" in c.source}
        silent = sorted(g for g, found in _reported(graded.executed["solution"]).items() if g in hidden and not found)
        assert silent == [], f"hidden tests that report no answer: {silent}"

    def test_judge_outside_the_kernel_agrees_with_the_mutants(self, graded):
        # Right alternatives report the solution's answers within its tolerances; wrong ones differ only
        # in the cells they must fail.
        reference = {g: found for g, found in _reported(graded.executed["solution"]).items() if found}
        for name, fails in graded.variants.items():
            differing = set(classgrade.disagreements(graded.executed[name], reference))
            assert differing <= fails, f"mutant {name}: answers unlike the solution's in {sorted(differing - fails)}"
        blank = set(classgrade.disagreements(graded.executed["blank"], reference))
        assert blank == set(reference), f"a blank notebook reports the solution's answers in {sorted(set(reference) - blank)}"


for _module in MODULES:  # Test01Regression, Test02Kernels, ...: select one with -k Test01
    _name = "Test" + "".join(part.capitalize() for part in _module.split("-"))
    globals()[_name] = type(_name, (Assignment,), {"module": _module, "__doc__": f"The checks of {_module}."})
