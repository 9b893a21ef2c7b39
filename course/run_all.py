"""Make "Run All Cells" go through a student notebook that still has unfinished exercises.

A blank release raises in its answer stubs (``raise NotImplementedError()``) and in the check
cells after them; JupyterLab's Run All stops at the first such error unless the cell carries the
standard ``raises-exception`` tag. Every nbgrader answer and test cell of ``source/`` gets the
tag, nbgrader copies it into ``release/``, and grading is unchanged (nbgrader's checksums ignore
tags). ``course release`` applies it, ``course check`` reports a cell without it.

The tag also lets nbclient run past an error, so ``course reproduce`` looks for error outputs
itself (``course.reproduce``) rather than relying on the run stopping.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat import NotebookNode

TAG = "raises-exception"


def needs_tag(cell: NotebookNode) -> bool:
    """An nbgrader answer or autograded test code cell: it raises until the student is done.

    >>> answer = nbformat.v4.new_code_cell("raise NotImplementedError()", metadata={"nbgrader": {"solution": True}})
    >>> needs_tag(answer), needs_tag(nbformat.v4.new_code_cell("x = 1")), needs_tag(nbformat.v4.new_markdown_cell("# 1"))
    (True, False, False)
    """
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("solution") or meta.get("grade"))


def untagged_cells(nb: NotebookNode) -> list[str]:
    """Grade ids (or cell ids) of the cells that need the tag and lack it: what ``course check`` reports.

    >>> cell = nbformat.v4.new_code_cell("assert f(1) == 2", metadata={"nbgrader": {"grade": True, "grade_id": "t1"}})
    >>> nb = nbformat.v4.new_notebook(cells=[cell])
    >>> untagged_cells(nb), (tag_cells(nb), untagged_cells(nb))[1]
    (['t1'], [])
    """
    return [cell.metadata["nbgrader"].get("grade_id", cell.get("id", "?")) for cell in nb.cells
            if needs_tag(cell) and TAG not in cell.metadata.get("tags", [])]


def tag_cells(nb: NotebookNode) -> list[str]:
    """Add the tag where it is missing, in place; return the grade ids tagged now.

    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
    ...     "assert f(1) == 2", metadata={"nbgrader": {"grade": True, "grade_id": "t1"}})])
    >>> tag_cells(nb), nb.cells[0].metadata["tags"], tag_cells(nb)
    (['t1'], ['raises-exception'], [])
    """
    tagged = untagged_cells(nb)
    for cell in nb.cells:
        if needs_tag(cell) and TAG not in cell.metadata.get("tags", []):
            cell.metadata["tags"] = [*cell.metadata.get("tags", []), TAG]
    return tagged


def tag_notebook(path: Path) -> list[str]:
    """Tag the cells of the notebook at ``path``, rewriting it only if something changed.

    >>> import tempfile
    >>> cell = nbformat.v4.new_code_cell("assert f(1) == 2", metadata={"nbgrader": {"grade": True, "grade_id": "t1"}})
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "01.ipynb"
    ...     nbformat.write(nbformat.v4.new_notebook(cells=[cell]), path)
    ...     print(tag_notebook(path), tag_notebook(path), nbformat.read(path, as_version=4).cells[0].metadata.tags)
    ['t1'] [] ['raises-exception']
    """
    nb = nbformat.read(path, as_version=4)
    tagged = tag_cells(nb)
    if tagged:
        nbformat.write(nb, path)
    return tagged
