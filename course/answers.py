"""Answers judged outside the student's kernel.

A hidden test runs in the student's own Python process, so whatever it asserts can be faked there:
an object that equals everything, a patched ``np.allclose``, an input transformer that deletes the
``assert`` lines, an exception handler that hides the failure. A test cell therefore also *reports*
what the student's code computed, as plain data on a line of its own::

    answer("risk of 50 random pairs", empirical_risk(y, p))

``course grade`` (which sets :data:`ENV_VAR` in the kernel) first grades the course's own solution the same way, then, in its own trusted
process, compares every reported value of a student with the solution's (the tolerance comes from
the solution's line, never from the student's). A cell that reports answers scores its points only
when every one of them is there, once, and agrees. Faking that takes the right numbers, which is
solving the exercise.

>>> line = report_line("mean", 2.0000001, rtol=1e-6)
>>> reported = parse_lines(line)
>>> agree(reported["mean"], parse_lines(report_line("mean", 2.0, rtol=1e-6))["mean"])
True
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Starts every answer line; a student's output that merely mentions answers does not.
MARK = "\u241eCOURSE-ANSWER "
#: Set (to anything) where answers are graded; elsewhere :func:`answer` stays silent, so that the
#: executed solutions and a student's own runs show no report lines.
ENV_VAR = "COURSE_REPORT_ANSWERS"
MAX_LINE_CHARS = 2_000_000


def plain(value: Any) -> Any:
    """``value`` as JSON-ready plain data: text and truth values as they are, dicts key by key,
    everything else as a float array (shape and entries), ragged sequences item by item.

    An object that only pretends to be a number becomes whatever its ``__float__`` says.

    >>> plain((1, [2, 3]))
    [{'shape': [], 'data': [1.0]}, {'shape': [2], 'data': [2.0, 3.0]}]
    """
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, (bool, np.bool_)):
        return {"bool": bool(value)}
    if isinstance(value, dict):
        return {"dict": {str(k): plain(v) for k, v in value.items()}}
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return {"unreadable": type(value).__name__}
    return {"shape": list(array.shape), "data": [_number(x) for x in array.ravel().tolist()]}


def _number(x: float) -> float | str:
    return x if math.isfinite(x) else repr(x)  # JSON has no nan or inf


def report_line(label: str, value: Any, *, rtol: float = 1e-7, atol: float = 0.0) -> str:
    """The line :func:`answer` prints (without the newline): a mark, then the answer as JSON.

    >>> report_line("n", 3).replace(MARK, "<mark>")
    '<mark>{"label": "n", "value": {"shape": [], "data": [3.0]}, "rtol": 1e-07, "atol": 0.0}'
    """
    return MARK + json.dumps({"label": str(label), "value": plain(value), "rtol": float(rtol), "atol": float(atol)})


def answer(label: str, value: Any, *, rtol: float = 1e-7, atol: float = 0.0) -> None:
    """Report ``value`` for the grader to compare, outside this process, with the solution's.

    ``rtol``/``atol`` say how far a correct answer may lie from the solution's (as in
    ``np.allclose``); only the solution's tolerances count. Silent unless :data:`ENV_VAR` is set.

    >>> saved = os.environ.pop(ENV_VAR, None)
    >>> answer("ridge weights", [0.5, 1.5], atol=1e-8)          # a student's own run: nothing shown
    >>> os.environ[ENV_VAR] = "1"                               # as under course grade
    >>> answer("ridge weights", [0.5, 1.5], atol=1e-8)  # doctest: +ELLIPSIS
    ␞COURSE-ANSWER {"label": "ridge weights", "value": {"shape": [2], "data": [0.5, 1.5]}, ...}
    >>> _ = os.environ.pop(ENV_VAR) if saved is None else os.environ.update({ENV_VAR: saved})
    """
    if os.environ.get(ENV_VAR):
        print(report_line(label, value, rtol=rtol, atol=atol), flush=True)


@dataclass(frozen=True)
class Reported:
    """One reported answer: its value as plain data and the tolerance it was reported with.

    >>> parse_lines(report_line("x", 1.5, atol=0.1))["x"]
    Reported(value={'shape': [], 'data': [1.5]}, rtol=1e-07, atol=0.1, count=1)
    """

    value: Any
    rtol: float
    atol: float
    count: int = 1  # how often the label was reported in the cell


def parse_lines(text: str) -> dict[str, Reported]:
    """The answers reported in ``text`` (a cell's printed output), by label; lines that are not
    well-formed answers are ignored, and a label reported twice counts how often.

    >>> text = "\\n".join([report_line("x", 1.0), "x = 1.0", report_line("x", 1.0), MARK + "{broken"])
    >>> {label: r.count for label, r in parse_lines(text).items()}
    {'x': 2}
    """
    found: dict[str, Reported] = {}
    for line in text.splitlines():
        if not line.startswith(MARK) or len(line) > MAX_LINE_CHARS:
            continue
        try:
            record = json.loads(line[len(MARK):])
            label, value = str(record["label"]), record["value"]
            rtol, atol = float(record["rtol"]), float(record["atol"])
        except (ValueError, KeyError, TypeError, RecursionError):
            continue
        count = found[label].count + 1 if label in found else 1
        found[label] = Reported(value, rtol, atol, count)
    return found


def cell_answers(cell) -> dict[str, Reported]:
    """The answers a notebook cell printed on stdout (stderr and rich outputs are not read).

    >>> import nbformat
    >>> cell = nbformat.v4.new_code_cell(outputs=[
    ...     nbformat.v4.new_output("stream", name="stdout", text=report_line("x", 2.0)),
    ...     nbformat.v4.new_output("stream", name="stderr", text=report_line("y", 3.0))])
    >>> list(cell_answers(cell))
    ['x']
    """
    text = "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")
    return parse_lines(text)


def notebook_answers(notebook) -> dict[str, dict[str, Reported]]:
    """The answers of every code cell with a grade id, by grade id (empty where none).

    >>> import nbformat
    >>> graded = nbformat.v4.new_code_cell(metadata={"nbgrader": {"grade_id": "test-risk"}}, outputs=[
    ...     nbformat.v4.new_output("stream", name="stdout", text=report_line("risk", 0.25))])
    >>> nb = nbformat.v4.new_notebook(cells=[graded, nbformat.v4.new_code_cell("1 + 1")])
    >>> {grade_id: sorted(found) for grade_id, found in notebook_answers(nb).items()}
    {'test-risk': ['risk']}
    """
    return {cell.metadata.nbgrader["grade_id"]: cell_answers(cell) for cell in notebook.cells
            if cell.cell_type == "code" and cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")}


def agree(student: Reported, reference: Reported) -> bool:
    """Whether a student's answer matches the solution's within the solution's tolerance; an
    answer reported twice never agrees (a cell could print every candidate).

    >>> solution = parse_lines(report_line("w", [1.0, 2.0], atol=0.01))["w"]
    >>> [agree(parse_lines(report_line("w", v, atol=9.0))["w"], solution) for v in ([1.005, 2.0], [1.5, 2.0], [1.0])]
    [True, False, False]
    """
    return student.count == 1 and _same(student.value, reference.value, reference.rtol, reference.atol)


def _same(a: Any, b: Any, rtol: float, atol: float) -> bool:
    if isinstance(b, str) or isinstance(a, str):
        return a == b
    if isinstance(b, list):
        return isinstance(a, list) and len(a) == len(b) and all(_same(x, y, rtol, atol) for x, y in zip(a, b))
    if not isinstance(a, dict) or not isinstance(b, dict) or a.keys() != b.keys():
        return False
    if "dict" in b:
        return (isinstance(a["dict"], dict) and a["dict"].keys() == b["dict"].keys()
                and all(_same(a["dict"][k], b["dict"][k], rtol, atol) for k in b["dict"]))
    if "bool" in b:
        return a["bool"] is b["bool"]
    if "shape" not in b:
        return False
    try:
        x, y = (np.array([float(v) for v in d["data"]], dtype=float).reshape(d["shape"]) for d in (a, b))
    except (TypeError, ValueError):
        return False
    return x.shape == y.shape and bool(np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=True))


def strip_lines(text: str) -> str:
    """``text`` without its answer lines (they mean nothing to a student reading feedback).

    >>> strip_lines("risk = 0.25\\n" + report_line("risk", 0.25) + "\\ndone\\n")
    'risk = 0.25\\ndone\\n'
    """
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith(MARK))
