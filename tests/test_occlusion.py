"""Occlusion drops against the closed form of a linear score."""
import numpy as np
import pytest

from course.explain.occlusion import occlusion_drops, windows


def test_windows_cover_every_column_once():
    groups = windows(10, 3)
    assert [len(g) for g in groups] == [3, 3, 3, 1]
    np.testing.assert_array_equal(np.concatenate(groups), np.arange(10))
    with pytest.raises(ValueError, match="width"):
        windows(5, 0)


def test_linear_score_drop_is_weight_times_displacement():
    rng = np.random.default_rng(0)
    X, w, fill = rng.normal(size=(50, 8)), rng.normal(size=8), rng.normal(size=8)
    groups = windows(8, 3)
    drops = occlusion_drops(lambda A: float(np.mean(A @ w)), X, groups, fill)
    expected = [np.mean((X[:, g] - fill[g]) @ w[g]) for g in groups]
    np.testing.assert_allclose(drops, expected, rtol=1e-12)


def test_scalar_fill_and_input_left_untouched():
    X = np.arange(12.0).reshape(3, 4)
    before = X.copy()
    drops = occlusion_drops(lambda A: float(A.sum()), X, [np.array([0]), np.array([1, 3])], 0.0)
    np.testing.assert_allclose(drops, [X[:, 0].sum(), X[:, [1, 3]].sum()])
    np.testing.assert_array_equal(X, before)
