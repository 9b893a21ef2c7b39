"""Answers judged outside the kernel (course.answers, classgrade.judge): what a cheat inside the
kernel can report, and what the trusted side makes of it."""
import math

import nbformat
import numpy as np
from nbformat.v4 import new_code_cell, new_notebook, new_output

from course import answers, classgrade, scrub


class Anything(float):
    """The always-equal object of a hostile submission."""

    def __eq__(self, other):
        return True

    __hash__ = float.__hash__

    def __float__(self):
        return 0.5


def reported(label, value, **tolerance):
    return answers.parse_lines(answers.report_line(label, value, **tolerance))[label]


def test_plain_data_whatever_the_object():
    assert answers.plain(Anything(3.0)) == {"shape": [], "data": [0.5]}  # a plain number: what __float__ says
    assert answers.plain({"b": 1, "a": [1, 2]}) == {"dict": {"b": {"shape": [], "data": [1.0]},
                                                             "a": {"shape": [2], "data": [1.0, 2.0]}}}
    assert answers.plain(np.array([np.nan, np.inf])) == {"shape": [2], "data": ["nan", "inf"]}
    assert answers.plain(True) == {"bool": True} and answers.plain("b") == "b"
    assert answers.plain(object()) == {"unreadable": "object"}


def test_agree_uses_the_reference_tolerance_only():
    reference = reported("x", [1.0, 2.0], rtol=1e-3)
    assert answers.agree(reported("x", [1.0005, 2.0]), reference)
    assert not answers.agree(reported("x", [1.01, 2.0], rtol=1.0), reference)  # the student's rtol is ignored
    assert not answers.agree(reported("x", [1.0, 2.0, 3.0]), reference)          # shape
    assert answers.agree(reported("x", [math.nan]), reported("x", [math.nan]))
    assert not answers.agree(reported("x", Anything(9.0)), reported("x", 2.0))  # equal to all, but it is 0.5


def test_agree_on_structures():
    reference = reported("r", [0.25, np.arange(3), {"k": "yes"}])
    assert answers.agree(reported("r", (0.25, [0, 1, 2], {"k": "yes"})), reference)
    assert not answers.agree(reported("r", (0.25, [0, 1, 2], {"k": "no"})), reference)
    assert not answers.agree(reported("r", (0.25, [0, 1, 2])), reference)
    assert not answers.agree(reported("r", "0.25"), reported("r", 0.25))
    assert not answers.agree(reported("b", 1.0), reported("b", True))


def test_malformed_or_repeated_lines():
    good = answers.report_line("x", 1.0)
    text = "\n".join([answers.MARK + "{not json", answers.MARK + '{"label": "y"}', "x = 1.0", good, good])
    found = answers.parse_lines(text)
    assert set(found) == {"x"} and found["x"].count == 2
    assert not answers.agree(found["x"], reported("x", 1.0))  # reported twice: not trusted
    deep = answers.MARK + '{"label": "d", "value": ' + "[" * 100_000 + "]" * 100_000 + ', "rtol": 0, "atol": 0}'
    assert answers.parse_lines(deep) == {}


def graded_cell(grade_id, outputs, points=1):
    cell = new_code_cell("pass", execution_count=1, outputs=outputs)
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": grade_id, "points": points, "locked": True,
                                 "solution": False, "schema_version": 3, "task": False}
    return cell


def stdout(*lines):
    return new_output("stream", name="stdout", text="".join(line + "\n" for line in lines))


def test_judge_needs_every_reference_answer_alike():
    reference = {"a": {"v": reported("v", 2.0)}, "b": {"w": reported("w", [1, 2])}}
    executed = new_notebook(cells=[graded_cell("a", [stdout(answers.report_line("v", 2.0))]),
                                   graded_cell("b", [stdout(answers.report_line("w", [1, 3]))]),
                                   graded_cell("c", [])])
    points = {"a": 1, "b": 2, "c": 1}
    assert classgrade.judge(executed, points, reference) == {"a": 1, "b": 0, "c": 1}
    assert classgrade.judge(executed, points) == {"a": 1, "b": 2, "c": 1}  # no reference: errors only
    assert classgrade.disagreements(executed, reference) == {"b": ["w"]}
    silent = new_notebook(cells=[graded_cell("a", [stdout("all tests passed")])])
    assert classgrade.judge(silent, {"a": 1}, reference) == {"a": 0}


def test_answers_on_stderr_do_not_count():
    line = answers.report_line("v", 2.0)
    cell = graded_cell("a", [new_output("stream", name="stderr", text=line + "\n")])
    assert answers.cell_answers(cell) == {}


def test_feedback_drops_answer_lines():
    executed = new_notebook(cells=[graded_cell("a", [stdout("before", answers.report_line("v", 2.0), "after")])])
    clean = scrub.scrub(executed, nbformat.v4.new_notebook())
    assert clean.cells[0].outputs[0].text == "before\nafter\n"


def test_answer_prints_only_where_answers_are_graded(capsys, monkeypatch):
    monkeypatch.delenv(answers.ENV_VAR, raising=False)
    answers.answer("v", 1.0)
    assert capsys.readouterr().out == ""  # executed solutions and a student's own runs stay clean
    monkeypatch.setenv(answers.ENV_VAR, "1")
    answers.answer("v", 1.0)
    assert answers.parse_lines(capsys.readouterr().out)["v"].value == {"shape": [], "data": [1.0]}
