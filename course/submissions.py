"""Find and check submissions before anything of them runs, so that one odd file costs one student.

``collect`` looks at ``autograde/submitted/STUDENT/MODULE/`` for every student folder and returns,
per student, either a :class:`Submission` (a clean notebook built on the release's metadata, ready
to grade) or a :class:`Rejected` with the reason it cannot be graded.

>>> reason_for_student_id("alice")
>>> reason_for_student_id("=SUM(A1)")
"student id '=SUM(A1)' has characters other than letters, digits and . _ @ -"
"""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

MAX_NOTEBOOK_BYTES = 20 * 1024**2
MAX_CELLS = 2000
#: Files nbgrader's exchange puts beside a collected notebook; kept (checked) for release_feedback.
EXCHANGE_FILES = {"timestamp.txt": re.compile(r"^[0-9 :.+\-TZUC]{1,64}$"),
                  "submission_secret.txt": re.compile(r"^[0-9a-fA-F]{1,512}$")}
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


@dataclass(frozen=True)
class Submission:
    """A notebook that can be graded: the student, where it was found, the clean notebook
    (:func:`normalize`) and notes for the log. See :func:`collect` for an example."""

    student: str
    path: Path
    notebook: NotebookNode
    notes: tuple[str, ...] = field(default=())   # what was changed or left out, for the log
    exchange_files: tuple[tuple[str, str], ...] = ()  # (name, text) of nbgrader's exchange files found


@dataclass(frozen=True)
class Rejected:
    """A student folder that cannot be graded, with the reason (told to the student and the log).
    See :func:`collect` for an example."""

    student: str          # printable: unsafe characters escaped
    path: Path
    reason: str


def printable(name: str) -> str:
    """``name`` with control and non-ASCII characters escaped, safe for one line of a log or CSV.

    >>> printable("ali\\nce_é")
    'ali\\\\nce_\\\\xe9'
    """
    return name.encode("unicode_escape").decode("ascii")


def reason_for_student_id(name: str) -> str | None:
    """Why a folder name cannot be a student id (it becomes paths, database keys and CSV cells);
    ``None`` for a good one (see the module's example).

    >>> reason_for_student_id("a..b"), reason_for_student_id("")
    ("student id 'a..b' has characters other than letters, digits and . _ @ -", 'empty student id')
    """
    if STUDENT_ID.match(name) and ".." not in name:
        return None
    return (f"student id {printable(name)!r} has characters other than letters, digits and . _ @ -"
            if name else "empty student id")


def notebook_name_pattern(module: str) -> re.Pattern:
    """File names an LMS or a browser gives ``MODULE.ipynb``: ``MODULE (1).ipynb``,
    ``alice_MODULE.ipynb``, ``MODULE-2.ipynb``, ``MODULE copy.ipynb``, any letter case.

    >>> pattern = notebook_name_pattern("01-regression")
    >>> [bool(pattern.match(n)) for n in ("01-regression (1).ipynb", "alice_01-Regression.ipynb", "02-kernels.ipynb")]
    [True, True, False]
    """
    return re.compile(rf"^(?:[^/]*[_ ])?{re.escape(module)}(?:\s*\(\d+\)|[ _-]\d+| copy)?\.ipynb$",
                      re.IGNORECASE)


def collect(submitted: Path, module: str, release: NotebookNode,
            max_bytes: int = MAX_NOTEBOOK_BYTES) -> list[Submission | Rejected]:
    """Every student folder of ``submitted`` checked for ``module``, in student order.

    >>> import tempfile
    >>> meta = {"nbgrader": {"grade": True, "grade_id": "t1", "points": 1}}
    >>> test = nbformat.v4.new_code_cell("assert f(1) == 2", metadata=meta)
    >>> release = nbformat.v4.new_notebook(cells=[test])
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     submitted = Path(folder)
    ...     (submitted / "alice" / "01-x").mkdir(parents=True)
    ...     nbformat.write(release, submitted / "alice" / "01-x" / "01-x (1).ipynb")
    ...     (submitted / "bob").mkdir()
    ...     found = collect(submitted, "01-x", release)
    >>> [(type(f).__name__, f.student) for f in found], found[0].notes, found[1].reason
    ([('Submission', 'alice'), ('Rejected', 'bob')], ('graded 01-x (1).ipynb as 01-x.ipynb',), 'no 01-x/ folder')
    """
    if not submitted.is_dir() or submitted.is_symlink():
        return []
    found = []
    for entry in sorted(submitted.iterdir(), key=lambda p: p.name):
        student = printable(entry.name)
        try:
            found.append(_check_student(entry, module, release, max_bytes))
        except _Reject as problem:
            found.append(Rejected(student, entry, str(problem)))
    return found


class _Reject(Exception):
    pass


def _check_student(entry: Path, module: str, release: NotebookNode, max_bytes: int) -> Submission:
    if entry.is_symlink():
        raise _Reject("the student folder is a link")
    if not entry.is_dir():
        raise _Reject(f"a file, not a student folder: put it in submitted/STUDENT/{module}/")
    bad_id = reason_for_student_id(entry.name)
    if bad_id:
        raise _Reject(bad_id)
    folder = entry / module
    if folder.is_symlink():
        raise _Reject(f"{module}/ is a link")
    if not folder.is_dir():
        raise _Reject(f"no {module}/ folder")
    links = [p for p in folder.rglob("*") if p.is_symlink()]
    if links:
        raise _Reject(f"contains a link: {printable(str(links[0].relative_to(entry)))}")
    path = _pick_notebook(folder, module)
    notebook = _read(path, max_bytes)
    clean, notes = normalize(notebook, release, module)
    exchange = _exchange_files(folder)
    extra = sorted(printable(str(p.relative_to(folder))) for p in folder.rglob("*")
                   if p.is_file() and p != path and ".ipynb_checkpoints" not in p.parts
                   and p.name not in dict(exchange))
    if extra:
        notes.append(f"not copied (only the notebook is graded): {', '.join(extra[:10])}"
                     + (f" and {len(extra) - 10} more" if len(extra) > 10 else ""))
    if path.name != f"{module}.ipynb":
        notes.append(f"graded {printable(path.name)} as {module}.ipynb")
    return Submission(entry.name, path, clean, tuple(notes), exchange)


def _exchange_files(folder: Path) -> tuple[tuple[str, str], ...]:
    """The files ``nbgrader collect`` leaves beside the notebook, when small and well formed."""
    found = []
    for name, pattern in EXCHANGE_FILES.items():
        path = folder / name
        if path.is_file() and not path.is_symlink() and path.stat().st_size <= 1024:
            text = path.read_bytes().decode("ascii", errors="replace")
            if pattern.match(text.strip()):
                found.append((name, text))
    return tuple(found)


def _pick_notebook(folder: Path, module: str) -> Path:
    notebooks = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".ipynb" and p.is_file())
    exact = folder / f"{module}.ipynb"
    if exact in notebooks:
        return exact
    pattern = notebook_name_pattern(module)
    matching = [p for p in notebooks if pattern.match(p.name)]
    if len(matching) == 1:
        return matching[0]
    names = ", ".join(printable(p.name) for p in (matching or notebooks)) or "none"
    if len(matching) > 1:
        raise _Reject(f"several notebooks could be {module}.ipynb: {names}")
    raise _Reject(f"no notebook named like {module}.ipynb (notebooks found: {names})")


def _read(path: Path, max_bytes: int) -> NotebookNode:
    size = path.stat().st_size
    if size == 0:
        raise _Reject("empty file")
    if size > max_bytes:
        raise _Reject(f"{size / 1024**2:.1f} MB, over the {max_bytes / 1024**2:.0f} MB limit")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise _Reject("not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise _Reject(f"not JSON ({error.msg} at line {error.lineno}, column {error.colno})") from None
    except RecursionError:
        raise _Reject("not a notebook (JSON nested too deeply)") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise _Reject("JSON but not a notebook (no list of cells)")
    if data.get("nbformat") != 4:
        raise _Reject(f"notebook format {printable(str(data.get('nbformat')))}, expected 4")
    if len(data["cells"]) > MAX_CELLS:
        raise _Reject(f"{len(data['cells'])} cells, over the limit of {MAX_CELLS}")
    try:
        notebook = nbformat.from_dict(data)
        _unique_cell_ids(notebook)
        nbformat.validate(notebook)
    except Exception as error:  # nbformat raises several kinds for malformed notebooks
        message = printable(str(error).splitlines()[0] if str(error) else type(error).__name__)
        raise _Reject(f"not a valid notebook: {message[:200]}") from None
    return notebook


def _unique_cell_ids(notebook: NotebookNode) -> None:
    """Give repeated or missing cell ids fresh ones (nbformat rejects repeats; copies are innocent)."""
    if notebook.get("nbformat_minor", 0) < 5:
        return
    seen = set()
    for cell in notebook.cells:
        if not isinstance(cell, dict):
            return  # left to validate() to name
        if not isinstance(cell.get("id"), str) or cell["id"] in seen:
            cell["id"] = uuid.uuid4().hex[:12]
        seen.add(cell["id"])


def _grade_id(cell: NotebookNode) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta.get("grade_id") if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str) else None


def normalize(notebook: NotebookNode, release: NotebookNode, module: str) -> tuple[NotebookNode, list[str]]:
    """The submission with the release's notebook metadata and grading metadata, outputs cleared.

    Forged grading metadata cannot pay: a cell claiming a grade id the release does not have, or a
    second cell with the same grade id (a copy-pasted test cell), becomes an ordinary cell; known
    cells get the release's metadata (points, locks) back. A notebook with none of the release's
    exercise cells is another assignment and is rejected.

    >>> meta = {"nbgrader": {"grade": True, "grade_id": "t1", "points": 2}}
    >>> test = nbformat.v4.new_code_cell("assert f(1) == 2", metadata=meta)
    >>> release = nbformat.v4.new_notebook(cells=[test])
    >>> forged = nbformat.from_dict(release)
    >>> forged.cells[0].metadata.nbgrader["points"] = 100
    >>> forged.cells.append(nbformat.from_dict(forged.cells[0]))   # a copied test cell
    >>> clean, notes = normalize(forged, release, "01-x")
    >>> clean.cells[0].metadata.nbgrader["points"], "nbgrader" in clean.cells[1].metadata, notes
    (2, False, ['cell 1 repeats t1: it is graded once, the copy runs as an ordinary cell'])
    """
    wanted = {_grade_id(c): c.metadata["nbgrader"] for c in release.cells if _grade_id(c)}
    exercises = {g for g, meta in wanted.items() if meta.get("solution") or meta.get("grade")}
    clean = nbformat.from_dict(notebook)
    clean.metadata = nbformat.from_dict(release.metadata)
    if not exercises & {_grade_id(c) for c in clean.cells}:
        raise _Reject(f"not a notebook of {module}: none of its exercise cells is there")
    notes, keep = [], _cells_to_keep(clean, release)
    for index, cell in enumerate(clean.cells):
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        grade_id = _grade_id(cell)
        if "nbgrader" not in cell.get("metadata", {}):
            continue
        if grade_id in wanted and keep.get(grade_id) == index:
            cell.metadata.nbgrader = nbformat.from_dict(wanted[grade_id])
            continue
        del cell.metadata["nbgrader"]
        if grade_id in wanted:
            notes.append(f"cell {index} repeats {printable(grade_id)}: it is graded once, the copy runs as an ordinary cell")
        else:
            notes.append(f"cell {index} has grading metadata the release does not have "
                         f"({printable(str(grade_id))}): it runs as an ordinary cell")
    missing = [g for g in wanted if g not in keep]
    if missing:
        notes.append(f"missing cells put back from the release: {', '.join(missing)}")
    return clean, notes


def _cells_to_keep(notebook: NotebookNode, release: NotebookNode) -> dict[str, int]:
    """For each grade id, the index of the cell that stands for it: the one with the release's
    cell id if there is one, else the first."""
    release_ids = {_grade_id(c): c.get("id") for c in release.cells if _grade_id(c)}
    keep: dict[str, int] = {}
    for index, cell in enumerate(notebook.cells):
        grade_id = _grade_id(cell)
        if grade_id not in release_ids:
            continue
        if grade_id not in keep or (cell.get("id") == release_ids[grade_id]
                                    and notebook.cells[keep[grade_id]].get("id") != release_ids[grade_id]):
            keep[grade_id] = index
    return keep
