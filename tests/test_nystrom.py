"""Nyström KRR against exact KRR, scikit-learn and the normal equations written without Cholesky."""
from pathlib import Path

import numpy as np
import pytest
from scipy.linalg import LinAlgError
from sklearn.kernel_approximation import Nystroem
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge
from threadpoolctl import threadpool_limits

from course.machine import pin_mmap_threshold, reset_peak_memory, status_mib
from course.models.krr import KRR, kernel_matrix
from course.models.nystrom import NystromKRR, build_system, choose_centres

RNG = np.random.default_rng(11)
X = RNG.normal(size=(240, 5))
Y = np.sin(X[:, 0]) + 0.5 * X[:, 1] ** 2 + 0.1 * RNG.normal(size=len(X)) + 3.0
X_TEST = RNG.normal(size=(70, 5))

# (our kernel, σ, scikit-learn kernel, its gamma): the σ conventions differ, as in test_krr.py.
PAIRS = [("gaussian", 2.0, "rbf", 1 / (2 * 2.0 ** 2)), ("laplacian", 5.0, "laplacian", 1 / 5.0)]
# With all N points as centres the model is exact KRR up to the jitter ε = 1e-10 on K_mm, which moves
# predictions by about ε/λ·|y| ≈ 1e-7 at λ = 1e-2; round-off is far smaller.
EXACT_TOL = 1e-6


@pytest.mark.parametrize("kernel, sigma, sk_kernel, gamma", PAIRS)
def test_all_points_as_centres_give_exact_krr_and_sklearn(kernel, sigma, sk_kernel, gamma):
    ours = NystromKRR(kernel, sigma, lam=1e-2, m=len(X), center=True).fit(X, Y).predict(X_TEST)
    exact = KRR(kernel, sigma, lam=1e-2, center=True).fit(X, Y).predict(X_TEST)
    np.testing.assert_allclose(ours, exact, atol=EXACT_TOL, rtol=0)
    uncentred = NystromKRR(kernel, sigma, lam=1e-2, m=len(X), center=False).fit(X, Y).predict(X_TEST)
    sklearn = KernelRidge(alpha=1e-2, kernel=sk_kernel, gamma=gamma).fit(X, Y).predict(X_TEST)
    np.testing.assert_allclose(uncentred, sklearn, atol=EXACT_TOL, rtol=0)
    assert np.abs(uncentred - ours).max() > 100 * EXACT_TOL  # centring matters here, so both checks bite


@pytest.mark.parametrize("kernel, sigma, sk_kernel, gamma", PAIRS)
def test_fewer_centres_equal_sklearn_nystroem_features_with_ridge(kernel, sigma, sk_kernel, gamma):
    """scikit-learn maps x to k(x, C) K_mm^(-1/2) (by SVD); ridge on those features is our model
    (L⁻ᵀ and K_mm^(-1/2) differ by a rotation, to which ridge regression is blind)."""
    model = NystromKRR(kernel, sigma, lam=1e-3, m=60, seed=3, jitter=0.0).fit(X, Y)
    features = Nystroem(kernel=sk_kernel, gamma=gamma, n_components=60).fit(model.centres_)
    ridge = Ridge(alpha=1e-3, fit_intercept=False).fit(features.transform(X), Y - Y.mean())
    expected = ridge.predict(features.transform(X_TEST)) + Y.mean()
    np.testing.assert_allclose(model.predict(X_TEST), expected, atol=1e-8, rtol=0)


def test_error_falls_with_the_number_of_centres_on_a_smooth_function():
    rng = np.random.default_rng(5)
    x, x_test = rng.uniform(-3, 3, size=(800, 2)), rng.uniform(-3, 3, size=(400, 2))
    f = lambda z: np.sin(z[:, 0]) * np.cos(0.7 * z[:, 1])  # noqa: E731
    maes = [np.abs(NystromKRR("gaussian", 1.0, lam=1e-8, m=m).fit(x, f(x)).predict(x_test) - f(x_test)).mean()
            for m in (4, 16, 64, 256)]
    assert all(later < 0.5 * earlier for earlier, later in zip(maes, maes[1:])), maes


def _direct(x, y, x_eval, m, lam, kernel="laplacian", sigma=4.0, seed=0):
    """The minimizer of ‖K_nm a − y‖² + λ aᵀ K̃_mm a from its normal equations (K_mn K_nm + λ K̃_mm) a = K_mn y,
    no Cholesky and no blocks; K̃_mm = K_mm + εI with the system's ε."""
    system = build_system(x, y, m, kernel=kernel, sigma=sigma, seed=seed, X_eval=x_eval)
    centres = x[choose_centres(len(x), m, seed)]
    K_nm = kernel_matrix(x, centres, kernel=kernel, sigma=sigma)
    K_mm = kernel_matrix(centres, kernel=kernel, sigma=sigma) + system.jitter * np.eye(m)
    offset = y.mean(0)
    a = np.linalg.solve(K_nm.T @ K_nm + lam * K_mm, K_nm.T @ (y - offset))
    return system, a, kernel_matrix(x_eval, centres, kernel=kernel, sigma=sigma) @ a + offset


def test_blockwise_accumulation_equals_the_one_shot_computation():
    Y2 = np.column_stack([Y, np.cos(X[:, 2])])
    whole = build_system(X, Y2, 50, kernel="laplacian", sigma=4.0, X_eval=X_TEST, block_size=len(X))
    blocked = build_system(X, Y2, 50, kernel="laplacian", sigma=4.0, X_eval=X_TEST, block_size=7)
    centres = X[choose_centres(len(X), 50)]
    L = np.linalg.cholesky(kernel_matrix(centres, kernel="laplacian", sigma=4.0) + whole.jitter * np.eye(50))
    B = np.linalg.solve(L, kernel_matrix(X, centres, kernel="laplacian", sigma=4.0).T).T  # K_nm L⁻ᵀ
    B_eval = np.linalg.solve(L, kernel_matrix(X_TEST, centres, kernel="laplacian", sigma=4.0).T).T
    for system in (whole, blocked):
        np.testing.assert_allclose(np.tril(system.gram), np.tril(B.T @ B), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(system.BtY, B.T @ (Y2 - Y2.mean(0)), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(system.B_eval, B_eval, rtol=1e-10, atol=1e-12)


def test_lambda_path_equals_separate_solves_and_the_normal_equations():
    lams = [1e-4, 1e-2, 1.0]
    Y2 = np.column_stack([Y, np.cos(X[:, 2])])
    path = build_system(X, Y2, 80, kernel="laplacian", sigma=4.0, X_eval=X_TEST).eval_predictions(lams)
    for k, lam in enumerate(lams):
        _, _, expected = _direct(X, Y2, X_TEST, 80, lam)
        np.testing.assert_allclose(path[k], expected, atol=1e-8, rtol=0)
        for column in range(2):  # each target alone, one λ, through the model class
            single = NystromKRR("laplacian", 4.0, lam=lam, m=80).fit(X, Y2[:, column]).predict(X_TEST)
            np.testing.assert_allclose(path[k][:, column], single, atol=1e-8, rtol=0)
    assert np.abs(path[0] - path[-1]).max() > 1e-3  # λ matters, so the comparison is not vacuous


def test_coefficients_predict_the_evaluation_rows():
    system, a, expected = _direct(X, Y, X_TEST, 40, 1e-2)
    np.testing.assert_allclose(system.coefficients([1e-2])[0][:, 0], a, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(system.eval_predictions([1e-2])[0][:, 0], expected, atol=1e-8, rtol=0)


@pytest.mark.parametrize("call, message", [
    (lambda: NystromKRR("laplacian", 4.0, m=241).fit(X, Y), "between 1 and the 240 training samples, got 241"),
    (lambda: NystromKRR("laplacian", 4.0, m=0).fit(X, Y), "between 1 and the 240"),
    (lambda: NystromKRR("laplacian", 4.0, m=10).fit(X, Y[:-1]), r"X's 240 rows, got shape \(239,\)"),
    (lambda: NystromKRR("laplacian", 4.0, m=10).fit(X, np.where(X[:, 0] > 0, np.nan, Y)), "NaN"),
    (lambda: NystromKRR("laplacian", 4.0, m=10).fit(X, Y).predict(X[:, :3]), "3 features but the model was fitted on 5"),
    (lambda: NystromKRR("laplacian", 4.0, m=10).predict(X), "call fit"),
    (lambda: NystromKRR("laplacian", 4.0, lam=0.0, m=10), "lam must be positive"),
    (lambda: NystromKRR("laplacian", None, m=10), "positive, finite sigma"),
    (lambda: build_system(X, Y, 10, sigma=4.0, X_eval=X[:, :4]), "X_eval has 4 features but X has 5"),
    (lambda: build_system(X, Y, 10, sigma=4.0).eval_predictions([1e-2]), "without X_eval"),
    (lambda: build_system(X, Y, 10, sigma=4.0, block_size=0), "block_size"),
    (lambda: build_system(X, Y, 10, sigma=4.0, jitter=-1.0), "jitter"),
])
def test_bad_input_is_named(call, message):
    with pytest.raises((ValueError, RuntimeError), match=message):
        call()


def test_duplicate_centres_without_jitter_fail_clearly_and_jitter_rescues_them():
    twice = np.vstack([X[:30], X[:30]])
    with pytest.raises(LinAlgError, match="near-.duplicate"):
        build_system(twice, np.ones(60), 60, sigma=4.0, jitter=0.0)
    system = build_system(twice, np.ones(60), 60, sigma=4.0, jitter=1e-10)
    assert system.jitter > 0


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc to reset the peak RSS")
def test_peak_memory_is_a_few_m_by_m_matrices_whatever_n():
    """Resident memory, not tracemalloc (LAPACK wrappers may copy with malloc): with n four times larger the
    peak stays that of L, BᵀB and its eigenvectors; the n×m matrix B (44 MiB at n = 4,800) would show."""
    pin_mmap_threshold()
    m, rng = 1200, np.random.default_rng(2)
    matrix = 8 * m * m / 2**20  # 11 MiB
    growth = []
    with threadpool_limits(1):  # one BLAS thread: OpenBLAS's two spin ten times slower on a busy machine
        for n in (m, m, 4 * m):  # the first run only warms up (BLAS buffers, SciPy's lazy imports)
            x = rng.normal(size=(n, 3))
            before = reset_peak_memory()
            build_system(x, x.sum(1), m, kernel="laplacian", sigma=3.0, block_size=200).coefficients([1e-3])
            growth.append(status_mib("VmHWM") - before)
    assert max(growth[1:]) < 3.5 * matrix, (growth, matrix)
    assert abs(growth[2] - growth[1]) < 0.5 * matrix, growth
