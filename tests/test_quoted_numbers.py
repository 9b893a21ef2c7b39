"""Numbers quoted in the prose of the executed solutions agree with the rows their run recorded.

A paragraph that states a result of the run (an AUC, an MAE, a ratio) goes stale when a re-run
changes it. The rule: prose quotes such a number only with a tag naming its result row,

    the network reaches 0.854 <!-- result: library network, validation AUC with all training spectra -->

(invisible when rendered), and the number must equal the row's achieved value at the precision
quoted. A number that matches a recorded value but carries no tag is flagged too, since it would
drift silently; so is the phrase "in the solution's run", the mark of text written before the run.
A run-dependent number that no row records is beyond this test: such numbers are printed by the
cell that computes them, not written into prose.
"""
from __future__ import annotations

import json
import re
import sys

import nbformat

from conftest import ROOT

TAG = re.compile(r"(-?\d+(?:\.\d+)?)\s*<!--\s*result:\s*(.+?)\s*-->")
NUMBER = re.compile(r"(?<![\w.])-?\d+\.\d+(?![\w.])")
WRITTEN_BEFORE_THE_RUN = re.compile(r"in the solution'?s run", re.IGNORECASE)


def _rows(module: str) -> dict[str, object]:
    entries = json.loads((ROOT / "solutions" / "results.json").read_text())["modules"]
    return {row["metric"]: row["achieved"] for row in entries.get(module, {}).get("rows", [])}


def _markdown(module: str) -> list[tuple[int, str]]:
    notebook = nbformat.read(ROOT / "solutions" / module / f"{module}.ipynb", as_version=4)
    return [(index, cell.source) for index, cell in enumerate(notebook.cells) if cell.cell_type == "markdown"]


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def _matches(quoted: str, achieved) -> bool:
    values = achieved if isinstance(achieved, list) else [achieved]
    return any(isinstance(v, (int, float)) and round(float(v), _decimals(quoted)) == float(quoted) for v in values)


def quoted_number_problems(module: str) -> list[str]:
    """Every stale, unknown or untagged quote of a recorded result in the module's solution prose."""
    rows = _rows(module)
    problems = []
    for index, text in _markdown(module):
        for number, metric in TAG.findall(text):
            if metric not in rows:
                problems.append(f"cell {index}: {number} is tagged with an unknown result row {metric!r}")
            elif not _matches(number, rows[metric]):
                problems.append(f"cell {index}: quotes {number} for {metric!r}, but the run recorded {rows[metric]}")
        untagged = TAG.sub("", text)
        for number in NUMBER.findall(untagged):
            if _decimals(number) >= 2 and any(_matches(number, v) for v in rows.values()):
                problems.append(f"cell {index}: {number} matches a recorded result but has no "
                                f"<!-- result: ... --> tag, so a re-run would leave it stale")
        if WRITTEN_BEFORE_THE_RUN.search(text):
            problems.append(f"cell {index}: 'in the solution's run' describes a run in prose; print it from a cell")
    return problems


def test_quoted_numbers_match_the_recorded_results(module):  # one case per module (conftest)
    assert quoted_number_problems(module) == []


def test_a_stale_quote_is_caught(tmp_path, monkeypatch):
    # The check itself can fail: a tagged number that disagrees with its row, and an untagged match.
    rows = {"modules": {"m": {"rows": [{"metric": "AUC", "achieved": 0.8544}]}}}
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("fresh 0.854 <!-- result: AUC -->, stale 0.861 <!-- result: AUC -->"),
        nbformat.v4.new_markdown_cell("untagged 0.85 and a constant 2.7255"),
        nbformat.v4.new_markdown_cell("In the solution's run the AUC is high."),
    ])
    (tmp_path / "solutions" / "m").mkdir(parents=True)
    (tmp_path / "solutions" / "results.json").write_text(json.dumps(rows))
    nbformat.write(notebook, tmp_path / "solutions" / "m" / "m.ipynb")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    problems = quoted_number_problems("m")
    assert len(problems) == 3, problems
    assert "0.861" in problems[0] and "0.85 matches" in problems[1] and "solution's run" in problems[2]
