"""Write scores into an nbgrader gradebook and export them as a spreadsheet-safe ``grades.csv``.

The scores come from :mod:`course.classgrade`, which judges the executed notebooks itself; they
land in nbgrader's gradebook so that the formgrader, feedback and ``nbgrader export`` keep working.
"""
from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "|")


def spreadsheet_safe(value: object) -> str:
    """``value`` as text a spreadsheet shows instead of evaluating (OWASP CSV injection).

    >>> spreadsheet_safe("=HYPERLINK(\\"http://x\\")")
    '\\'=HYPERLINK("http://x")'
    >>> spreadsheet_safe("alice"), spreadsheet_safe(3.5)
    ('alice', '3.5')
    """
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def gradebook_url(path: Path) -> str:
    """The SQLAlchemy address nbgrader's ``Gradebook`` opens for the database file ``path``.

    >>> gradebook_url(Path("/course/autograde/gradebook.db"))
    'sqlite:////course/autograde/gradebook.db'
    """
    return "sqlite:///" + str(path)


def record_scores(database: Path, module: str, student: str, scores: dict[str, float],
                  replace: bool) -> None:
    """Set the automatic score of every test cell of ``student``'s ``module`` submission.

    ``replace`` drops an earlier submission first (a re-run grades afresh); cells not in
    ``scores`` (manually graded ones) keep nbgrader's defaults.

    It needs a gradebook that knows the assignment (``nbgrader generate_assignment``), so the
    example is not run::

        record_scores(Path("autograde/gradebook.db"), "01-regression", "alice",
                      {"test-risk": 2.0, "test-ridge": 0.0}, replace=True)
    """
    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SAWarning

    if replace:
        forget_submission(database, module, student)
    with Gradebook(gradebook_url(database)) as gradebook, warnings.catch_warnings():
        # nbgrader's add_submission trips SQLAlchemy's autoflush warning; the rows are written.
        warnings.simplefilter("ignore", SAWarning)
        gradebook.update_or_create_student(student)
        if replace:
            gradebook.add_submission(module, student)
        for grade_id, score in scores.items():
            grade = gradebook.find_grade(grade_id, module, module, student)
            grade.auto_score, grade.needs_manual_grade = score, False
        gradebook.db.commit()


def forget_submission(database: Path, module: str, student: str) -> None:
    """Remove ``student``'s graded ``module`` from the gradebook (now ungradable: no stale score).

    Nothing happens when there is no such submission. Example (not run: needs a gradebook)::

        forget_submission(Path("autograde/gradebook.db"), "01-regression", "alice")
    """
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(gradebook_url(database)) as gradebook:
        try:
            gradebook.remove_submission(module, student)
        except MissingEntry:
            pass


def load_ungradable(path: Path) -> dict[str, dict[str, str]]:
    """The submissions that could not be graded, ``{module: {student: reason}}``, from the JSON
    file at ``path``; empty when there is none.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     empty = load_ungradable(Path(folder) / "ungradable.json")
    ...     _ = (Path(folder) / "ungradable.json").write_text('{"01-regression": {"bob": "empty file"}}')
    ...     print(empty, load_ungradable(Path(folder) / "ungradable.json"))
    {} {'01-regression': {'bob': 'empty file'}}
    """
    return json.loads(path.read_text()) if path.is_file() else {}


def export_csv(database: Path, ungradable: dict[str, dict[str, str]], target: Path) -> int:
    """Write one row per assignment and student, graded or not, to ``target``; return the row count.

    Columns: assignment, student_id, score, max_score, status (``graded``, ``needs manual
    grading``, ``ungradable: REASON`` or ``no submission``). Example (not run: needs a gradebook)::

        export_csv(Path("autograde/gradebook.db"), load_ungradable(Path("autograde/ungradable.json")),
                   Path("autograde/grades.csv"))   # the number of rows written
    """
    from nbgrader.api import Gradebook, MissingEntry

    rows = []
    with Gradebook(gradebook_url(database)) as gradebook:
        students = sorted(s.id for s in gradebook.students)
        for assignment in sorted(gradebook.assignments, key=lambda a: a.name):
            rejected = ungradable.get(assignment.name, {})
            for student in sorted(set(students) | set(rejected)):
                if student in rejected:
                    rows.append([assignment.name, student, "", assignment.max_score, f"ungradable: {rejected[student]}"])
                    continue
                try:
                    submission = gradebook.find_submission(assignment.name, student)
                except MissingEntry:
                    rows.append([assignment.name, student, "", assignment.max_score, "no submission"])
                    continue
                status = "needs manual grading" if submission.needs_manual_grade else "graded"
                rows.append([assignment.name, student, submission.score, assignment.max_score, status])
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink():
        target.unlink()
    with target.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["assignment", "student_id", "score", "max_score", "status"])
        writer.writerows([[spreadsheet_safe(v) for v in row] for row in rows])
    return len(rows)
