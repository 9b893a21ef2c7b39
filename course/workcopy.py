"""Students work on a copy of ``release/``; ``course check`` tells an opened release from a stale one.

Opening a notebook in JupyterLab rewrites it on autosave (the kernel's ``language_info``), and
running it adds outputs. Done in ``release/``, that changes committed files: a ``git pull`` of
course updates then conflicts with the student's work, and ``course check`` would call the
release out of date although ``source/`` did not change. ``course start MODULE`` copies the
release into the git-ignored ``work/`` folder instead.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from course.paths import CourseError

WORK_FOLDER = "work"
#: What Jupyter writes into a notebook by opening or running it, not by editing it.
RUNTIME_NOTEBOOK_KEYS = ("kernelspec", "language_info", "widgets")
RUNTIME_CELL_KEYS = ("execution", "collapsed", "scrolled", "jupyter", "trusted")


def start(module: str, root: Path, target: Path | None = None, force: bool = False) -> Path:
    """Copy ``release/<module>/`` to ``target`` (default ``work/<module>/``); return the notebook.

    Refuses to replace an existing copy, which holds the student's answers, unless ``force``.

    >>> import tempfile
    >>> folder = tempfile.TemporaryDirectory(); root = Path(folder.name)
    >>> (root / "release" / "01-regression").mkdir(parents=True)
    >>> _ = (root / "release" / "01-regression" / "01-regression.ipynb").write_text("{}")
    >>> start("01-regression", root).relative_to(root).as_posix()
    'work/01-regression/01-regression.ipynb'
    >>> start("01-regression", root)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    course.paths.CourseError: .../work/01-regression exists and may hold your answers; ...
    >>> start("01-regression", root, force=True).is_file()
    True
    >>> folder.cleanup()
    """
    source = root / "release" / module
    target = Path(target) if target else root / WORK_FOLDER / module
    if target.exists():
        if not force:
            raise CourseError(f"{target} exists and may hold your answers; "
                              "open it, or pass --force to replace it with a fresh copy of the release")
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return target / f"{module}.ipynb"


def _without_runtime(nb: NotebookNode) -> dict:
    """``nb`` as plain data without outputs, execution counts and Jupyter's runtime metadata."""
    data = json.loads(nbformat.writes(nb))
    for key in RUNTIME_NOTEBOOK_KEYS:
        data["metadata"].pop(key, None)
    for cell in data["cells"]:
        for key in RUNTIME_CELL_KEYS:
            cell["metadata"].pop(key, None)
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    return data


def runtime_changes(committed: NotebookNode, fresh: NotebookNode) -> list[str]:
    """What opening or running changed in ``committed`` compared with ``fresh``, when that is
    all that differs; an empty list when the two are equal or differ in content as well.

    >>> fresh = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    >>> ran = nbformat.from_dict(fresh)
    >>> ran.cells[0].outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"})]
    >>> ran.metadata["language_info"] = {"name": "python", "version": "3.11.7"}
    >>> runtime_changes(ran, fresh)
    ['outputs in 1 cell(s)', 'kernel metadata (language_info)']
    """
    if (json.loads(nbformat.writes(committed)) == json.loads(nbformat.writes(fresh))
            or _without_runtime(committed) != _without_runtime(fresh)):
        return []
    changes = []
    ran = sum(1 for cell in committed.cells if cell.cell_type == "code"
              and (cell.get("outputs") or cell.get("execution_count") is not None))
    if ran:
        changes.append(f"outputs in {ran} cell(s)")
    keys = [key for key in RUNTIME_NOTEBOOK_KEYS if committed.metadata.get(key) != fresh.metadata.get(key)]
    if keys:
        changes.append(f"kernel metadata ({', '.join(keys)})")
    if any(a.metadata.get(key) != b.metadata.get(key) for a, b in zip(committed.cells, fresh.cells)
           for key in RUNTIME_CELL_KEYS):
        changes.append("cell view metadata")
    return changes
