"""Unit tests of the helper library's spine: budgets, results rows, toy data, leak checks."""
import json

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from course import budget, grading, reproduce, results
from course.data import toy


def test_budget_defaults_to_quick_and_switches(monkeypatch):
    monkeypatch.delenv(budget.ENV_VAR, raising=False)
    assert budget.current() == "quick" and budget.pick(quick=1, full=2) == 1
    monkeypatch.setenv(budget.ENV_VAR, "FULL")
    assert budget.current() == "full" and budget.pick(quick=1, full=2) == 2


def test_unknown_budget_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(budget.ENV_VAR, "huge")
    with pytest.raises(ValueError, match="COURSE_BUDGET='huge'"):
        budget.current()


@pytest.mark.parametrize("achieved, target, relation, tolerance, holds", [
    (0.2, 0.227, "<=", 0, True), (0.3, 0.227, "<=", 0, False),
    (0.9, 0.85, ">=", 0, True), (0.8, 0.85, ">=", 0, False),
    ([1.8875, 0.15], [1.888, 0.150], "==", 1e-3, True), ([1.8875, 0.16], [1.888, 0.150], "==", 1e-3, False),
    (3, (2, 4), "in", 0, True), (5, (2, 4), "in", 0, False), ([1.0], [1.0, 2.0], "==", 1.0, False),
])
def test_record_decides_holds(achieved, target, relation, tolerance, holds, monkeypatch):
    monkeypatch.delenv(results.ENV_FILE, raising=False)
    assert results.record("m", achieved, target=target, relation=relation, tolerance=tolerance).holds is holds


def test_record_appends_rows_that_read_back(tmp_path, monkeypatch, capsys):
    path = tmp_path / "rows.jsonl"
    monkeypatch.setenv(results.ENV_FILE, str(path))
    monkeypatch.setenv(results.ENV_MODULE, "01-regression")
    results.record("alpha MAE", np.float32(0.2), target=0.227, relation="<=", unit="bohr^3")
    results.record("weights", np.array([1.0, 2.0]), target=[1, 2], tolerance=0.1)
    assert "alpha MAE" in capsys.readouterr().out
    rows = results.read_rows(path)
    assert [r.metric for r in rows] == ["alpha MAE", "weights"]
    assert rows[0].module == "01-regression" and rows[0].holds and rows[1].achieved == [1.0, 2.0]
    table = results.format_table(rows).splitlines()
    assert table[0].split() == ["module", "metric", "target", "achieved", "holds"] and len(table) == 4


def test_script_rows_merge_beside_notebook_entries(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(results.ENV_FILE, raising=False)
    monkeypatch.setenv(results.ENV_MODULE, "ignored")
    row = results.record("N to reach", 50_000, target=117_000, relation="<=", module="02-kernels")
    assert row.module == "02-kernels"
    (tmp_path / reproduce.RESULTS_NAME).write_text(json.dumps({"modules": {"02-kernels": {"rows": []}}}))
    reproduce.merge_entry(tmp_path, "02-kernels (full budget)", {"budget": "full", "rows": [row]})
    data = reproduce.load_results(tmp_path)
    assert set(data["modules"]) == {"02-kernels", "02-kernels (full budget)"}
    assert reproduce.rows_of(data) == [row]


def test_read_rows_names_the_bad_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"metric": "x"}) + "\n")
    with pytest.raises(ValueError, match="line 1"):
        results.read_rows(path)


def test_expected_risk_matches_closed_forms():
    # f = 0: integral of sin^2(2 pi x) over [0, 1] is 1/2; f = f*: only the noise remains.
    assert np.isclose(toy.expected_risk(lambda x: np.zeros_like(x), noise=0.2), 0.5 + 0.04, atol=1e-9)
    assert np.isclose(toy.expected_risk(toy.true_sine, noise=0.3), 0.09, atol=1e-12)
    # f = c: 1/2 + c^2 (the cross term integrates to zero).
    assert np.isclose(toy.expected_risk(lambda x: np.full_like(x, 0.5), noise=0.0), 0.75, atol=1e-9)


def test_sine_data_noise_has_the_stated_spread():
    x, y = toy.sine_data(20_000, noise=0.2, rng=1)
    assert np.all((0 <= x) & (x <= 1)) and not np.all(np.diff(x) >= 0)  # i.i.d. order, not sorted
    assert abs(np.std(y - toy.true_sine(x)) - 0.2) < 0.005
    with pytest.raises(ValueError):
        toy.sine_data(0)


def _nb(*sources):
    return new_notebook(cells=[new_code_cell(s) for s in sources])


def test_find_leaks_catches_markers_and_solution_text():
    source = _nb("x = 1\n### BEGIN SOLUTION\nanswer = np.linalg.solve(A, b)\n### END SOLUTION",
                 "assert x == 1\n### BEGIN HIDDEN TESTS\nassert answer_is_right(answer)\n### END HIDDEN TESTS")
    clean = _nb("x = 1\n# YOUR CODE HERE\nraise NotImplementedError()", "assert x == 1")
    assert grading.find_leaks(source, clean) == []
    leaked = _nb("x = 1\nanswer = np.linalg.solve(A, b)", "assert x == 1\nassert answer_is_right(answer)")
    assert len(grading.find_leaks(source, leaked)) == 2
    assert "marker" in grading.find_leaks(source, _nb("### END SOLUTION"))[0]


def test_notebook_differences_sees_an_edited_cell():
    a = _nb("x = 1", "y = 2")
    b = nbformat.from_dict(a)
    assert grading.notebook_differences(a, b) == []
    b.cells[1].source = "y = 3"
    assert grading.notebook_differences(a, b) == [f"cell 1 ({a.cells[1].id}): source differs"]


def test_setup_caps_blas_threads_and_seeds():
    from threadpoolctl import threadpool_info, threadpool_limits

    from course.notebook import setup

    with threadpool_limits(limits=None):  # restores this process's BLAS threads afterwards
        first, second = setup(3).normal(size=3), setup(3).normal(size=3)
        assert np.array_equal(first, second)
        assert all(pool["num_threads"] == 1 for pool in threadpool_info() if pool["user_api"] == "blas")


def test_setup_keeps_tensorflow_quiet_in_an_interactive_kernel():
    # Jupyter kernels define sys.ps1; TensorFlow then logs INFO to stdout unless told otherwise.
    import subprocess
    import sys

    script = ("import sys; sys.ps1 = '>>> '\n"
              "from course.notebook import setup; setup(0)\n"
              "import keras, numpy as np\n"
              "for _ in range(8):\n"
              "    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])\n"
              "    m.predict(np.ones((2, 3)), verbose=0)\n"
              "print('done')\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "done" and run.stderr == "", (run.stdout[-500:], run.stderr[-500:])
