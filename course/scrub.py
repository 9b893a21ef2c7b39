"""Make a graded notebook fit to show its student: no hidden test, bounded size.

nbgrader's feedback shows the hidden tests it restored into every test cell (jupyter/nbgrader#917,
#1363) and tracebacks quote the failing line of a hidden test. ``scrub`` removes the hidden regions
from the test cells, replaces every output line that quotes a hidden-test line, and caps outputs
in bytes (nbgrader's own limit counts lines: one 100 MB line passes).
"""
from __future__ import annotations

import re

import nbformat
from nbformat import NotebookNode

from course import answers

HIDDEN_REGION = re.compile(r"^[ \t]*#+[ \t]*BEGIN HIDDEN TESTS[ \t]*$.*?"
                           r"(?:^[ \t]*#+[ \t]*END HIDDEN TESTS[ \t]*$\n?|\Z)", re.MULTILINE | re.DOTALL)
PLACEHOLDER = "# (hidden tests run here when grading)\n"
HIDDEN_LINE = "[a line of a hidden test]"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Lines shorter than this ("else:", "pass") give nothing away.
MIN_HIDDEN_LINE = 6
MAX_CELL_TEXT_BYTES = 64 * 1024         # printed text and tracebacks, per cell
MAX_CELL_DATA_BYTES = 1024**2           # figures and rich displays, per cell
MAX_NOTEBOOK_OUTPUT_BYTES = 8 * 1024**2


def strip_hidden(source: str) -> str:
    """``source`` with every hidden-test region replaced by one placeholder comment.

    >>> strip_hidden("a = 1\\n### BEGIN HIDDEN TESTS\\nassert a == 1\\n### END HIDDEN TESTS\\n")
    'a = 1\\n# (hidden tests run here when grading)\\n'
    """
    return HIDDEN_REGION.sub(PLACEHOLDER, source)


def hidden_lines(source: NotebookNode) -> set[str]:
    """Stripped lines of the hidden tests of ``source`` that do not also occur in visible text.

    Lines shorter than ``MIN_HIDDEN_LINE`` and lines a student can see anyway give nothing away.

    >>> cell = nbformat.v4.new_code_cell("assert ok(f)\\n### BEGIN HIDDEN TESTS\\nassert ok(f)\\n"
    ...                                  "assert f(2) == 4\\npass\\n### END HIDDEN TESTS\\n")
    >>> hidden_lines(nbformat.v4.new_notebook(cells=[cell]))
    {'assert f(2) == 4'}
    """
    inside, outside = set(), set()
    for cell in source.cells:
        for match in HIDDEN_REGION.finditer(cell.source):
            inside.update(line.strip() for line in match.group(0).splitlines()[1:-1])
        outside.update(line.strip() for line in HIDDEN_REGION.sub("", cell.source).splitlines())
    return {line for line in inside - outside if len(line) >= MIN_HIDDEN_LINE}


def _clean_text(text: str, secrets: set[str]) -> str:
    lines = ANSI.sub("", text).split("\n")
    return "\n".join(HIDDEN_LINE if any(s in line for s in secrets) else line for line in lines)


def _cut(text: str, budget: int) -> tuple[str, int]:
    data = text.encode("utf-8")
    if len(data) <= budget:
        return text, len(data)
    kept = data[:max(budget, 0)].decode("utf-8", errors="ignore")
    return kept + f"\n... {len(data) - budget} bytes of output cut ...", budget


def _scrub_output(output: NotebookNode, secrets: set[str], budget: int) -> tuple[NotebookNode, int]:
    """The output with hidden lines replaced and text cut to ``budget`` bytes; its size."""
    kind = output.get("output_type")
    if kind == "stream":
        output.text, used = _cut(_clean_text(answers.strip_lines(output.get("text", "")), secrets), budget)
        return output, used
    if kind == "error":
        evalue = output.get("evalue", "")
        if len(evalue) >= MIN_HIDDEN_LINE and any(evalue in s for s in secrets):
            secrets = secrets | {evalue}
            output.evalue = "(message of a hidden test)"
        text, used = _cut(_clean_text("\n".join(output.get("traceback", [])), secrets), budget)
        output.traceback = text.split("\n")
        output.ename = _clean_text(output.get("ename", ""), secrets)[:200]
        return output, used
    used = 0
    data = output.get("data", {})
    for mime in list(data):
        value = data[mime] if isinstance(data[mime], str) else "\n".join(data[mime])
        if mime.startswith("text/") or mime in ("application/json",):
            value = _clean_text(value, secrets)
        size = len(value.encode("utf-8"))
        if used + size > budget:
            del data[mime]
            continue
        data[mime], used = value, used + size
    if not data and kind in ("display_data", "execute_result"):
        return nbformat.v4.new_output("stream", name="stdout", text="... output too large, left out ...\n"), 40
    return output, used


def scrub(executed: NotebookNode, source: NotebookNode) -> NotebookNode:
    """A copy of the graded notebook without hidden tests, its outputs capped in bytes.

    ``source`` is the instructor's notebook; its hidden-test lines are looked for in every output
    (a hidden test's assertion message too).

    >>> test = "f(1)\\n### BEGIN HIDDEN TESTS\\nassert f(2) == 4, 'f doubles'\\n### END HIDDEN TESTS\\n"
    >>> source = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(test)])
    >>> graded = nbformat.from_dict(source)
    >>> graded.cells[0].outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="f doubles",
    ...     traceback=["----> 3 assert f(2) == 4, 'f doubles'", "AssertionError: f doubles"])]
    >>> shown = scrub(graded, source).cells[0]
    >>> shown.source, shown.outputs[0].traceback, shown.outputs[0].evalue
    ('f(1)\\n# (hidden tests run here when grading)\\n', ['[a line of a hidden test]', '[a line of a hidden test]'],
     '(message of a hidden test)')
    """
    secrets = hidden_lines(source) | {"BEGIN HIDDEN TESTS", "END HIDDEN TESTS"}
    clean = nbformat.from_dict(executed)
    left = MAX_NOTEBOOK_OUTPUT_BYTES
    for cell in clean.cells:
        cell.source = strip_hidden(cell.source)
        if cell.cell_type != "code":
            continue
        outputs = []
        text_left, data_left = min(MAX_CELL_TEXT_BYTES, left), min(MAX_CELL_DATA_BYTES, left)
        for output in cell.outputs:
            textual = output.get("output_type") in ("stream", "error")
            kept, used = _scrub_output(output, secrets, text_left if textual else data_left)
            outputs.append(kept)
            if textual:
                text_left -= used
            else:
                data_left -= used
            left -= used
        cell.outputs = outputs
    return clean
