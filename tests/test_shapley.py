"""Exact Shapley values against independent references: the closed form of linear models, a brute-force
average over all d! feature orders, and the Shapley axioms."""
import itertools
import math

import numpy as np
import pytest

from course.explain.shapley import (ShapleyValues, coalition_values, coalitions, exact_shapley, linear_shapley,
                                    shapley_weights)


def mlp(d: int, seed: int = 0, hidden: int = 6):
    """A tiny random tanh network plus a product term: every feature interacts with others."""
    rng = np.random.default_rng(seed)
    W1, b1, W2 = rng.normal(size=(d, hidden)), rng.normal(size=hidden), rng.normal(size=hidden)
    return lambda A: np.tanh(A @ W1 + b1) @ W2 + A[:, 0] * A[:, 1] * A[:, -1]


def by_permutations(predict, x: np.ndarray, background: np.ndarray) -> np.ndarray:
    """φ_i = mean over all d! orders of f's gain when i joins the features before it, one f call per hybrid."""
    d = len(x)

    def value(present: set) -> float:
        hybrid = background.copy()
        hybrid[:, sorted(present)] = x[sorted(present)]
        return float(np.mean(predict(hybrid)))

    phi = np.zeros(d)
    for order in itertools.permutations(range(d)):
        before: set = set()
        for i in order:
            phi[i] += value(before | {i}) - value(before)
            before.add(i)
    return phi / math.factorial(d)


def test_slide_example_splits_the_prediction_by_the_weights():
    # f = 5 x1 + 3 x2 + 2 x3 at x = (1, 1, 1) with baseline 0: each feature gets its own term, not 17/3.
    result = exact_shapley(lambda A: A @ np.array([5.0, 3.0, 2.0]), np.ones((1, 3)), np.zeros(3))
    np.testing.assert_allclose(result.values, [[5.0, 3.0, 2.0]], atol=1e-12)
    np.testing.assert_allclose(result.base, [0.0], atol=1e-12)
    np.testing.assert_allclose(result.prediction, [10.0])


@pytest.mark.parametrize("m", [1, 7])
def test_linear_model_matches_closed_form(m):
    rng = np.random.default_rng(m)
    w, X, background = rng.normal(size=6), rng.normal(size=(4, 6)), rng.normal(size=(m, 6))
    result = exact_shapley(lambda A: A @ w - 1.5, X, background if m > 1 else background[0])
    np.testing.assert_allclose(result.values, linear_shapley(w, X, background), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(result.base, np.full(4, np.mean(background @ w - 1.5)), rtol=1e-12)


def test_linear_shapley_closed_form_by_hand():
    values = linear_shapley(np.array([2.0, -1.0]), np.array([[3.0, 1.0]]), np.array([[0.0, 0.0], [2.0, 4.0]]))
    np.testing.assert_allclose(values, [[2.0 * (3 - 1), -1.0 * (1 - 2)]])


@pytest.mark.parametrize("d", [4, 5])
def test_nonlinear_model_matches_average_over_all_orders(d):
    predict = mlp(d, seed=d)
    rng = np.random.default_rng(10 + d)
    X, background = rng.normal(size=(3, d)), rng.normal(size=(5, d))
    result = exact_shapley(predict, X, background)
    reference = np.array([by_permutations(predict, x, background) for x in X])
    assert np.abs(reference).max() > 0.1  # a nontrivial function
    np.testing.assert_allclose(result.values, reference, rtol=1e-10, atol=1e-12)


def test_efficiency():
    predict = mlp(5, seed=3)
    rng = np.random.default_rng(3)
    X, background = rng.normal(size=(6, 5)), rng.normal(size=(9, 5))
    result = exact_shapley(predict, X, background)
    np.testing.assert_allclose(result.prediction, predict(X), rtol=1e-12)
    np.testing.assert_allclose(result.base, np.full(6, predict(background).mean()), rtol=1e-12)
    np.testing.assert_allclose(result.values.sum(axis=1), predict(X) - predict(background).mean(), atol=1e-12)
    assert np.abs(result.completeness_gap()).max() < 1e-12


def test_completeness_gap_measures_a_wrong_split():
    # f(x) = 4 split as v(∅) = 0.5 plus 1 + 2: 0.5 is left over, and a split that overshoots is negative.
    wrong = ShapleyValues(values=np.array([[1.0, 2.0], [3.0, 2.0]]), base=np.array([0.5, 0.5]),
                          prediction=np.array([4.0, 4.0]))
    np.testing.assert_allclose(wrong.completeness_gap(), [0.5, -1.5])


def test_symmetry_splits_a_product_equally():
    # f = x1 x2 at x = (2, 3), baseline 0: v(∅) = v({1}) = v({2}) = 0, v({1, 2}) = 6, so 3 each.
    result = exact_shapley(lambda A: A[:, 0] * A[:, 1], np.array([[2.0, 3.0]]), np.zeros(2))
    np.testing.assert_allclose(result.values, [[3.0, 3.0]])


def test_dummy_feature_gets_nothing():
    inner = mlp(3, seed=4)
    predict = lambda A: inner(A[:, [0, 1, 3]])  # ignores feature 2
    rng = np.random.default_rng(4)
    X, background = rng.normal(size=(5, 4)), rng.normal(size=(6, 4))
    values = exact_shapley(predict, X, background).values
    np.testing.assert_allclose(values[:, 2], 0.0, atol=1e-12)
    assert np.abs(values[:, [0, 1, 3]]).min() > 1e-6


def test_linearity_in_the_model():
    f, g = mlp(4, seed=5), mlp(4, seed=6)
    rng = np.random.default_rng(5)
    X, background = rng.normal(size=(4, 4)), rng.normal(size=(3, 4))
    combined = exact_shapley(lambda A: 2 * f(A) - 0.5 * g(A), X, background).values
    separate = 2 * exact_shapley(f, X, background).values - 0.5 * exact_shapley(g, X, background).values
    np.testing.assert_allclose(combined, separate, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("batch_size", [1, 7, 64, 10**6])
def test_chunks_give_the_same_values_as_one_batch(batch_size):
    predict = mlp(4, seed=7)
    rng = np.random.default_rng(7)
    X, background = rng.normal(size=(3, 4)), rng.normal(size=(5, 4))
    calls = []

    def counted(A):
        calls.append(len(A))
        return predict(A)

    result = exact_shapley(counted, X, background, batch_size=batch_size)
    total = 3 * 2**4 * 5
    assert sum(calls) == total and max(calls) <= batch_size
    assert len(calls) == math.ceil(total / batch_size)
    np.testing.assert_allclose(result.values, exact_shapley(predict, X, background, batch_size=10**6).values,
                               rtol=1e-12, atol=1e-14)


def test_column_output_and_single_sample_coalition_values():
    # f = x1 x2 returned as (rows, 1); one sample (2, 3), background rows (0, 0) and (1, 1).
    v = coalition_values(lambda A: (A[:, 0] * A[:, 1])[:, None], np.array([[2.0, 3.0]]),
                         np.array([[0.0, 0.0], [1.0, 1.0]]))
    np.testing.assert_allclose(v, [[0.5, 1.0, 1.5, 6.0]])  # ∅, {1}, {2}, {1, 2}


def test_coalitions_and_weights():
    masks = coalitions(3)
    assert masks.shape == (8, 3) and masks.dtype == bool
    assert len({tuple(row) for row in masks}) == 8
    assert not masks[0].any() and masks[-1].all()
    w = shapley_weights(4)
    np.testing.assert_allclose(w, [1 / 4, 1 / 12, 1 / 12, 1 / 4, 0.0])
    for d in range(1, 8):  # the weights of the coalitions without a given feature sum to 1
        sizes = np.array([math.comb(d - 1, s) for s in range(d)])
        assert sizes @ shapley_weights(d)[:d] == pytest.approx(1.0)


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="d must be between 1 and 20"):
        coalitions(21)
    X = np.zeros((2, 3))
    with pytest.raises(ValueError, match="background must be"):
        exact_shapley(lambda A: A.sum(axis=1), X, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="predict must return one value per row"):
        exact_shapley(lambda A: A, X, np.zeros(3))
    with pytest.raises(ValueError, match="batch_size"):
        exact_shapley(lambda A: A.sum(axis=1), X, np.zeros(3), batch_size=0)
    with pytest.raises(ValueError, match="weights must be"):
        linear_shapley(np.ones(2), X, np.zeros(3))
    with pytest.raises(ValueError, match="X must be"):
        exact_shapley(lambda A: A.sum(axis=1), np.zeros(3), np.zeros(3))
