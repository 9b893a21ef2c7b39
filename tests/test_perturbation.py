"""Perturbation curves against the closed form of a linear model, where removing feature i lowers
the output by exactly its contribution c_i = w_i (x_i − baseline_i)."""
import numpy as np
import pytest

from course.explain.perturbation import perturbation_curves, removal_orders, removal_steps


@pytest.fixture
def linear():
    rng = np.random.default_rng(0)
    w, X, baseline = rng.normal(size=7), rng.normal(size=(12, 7)), rng.normal(size=7)
    return (lambda A: A @ w + 0.3), X, baseline, w * (X - baseline)


def test_most_first_follows_the_largest_contributions(linear):
    predict, X, baseline, contributions = linear
    curves = perturbation_curves(predict, X, contributions, baseline)
    descending = -np.sort(-contributions, axis=1)
    zero = np.zeros((len(X), 1))
    f = predict(X)[:, None]
    np.testing.assert_allclose(curves.most, f - np.hstack([zero, np.cumsum(descending, axis=1)]), rtol=1e-12)
    np.testing.assert_allclose(curves.least, f - np.hstack([zero, np.cumsum(descending[:, ::-1], axis=1)]),
                               rtol=1e-12)
    np.testing.assert_allclose(curves.fractions, np.arange(8) / 7)


def test_most_first_is_the_steepest_descent(linear):
    predict, X, baseline, contributions = linear
    curves = perturbation_curves(predict, X, contributions, baseline, seed=3)
    assert np.all(curves.most <= curves.random + 1e-12)
    assert np.all(curves.random <= curves.least + 1e-12)
    for orders in (curves.most, curves.least, curves.random):  # same start and end, whatever the order
        np.testing.assert_allclose(orders[:, [0, -1]], curves.most[:, [0, -1]], rtol=1e-12)


def test_true_contributions_score_best(linear):
    predict, X, baseline, contributions = linear
    best = perturbation_curves(predict, X, contributions, baseline).score()
    rng = np.random.default_rng(1)
    noisy = perturbation_curves(predict, X, contributions + rng.normal(0, 1, X.shape), baseline).score()
    reversed_ = perturbation_curves(predict, X, -contributions, baseline).score()
    ties = perturbation_curves(predict, X, np.zeros_like(X), baseline).score()
    assert 0 < noisy < best
    assert reversed_ == pytest.approx(-best)
    assert ties == 0


def test_area_between_curves_closed_form():
    # One sample, f = x1 + 2 x2 at x = (1, 1), baseline 0: most-first 3 → 1 → 0, least-first 3 → 2 → 0.
    curves = perturbation_curves(lambda A: A @ np.array([1.0, 2.0]), np.ones((1, 2)), np.array([[1.0, 2.0]]), 0.0)
    np.testing.assert_allclose(curves.most, [[3, 1, 0]])
    np.testing.assert_allclose(curves.least, [[3, 2, 0]])
    assert curves.area_between() == pytest.approx(0.5)  # trapezoids: gap (0, 1, 0) over half-widths
    assert curves.score() == pytest.approx(0.5 / 3)
    assert curves.area_between("random", "most") == pytest.approx(curves.random.mean(axis=0)[1] / 2 - 0.5)


def test_steps_baseline_rows_and_any_predict_shape(linear):
    predict, X, baseline, contributions = linear
    rows = np.tile(baseline, (len(X), 1))
    curves = perturbation_curves(lambda A: predict(A)[:, None], X, contributions, rows, steps=3)
    np.testing.assert_array_equal(curves.removed, [0, 2, 5, 7])
    every_step = perturbation_curves(predict, X, contributions, baseline)
    np.testing.assert_allclose(curves.most, every_step.most[:, [0, 2, 5, 7]])


def test_random_order_is_seeded_and_input_untouched(linear):
    predict, X, baseline, contributions = linear
    before = X.copy()
    first, second = (perturbation_curves(predict, X, contributions, baseline, seed=5) for _ in range(2))
    np.testing.assert_array_equal(first.random, second.random)
    np.testing.assert_array_equal(X, before)
    calls = []
    without = perturbation_curves(lambda A: calls.append(A) or predict(A), X, contributions, baseline, seed=5,
                                  with_random=False)
    assert without.random is None and len(calls) == 2 * 8  # most and least only, 8 steps each
    np.testing.assert_array_equal(without.most, first.most)
    assert without.score() == first.score()
    orders = removal_orders(contributions, seed=5)["random"]
    np.testing.assert_array_equal(np.sort(orders, axis=1), np.tile(np.arange(7), (len(X), 1)))


def test_errors():
    with pytest.raises(ValueError, match="steps"):
        removal_steps(5, 6)
    with pytest.raises(ValueError, match="shape"):
        perturbation_curves(lambda A: A.sum(axis=1), np.ones((2, 3)), np.ones((2, 4)), 0.0)


def test_aopc_by_hand():
    # f = x1 + 2 x2 + 3 x3 at x = (1, 1, 1), baseline 0: most-first 6 → 3 → 1 → 0.
    curves = perturbation_curves(lambda A: A @ np.array([1.0, 2.0, 3.0]), np.ones((1, 3)), np.array([[1.0, 2, 3]]), 0.0)
    np.testing.assert_allclose(curves.most, [[6, 3, 1, 0]])
    assert curves.aopc(fraction=0.34) == pytest.approx((0 + 3) / 2)       # steps 0 and 1 (fractions 0, 1/3)
    assert curves.aopc(fraction=1.0) == pytest.approx((0 + 3 + 5 + 6) / 4)
    assert curves.aopc(fraction=1.0, order="least") == pytest.approx((0 + 1 + 3 + 6) / 4)


def test_gaussian_infill_is_the_conditional_mean():
    """Two correlated features: x1 given x2 has mean μ1 + ρ σ1/σ2 (x2 − μ2) (closed form)."""
    from course.explain.perturbation import GaussianInfill

    rng = np.random.default_rng(5)
    mean, sd, rho = np.array([1.0, -2.0]), np.array([2.0, 0.5]), 0.8
    cov = np.array([[sd[0] ** 2, rho * sd[0] * sd[1]], [rho * sd[0] * sd[1], sd[1] ** 2]])
    train = rng.multivariate_normal(mean, cov, size=200_000)
    infill = GaussianInfill(train)
    X = np.array([[5.0, -1.5], [0.0, -3.0]])
    filled = infill(X, np.array([[True, False], [False, False]]))
    expected = mean[0] + rho * sd[0] / sd[1] * (X[0, 1] - mean[1])
    assert filled[0, 1] == X[0, 1] and filled[0, 0] == pytest.approx(expected, abs=0.02)
    np.testing.assert_array_equal(filled[1], X[1])  # nothing removed: untouched
    np.testing.assert_allclose(infill(X, np.ones_like(X, dtype=bool)), np.tile(train.mean(0), (2, 1)))
    # In perturbation curves: a model that reads x1 only loses little when x1 is inferred from x2.
    curves = perturbation_curves(lambda A: A[:, 0], X[:1], np.array([[1.0, 0.0]]), None, infill=infill)
    assert curves.most[0, 1] == pytest.approx(expected, abs=0.02)


def test_plot_draws_the_mean_curve_of_each_order(linear):
    plt = pytest.importorskip("matplotlib.pyplot")
    predict, X, baseline, contributions = linear
    curves = perturbation_curves(predict, X, contributions, baseline, steps=4)
    fig, (ax, ax_fractions) = plt.subplots(1, 2)
    assert curves.plot(ax, label="true contributions", color="tab:red") is ax
    most, least, random = ax.lines
    # removing the top-k contributions of a linear model lowers its mean output by their mean sum
    f = predict(X).mean()
    descending = -np.sort(-contributions, axis=1)
    steps = [0, 2, 4, 5, 7]
    np.testing.assert_allclose(most.get_xdata(), steps)
    np.testing.assert_allclose(most.get_ydata(), [f - descending[:, :k].sum(1).mean() for k in steps], rtol=1e-12)
    np.testing.assert_allclose(least.get_ydata(), [f - descending[:, 7 - k:].sum(1).mean() for k in steps],
                               rtol=1e-12)
    np.testing.assert_allclose(random.get_ydata(), curves.random.mean(axis=0))
    assert most.get_label() == "true contributions" and most.get_color() == least.get_color() == "tab:red"
    assert least.get_linestyle() == "--" and random.get_label() == "random order"
    curves.plot(ax_fractions, orders=["random"], x="fractions")
    [only] = ax_fractions.lines
    np.testing.assert_allclose(only.get_xdata(), np.array(steps) / 7)
    plt.close(fig)
