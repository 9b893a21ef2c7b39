"""Execute the solution notebooks and collect their target rows into a results table."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from course import QUIET_TENSORFLOW, machine, results
from course import budget as budgets
from course.grading import nbgrader_meta
from course.paths import CourseError, notebook, repo_root

RESULTS_NAME = "results.json"
KERNEL_LOG = "kernel.log"
CELL_TIMEOUT = {"quick": 900, "full": 6 * 3600}


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the kernel that is about to start, then restore them."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _failed_cell(nb: nbformat.NotebookNode) -> str | None:
    """The first cell with an error output, named for the user; None when no cell failed.

    A solution must run without any error, also in the cells tagged ``raises-exception`` for
    the students' Run All, which nbclient runs past instead of stopping.
    """
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                grade_id = nbgrader_meta(cell).get("grade_id")
                label = f"cell {index} (id {cell.get('id', '?')}" + (f", grade id {grade_id})" if grade_id else ")")
                return f"{label}: {output.get('ename')}: {output.get('evalue')}"
    return None


def execute(module: str, budget: str, out_dir: Path, root: Path | None = None) -> dict:
    """Run ``source/<module>/<module>.ipynb`` top to bottom; write the executed copy and the
    kernel's stderr (``kernel.log``) to ``out_dir/<module>/`` and return the module's entry for
    the results file. Any error output, in any cell, fails the run.

    It starts a kernel and runs a whole notebook (minutes), so the example is not run::

        entry = execute("01-regression", "quick", Path("solutions"))
        entry["budget"], entry["notebook"]   # ('quick', '01-regression/01-regression.ipynb')
    """
    root = root or repo_root()
    path = notebook(module, "source", root)
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as scratch:
        rows_file = Path(scratch) / "rows.jsonl"
        rows_file.touch()
        env = {budgets.ENV_VAR: budget, results.ENV_FILE: str(rows_file), results.ENV_MODULE: module,
               **QUIET_TENSORFLOW, "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
        client = NotebookClient(nb, timeout=CELL_TIMEOUT[budget], kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        log_path = out_dir / module / KERNEL_LOG
        log_path.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        try:
            # The kernel's own stderr (ZeroMQ's "running over TCP without encryption", library
            # start-up lines) goes to a log file, not between the progress lines of the terminal.
            with _environment(env), open(log_path, "w", encoding="utf-8") as log:
                client.execute(stderr=log)
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as error:
            raise CourseError(f"{path}: {_failed_cell(nb) or 'a cell (no error output recorded)'}"
                              + ("" if isinstance(error, CellExecutionError) else f" ({type(error).__name__})")
                              + f"; kernel log: {log_path}") from None
        failed = _failed_cell(nb)
        if failed:
            raise CourseError(f"{path}: {failed}")
        wall = time.perf_counter() - started
        rows = results.read_rows(rows_file)
    run = {"budget": budget, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "machine": machine.describe(), "wall_seconds": round(wall, 1)}
    nb.metadata["course_run"] = run
    stamp = nbformat.v4.new_markdown_cell(
        f"> **Executed solution** of `{module}` on the *{budget}* budget, {run['date']}, "
        f"in {run['wall_seconds']} s on {machine.one_line(run['machine'])}. "
        "Made by `course reproduce`; the student version is in `release/`.")
    stamp.id = "course-run-stamp"
    nb.cells.insert(0, stamp)
    target = out_dir / module / f"{module}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return {**run, "notebook": str(target.relative_to(out_dir)), "rows": [r.__dict__ for r in rows]}


def load_results(out_dir: Path) -> dict:
    """The results file ``out_dir/results.json``; an empty one (no modules) when there is none.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     load_results(Path(folder))
    {'modules': {}}
    """
    path = out_dir / RESULTS_NAME
    if not path.is_file():
        return {"modules": {}}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise CourseError(f"{path} is not valid JSON ({error}); delete it to start afresh") from None


def merge_entry(out_dir: Path, key: str, entry: dict) -> Path:
    """Add or replace one entry of ``out_dir/results.json``: how a command (not a notebook) records
    its rows, e.g. ``course krr-curves``'s full-budget run next to the quick notebook of the same
    module, under a key that starts with the module's name (see :func:`entry_module`).

    >>> import tempfile
    >>> row = results.Result("02-kernels", "MAE", 0.9, 1.0, "<=", 0.0, "eV", True)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = merge_entry(Path(folder), "02-kernels (full budget)", {"budget": "full", "rows": [row]})
    ...     data = load_results(Path(folder))
    >>> list(data["modules"]), rows_of(data) == [row]
    (['02-kernels (full budget)'], True)
    """
    data = load_results(out_dir)
    data["modules"][key] = {**entry, "rows": [row.__dict__ for row in entry["rows"]]}
    data["modules"] = dict(sorted(data["modules"].items()))
    path = out_dir / RESULTS_NAME
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def entry_module(key: str) -> str:
    """The module an entry of the results file belongs to: its key up to a remark in brackets.

    >>> entry_module("02-kernels (full budget, course krr-curves)"), entry_module("02-kernels")
    ('02-kernels', '02-kernels')
    """
    return key.split(" (", 1)[0]


def rows_of(data: dict, modules: list[str] | None = None) -> list[results.Result]:
    """The target rows of every entry of ``data`` (a results file), or of the entries of ``modules``:
    a module's notebook and the commands that record rows for it.

    >>> row = {"module": "02-kernels", "metric": "MAE", "achieved": 0.9, "target": 1.0, "relation": "<=",
    ...        "tolerance": 0.0, "unit": "eV", "holds": True}
    >>> data = {"modules": {"02-kernels": {"rows": [row]}, "02-kernels (full budget)": {"rows": [row]},
    ...                     "03-cmb": {"rows": [{**row, "module": "03-cmb"}]}}}
    >>> len(rows_of(data)), len(rows_of(data, ["02-kernels"])), [r.module for r in rows_of(data, ["03-cmb"])]
    (3, 2, ['03-cmb'])
    """
    return [results.Result(**row) for key, entry in data["modules"].items()
            if modules is None or entry_module(key) in modules for row in entry["rows"]]


def reproduce(modules: list[str], budget: str, out_dir: Path, root: Path | None = None) -> dict:
    """Execute ``modules`` and merge their rows into ``out_dir/results.json``, rewritten after each
    module so that a later failure keeps the earlier runs.

    ``course reproduce`` calls it; it runs whole notebooks, so the example is not run::

        data = reproduce(["01-regression"], "quick", Path("solutions"))
        format_table(rows_of(data, ["01-regression"]))
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    data = load_results(out_dir)
    for module in modules:
        print(f"running {module} on the {budget} budget ...", flush=True)
        data["modules"][module] = execute(module, budget, out_dir, root)
        print(f"  done in {data['modules'][module]['wall_seconds']} s", flush=True)
        data["modules"] = dict(sorted(data["modules"].items()))
        (out_dir / RESULTS_NAME).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return data
