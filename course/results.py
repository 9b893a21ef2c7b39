"""Target rows: what a notebook achieved next to what the course promises.

A solution notebook calls :func:`record` for every number the course aims at. Run by a student,
it prints one line; run by ``course reproduce`` (which sets ``COURSE_RESULTS_FILE`` and
``COURSE_MODULE``), it also appends the row to a JSON-lines file that becomes the results table.
"""
from __future__ import annotations

import json
import os
import textwrap
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

ENV_FILE = "COURSE_RESULTS_FILE"
ENV_MODULE = "COURSE_MODULE"
RELATIONS = ("<=", ">=", "==", "in")
MIN_METRIC_WIDTH = 24


@dataclass(frozen=True)
class Result:
    """One row of the results table: what :func:`record` returns and :func:`read_rows` reads back.

    >>> row = Result("02-kernels", "KRR MAE", 0.9, 1.0, "<=", 0.0, "kcal/mol", True)
    >>> row.target_text
    '<= 1'
    """

    module: str
    metric: str
    achieved: Any
    target: Any
    relation: str
    tolerance: float
    unit: str
    holds: bool

    @property
    def target_text(self) -> str:
        """The target as the table prints it, with its relation.

        >>> targets = ((1.0, "=="), ((0, 2), "in"), (3, ">="))
        >>> [Result("m", "x", 1, t, relation, 0.05, "", True).target_text for t, relation in targets]
        ['1 ± 0.05', 'in [0, 2]', '>= 3']
        """
        if self.relation == "==":
            return f"{_fmt(self.target)} ± {self.tolerance:g}"
        if self.relation == "in":
            low, high = self.target
            return f"in [{_fmt(low)}, {_fmt(high)}]"
        return f"{self.relation} {_fmt(self.target)}"


def _fmt(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.5g}"
    return str(value)


def _plain(value: Any) -> Any:
    """numpy values become JSON-friendly Python numbers and lists."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _holds(achieved: Any, target: Any, relation: str, tolerance: float) -> bool:
    a = np.asarray(achieved, dtype=float)
    if relation == "in":
        low, high = target
        return bool(np.all((a >= low) & (a <= high)))
    t = np.asarray(target, dtype=float)
    if a.shape != t.shape:
        return False
    if relation == "<=":
        return bool(np.all(a <= t + tolerance))
    if relation == ">=":
        return bool(np.all(a >= t - tolerance))
    return bool(np.all(np.abs(a - t) <= tolerance))


def record(metric: str, achieved: Any, *, target: Any, relation: str = "==",
           tolerance: float = 0.0, unit: str = "", module: str | None = None) -> Result:
    """Compare ``achieved`` with ``target`` and report the row.

    ``relation`` is ``"<="`` (lower is better), ``">="``, ``"=="`` (within ``tolerance``) or
    ``"in"`` (``target`` is a ``(low, high)`` range). Arrays compare element by element.
    ``module`` defaults to the notebook ``course reproduce`` is running; commands that record
    rows outside a notebook (``course krr-curves``) name it.

    >>> import tempfile
    >>> saved = os.environ.pop(ENV_FILE, None)
    >>> row = record("test MAE", np.float64(0.93), target=1.0, relation="<=", unit="eV", module="02-kernels")
    test MAE: 0.93 eV (target <= 1) -> holds
    >>> row.holds, type(row.achieved).__name__
    (True, 'float')
    >>> with tempfile.TemporaryDirectory() as folder:  # as under course reproduce: rows go to the file
    ...     os.environ[ENV_FILE] = str(Path(folder) / "rows.jsonl")
    ...     _ = record("accuracy", 0.7, target=(0.8, 1.0), relation="in", module="03-cmb")
    ...     print(read_rows(Path(folder) / "rows.jsonl")[0].holds)
    accuracy: 0.7 (target in [0.8, 1]) -> DOES NOT HOLD
    False
    >>> _ = os.environ.pop(ENV_FILE) if saved is None else os.environ.update({ENV_FILE: saved})
    """
    if relation not in RELATIONS:
        raise ValueError(f"relation must be one of {RELATIONS}, not {relation!r}")
    row = Result(
        module=os.environ.get(ENV_MODULE, "") if module is None else module,
        metric=metric,
        achieved=_plain(achieved),
        target=_plain(target),
        relation=relation,
        tolerance=float(tolerance),
        unit=unit,
        holds=_holds(achieved, target, relation, tolerance),
    )
    mark = "holds" if row.holds else "DOES NOT HOLD"
    print(f"{metric}: {_fmt(row.achieved)} {unit} (target {row.target_text}) -> {mark}".replace("  ", " "))
    path = os.environ.get(ENV_FILE)
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(row)) + "\n")
    return row


def read_rows(path: str | Path) -> list[Result]:
    """Rows written by :func:`record` into a JSON-lines file (see its example); a line that is
    not a row is an error naming it.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = (Path(folder) / "rows.jsonl").write_text('{"metric": 1}')
    ...     read_rows(Path(folder) / "rows.jsonl")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: ...rows.jsonl, line 1: not a results row (...)
    """
    rows = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                rows.append(Result(**json.loads(line)))
            except (json.JSONDecodeError, TypeError) as error:
                raise ValueError(f"{path}, line {number}: not a results row ({error})") from error
    return rows


def format_table(rows: Sequence[Result] | Iterable[Result], width: int | None = None) -> str:
    """A plain-text table: module, metric, target, achieved, holds.

    With ``width`` (a terminal's columns) the metric column is wrapped onto continuation lines so
    that the table fits, down to a metric column of ``MIN_METRIC_WIDTH``; without it every row is
    one line.

    >>> print(format_table([Result("02-kernels", "KRR MAE", 0.93, 1.0, "<=", 0.0, "eV", True)]))
    module      metric   target   achieved  holds
    ----------  -------  -------  --------  -----
    02-kernels  KRR MAE  <= 1 eV  0.93 eV   yes
    """
    header = ("module", "metric", "target", "achieved", "holds")
    body = [(r.module, r.metric, f"{r.target_text} {r.unit}".strip(),
             f"{_fmt(r.achieved)} {r.unit}".strip(), "yes" if r.holds else "NO") for r in rows]
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(len(header))]
    if width is not None:
        others = sum(widths) - widths[1] + 2 * (len(header) - 1)
        widths[1] = max(min(widths[1], width - others), MIN_METRIC_WIDTH)
    lines = []
    for line in [header, tuple("-" * w for w in widths), *body]:
        pieces = textwrap.wrap(line[1], widths[1], break_on_hyphens=False) or [""]
        for number, piece in enumerate(pieces):
            cells = line if number == 0 else ("",) * len(line)
            cells = (cells[0], piece, *cells[2:])
            lines.append("  ".join(str(cell).ljust(w) for cell, w in zip(cells, widths)).rstrip())
    return "\n".join(lines)
