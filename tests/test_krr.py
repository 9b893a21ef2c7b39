"""Kernel ridge regression against scikit-learn, closed forms and brute force."""
import re
from pathlib import Path

import numpy as np
import pytest
from scipy.linalg import LinAlgError
from sklearn.kernel_ridge import KernelRidge
from sklearn.model_selection import GridSearchCV, PredefinedSplit

from course.models.krr import KRR, cross_validate, cross_validate_targets, fit_power_law, kernel_matrix, learning_curve, n_for_mae

RNG = np.random.default_rng(7)
X = RNG.normal(size=(240, 6))
Y = np.sin(X[:, 0]) + 0.5 * X[:, 1] ** 2 + 0.1 * RNG.normal(size=len(X)) + 3.0
X_TEST = RNG.normal(size=(60, 6))

# (our kernel, our options, scikit-learn kernel, its options): the σ conventions differ.
SKLEARN_PAIRS = [
    ("gaussian", {"sigma": 1.7}, "rbf", {"gamma": 1 / (2 * 1.7 ** 2)}),
    ("laplacian", {"sigma": 4.0}, "laplacian", {"gamma": 1 / 4.0}),
    ("linear", {}, "linear", {}),
    ("polynomial", {"degree": 3, "coef0": 0.7}, "polynomial", {"degree": 3, "coef0": 0.7, "gamma": 1.0}),
]


def brute_force_kernel(a, b, kernel, sigma=None, degree=2, coef0=1.0):
    """The defining formulas, one entry at a time."""
    out = np.empty((len(a), len(b)))
    for i, u in enumerate(a):
        for j, v in enumerate(b):
            out[i, j] = {"gaussian": lambda: np.exp(-np.sum((u - v) ** 2) / (2 * sigma ** 2)),
                         "laplacian": lambda: np.exp(-np.sum(np.abs(u - v)) / sigma),
                         "linear": lambda: u @ v,
                         "polynomial": lambda: (u @ v + coef0) ** degree}[kernel]()
    return out


@pytest.mark.parametrize("kernel, options, sk_kernel, sk_options", SKLEARN_PAIRS)
def test_kernel_matrix_matches_definition_blocked_or_not(kernel, options, sk_kernel, sk_options):
    a, b = X[:23], X_TEST[:17]
    expected = brute_force_kernel(a, b, kernel, **options)
    np.testing.assert_allclose(kernel_matrix(a, b, kernel=kernel, **options), expected, rtol=1e-12, atol=1e-14)
    whole = kernel_matrix(a, kernel=kernel, **options, block_size=len(a))
    blocked = kernel_matrix(a, kernel=kernel, **options, block_size=4)
    np.testing.assert_allclose(whole, brute_force_kernel(a, a, kernel, **options), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(blocked, whole, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(blocked, blocked.T, rtol=1e-13, atol=1e-15)  # GEMM round-off within a block


def test_gaussian_distance_of_a_point_to_itself_is_not_negative():
    far = np.full((3, 4), 1e4) + np.arange(3)[:, None] * 1e-4  # ‖x‖² ≫ ‖x − x′‖²: cancellation
    K = kernel_matrix(far, kernel="gaussian", sigma=1e-3)
    assert np.all(K <= 1.0)
    np.testing.assert_array_equal(np.diag(K), 1.0)


@pytest.mark.parametrize("kernel, options, sk_kernel, sk_options", SKLEARN_PAIRS)
def test_predictions_equal_sklearn_kernel_ridge(kernel, options, sk_kernel, sk_options):
    ours = KRR(kernel, lam=1e-2, block_size=50, **options).fit(X, Y).predict(X_TEST)
    theirs = KernelRidge(alpha=1e-2, kernel=sk_kernel, **sk_options).fit(X, Y).predict(X_TEST)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9)


def test_centering_equals_sklearn_on_centered_targets():
    ours = KRR("laplacian", sigma=4.0, lam=1e-3, center=True).fit(X, Y).predict(X_TEST)
    theirs = KernelRidge(alpha=1e-3, kernel="laplacian", gamma=0.25).fit(X, Y - Y.mean()).predict(X_TEST) + Y.mean()
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)


def test_linear_kernel_equals_primal_ridge():
    lam = 0.3
    w = np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), X.T @ Y)
    ours = KRR("linear", lam=lam).fit(X, Y).predict(X_TEST)
    np.testing.assert_allclose(ours, X_TEST @ w, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kernel, sigma", [("gaussian", 2.0), ("laplacian", 5.0)])
def test_float32_close_to_float64(kernel, sigma):
    double = KRR(kernel, sigma=sigma, lam=1e-3, center=True).fit(X, Y).predict(X_TEST)
    model = KRR(kernel, sigma=sigma, lam=1e-3, center=True, dtype=np.float32).fit(X, Y)
    assert model.alpha_.dtype == np.float32
    np.testing.assert_allclose(model.predict(X_TEST), double, rtol=0, atol=1e-3 * np.abs(double).max())


def _rss_mib(field):
    return int(re.search(field + r":\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1)) / 1024


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc to reset the peak RSS")
@pytest.mark.parametrize("dtype, matrices", [(np.float64, 1.0), (np.float32, 0.5)])
def test_fit_peak_memory_is_one_matrix_plus_a_block(dtype, matrices):
    # Resident memory, not tracemalloc: LAPACK wrappers may copy with malloc, which tracemalloc misses.
    n = 3000  # even the float32 matrix exceeds glibc's largest adaptive mmap threshold (32 MiB)
    data = RNG.normal(size=(n, 4))
    target = data.sum(1)
    Path("/proc/self/clear_refs").write_text("5")  # resets the high-water mark VmHWM to the current RSS
    before = _rss_mib("VmRSS")
    KRR("laplacian", sigma=3.0, lam=1e-6, dtype=dtype, block_size=50).fit(data, target)
    extra = _rss_mib("VmHWM") - before
    matrix = 8 * n * n / 2**20  # 69 MiB; a copy of K would add another matrices * 48 MiB
    assert extra < (matrices + 0.25) * matrix, (extra, matrix)


def test_cross_validation_agrees_with_sklearn_grid_search():
    sigmas, lams = (0.5, 2.0, 8.0), (1e-4, 1e-2, 1.0)
    cv = cross_validate(X, Y, kernel="laplacian", sigmas=sigmas, lams=lams, n_folds=4, seed=3, center=False)
    fold = np.random.default_rng(3).permutation(len(X)) % 4  # the folds cross_validate documents
    grid = GridSearchCV(KernelRidge(kernel="laplacian"), {"gamma": [1 / s for s in sigmas], "alpha": list(lams)},
                        cv=PredefinedSplit(fold), scoring="neg_mean_absolute_error").fit(X, Y)
    sk_mae = -grid.cv_results_["mean_test_score"].reshape(len(lams), len(sigmas)).T  # alpha outer, gamma inner
    np.testing.assert_allclose(cv.mae, sk_mae, rtol=1e-8)
    assert (cv.sigma, cv.lam) == (1 / grid.best_params_["gamma"], grid.best_params_["alpha"])


def test_several_targets_share_one_cross_validation():
    sigmas, lams = (0.5, 2.0, 8.0), (1e-4, 1e-2, 1.0)
    targets = np.column_stack([Y, np.sin(Y) * 3.0 + 10.0])
    joint = cross_validate_targets(X, targets, kernel="laplacian", sigmas=sigmas, lams=lams, n_folds=4, seed=3)
    for column, result in zip(targets.T, joint):
        alone = cross_validate(X, column, kernel="laplacian", sigmas=sigmas, lams=lams, n_folds=4, seed=3)
        np.testing.assert_allclose(result.mae, alone.mae, rtol=1e-10)
        assert (result.sigma, result.lam) == (alone.sigma, alone.lam)
    with pytest.raises(ValueError, match="2-D"):
        cross_validate_targets(X, Y, sigmas=sigmas)


def test_cross_validation_finds_the_noise_level_and_a_sensible_width():
    # Smooth truth, noise of known size: a tiny σ (K ≈ I, predicts the mean) and a huge σ
    # (K ≈ all ones) must both lose to the width of the truth's features.
    x = np.linspace(0, 10, 300)[:, None]
    y = np.sin(x[:, 0]) + 0.05 * np.random.default_rng(0).normal(size=300)
    cv = cross_validate(x, y, kernel="gaussian", sigmas=(0.001, 1.0, 1000.0), lams=(1e-6, 1e-2, 10.0), seed=0)
    assert cv.sigma == 1.0
    assert cv.lam == 1e-2  # 1e-6 fits the noise, 10 smooths the sine away
    assert cv.mae.min() < 0.06


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_learning_curve_equals_separate_fits_for_every_size_in_any_order(dtype):
    y_test = np.sin(X_TEST[:, 0])
    options = dict(kernel="laplacian", sigma=3.0, lam=1e-3, center=True, dtype=dtype)
    curve = learning_curve(X, Y + 5.0, [120, 40, 80], X_TEST, y_test, **options)
    for n, mae in zip(curve["n"], curve["mae"]):
        direct = KRR(**options).fit(X[:n], Y[:n] + 5.0).predict(X_TEST)
        assert mae == pytest.approx(np.abs(direct - y_test).mean(), rel=1e-9 if dtype == np.float64 else 1e-4)
    assert curve["n"] == [120, 40, 80] and len(curve["solve_seconds"]) == 3 and curve["factor_seconds"] >= 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_one_factorization_solves_every_leading_block(dtype):
    """The factor of K + λI written over K (stale entries above the diagonal) solves each leading
    block as numpy's dense solver does, for block sizes that do and do not divide n."""
    from course.models.krr import _factor_in_place, leading_solve

    K = kernel_matrix(X, kernel="laplacian", sigma=3.0, dtype=dtype)
    reference = K.astype(np.float64) + 1e-3 * np.eye(len(K))
    lower = _factor_in_place(K, 1e-3)
    y = np.random.default_rng(1).normal(size=len(K))
    for n in (1, 7, 64, len(K)):
        for block in (1, 5, 1024):
            expected = np.linalg.solve(reference[:n, :n], y[:n])
            np.testing.assert_allclose(leading_solve(lower, y[:n], block=block), expected,
                                       rtol=1e-8 if dtype == np.float64 else 2e-3, atol=1e-10 if dtype == np.float64 else 1e-3)
    with pytest.raises(ValueError, match="at least"):
        leading_solve(lower, np.zeros(len(K) + 1))


def test_learning_curve_uses_nested_first_rows():
    curve = learning_curve(X, Y, [40, 120], X_TEST, np.zeros(len(X_TEST)), kernel="gaussian", sigma=2.0, lam=1e-2)
    direct = KRR("gaussian", sigma=2.0, lam=1e-2).fit(X[:120], Y[:120]).predict(X_TEST)
    assert curve["n"] == [40, 120]
    assert curve["mae"][1] == pytest.approx(np.abs(direct).mean(), rel=1e-12)


def test_power_law_recovers_a_and_b():
    n = np.array([100, 300, 1000, 3000, 10000])
    a, b = fit_power_law(n, 7.0 * n ** -0.45)
    assert (a, b) == (pytest.approx(7.0, rel=1e-10), pytest.approx(0.45, rel=1e-10))
    noisy = 7.0 * n ** -0.45 * np.exp(0.01 * np.random.default_rng(1).normal(size=len(n)))
    a, b = fit_power_law(n, noisy)
    assert abs(b - 0.45) < 0.02 and abs(np.log(a / 7.0)) < 0.2
    n_star = n_for_mae(7.0, 0.45, 0.05)
    assert 7.0 * n_star ** -0.45 == pytest.approx(0.05, rel=1e-12)
    assert n_for_mae(1.0, -0.1, 0.5) == float("inf")


@pytest.mark.parametrize("call, message", [
    (lambda: KRR("laplacian", sigma=0.0), "positive"),
    (lambda: KRR("gaussian", sigma=-1.0), "positive"),
    (lambda: KRR("laplacian"), "positive"),
    (lambda: KRR("cosine", sigma=1.0), "kernel must be one of"),
    (lambda: KRR("linear", lam=-1.0), "lam"),
    (lambda: KRR("linear", dtype=np.int64), "dtype"),
    (lambda: KRR("linear").fit(X, Y[:-1]), "240 samples but y has 239"),
    (lambda: KRR("linear").fit(X[:, 0], Y), "2-D"),
    (lambda: KRR("linear").fit(np.where(X > 2, np.nan, X), Y), "NaN"),
    (lambda: KRR("linear").fit(X, np.where(Y > 4, np.nan, Y)), "NaN"),
    (lambda: KRR("linear").predict(X), "fit\\(\\) before predict"),
    (lambda: KRR("linear").fit(X, Y).predict(X[:, :3]), "3 features but the model was fitted on 6"),
    (lambda: kernel_matrix(X, X[:, :2], kernel="linear"), "features"),
    (lambda: kernel_matrix(X, kernel="linear", block_size=0), "block_size"),
    (lambda: cross_validate(X, Y, kernel="laplacian", sigmas=(1.0,), lams=()), "lams"),
    (lambda: fit_power_law([10, 10], [1.0, 0.5]), "two different N"),
    (lambda: fit_power_law([10, 100], [1.0, 0.0]), "positive"),
])
def test_bad_input_raises_clear_error(call, message):
    with pytest.raises((ValueError, RuntimeError), match=message):
        call()


def test_singular_system_says_what_to_do():
    with pytest.raises(LinAlgError, match="larger lam"):
        KRR("linear", lam=0.0).fit(np.zeros((5, 3)), np.ones(5))
