"""Kernel ridge regression (KRR) that stays within one n×n matrix of memory.

KRR predicts f(x) = Σ_i α_i k(x, x_i) with (K + λI) α = y. The n×n kernel matrix K is the
only large object: it is built in row blocks straight into its final array (float32 halves it),
and the Cholesky factorization overwrites it in place, so the peak is one n×n matrix plus one
block; a learning curve over nested training sets factorizes only its largest kernel. scikit-learn's ``KernelRidge`` peaks at three float64 n×n matrices (measured: its
``scipy.linalg.solve`` works on copies of K); benchmarks/results/krr.json has the numbers.

Kernels, with the course's σ convention (``gaussian`` is scikit-learn's ``rbf`` with
gamma = 1/(2σ²), ``laplacian`` its ``laplacian`` with gamma = 1/σ):

* ``gaussian``   exp(−‖x − x′‖₂² / (2σ²))
* ``laplacian``  exp(−‖x − x′‖₁ / σ)
* ``linear``     x·x′
* ``polynomial`` (x·x′ + c)^d

Distances are always computed in float64 and only then stored in ``dtype``: squared Euclidean
distances as ‖x‖² + ‖x′‖² − 2x·x′ clipped at 0 (round-off can make them slightly negative),
L1 distances with ``scipy.spatial.distance.cdist`` one block at a time.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve, eigh, solve_triangular
from scipy.spatial.distance import cdist

KERNELS = ("gaussian", "laplacian", "linear", "polynomial")
BLOCK_BYTES = 32 * 2**20  # default size of one float64 block of kernel rows

__all__ = ["KERNELS", "KRR", "kernel_matrix", "l1_distances", "laplacian_from_distances", "cross_validate",
           "cross_validate_targets", "CVResult", "learning_curve", "curve_from_kernel", "leading_solve",
           "fit_power_law", "n_for_mae"]


def _check_X(X: np.ndarray, name: str = "X") -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (samples, features), got shape {X.shape}")
    if len(X) == 0:
        raise ValueError(f"{name} has no samples")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return X


def _check_y(y: np.ndarray, n: int) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}")
    if len(y) != n:
        raise ValueError(f"X has {n} samples but y has {len(y)}")
    if not np.all(np.isfinite(y)):
        raise ValueError("y contains NaN or infinite values")
    return y


def _check_kernel(kernel: str, sigma: float | None) -> None:
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    if kernel in ("gaussian", "laplacian") and (sigma is None or not np.isfinite(sigma) or sigma <= 0):
        raise ValueError(f"the {kernel} kernel needs a positive, finite sigma, got {sigma!r}")


def _block_rows(n_columns: int, block_size: int | None) -> int:
    if block_size is None:  # at most 32 MiB and at most 1/8 of the rows: the block stays small next to K
        return max(1, min(BLOCK_BYTES // (8 * max(n_columns, 1)), -(-n_columns // 8)))
    if block_size < 1:
        raise ValueError(f"block_size must be a positive number of rows, got {block_size}")
    return int(block_size)


def _kernel_block(A: np.ndarray, B: np.ndarray, kernel: str, sigma: float | None, degree: int,
                  coef0: float, B_sq: np.ndarray | None) -> np.ndarray:
    """k(A, B) in float64 for one block of rows A."""
    if kernel == "laplacian":
        block = cdist(A, B, "cityblock")
        block *= -1.0 / sigma
        return np.exp(block, out=block)
    block = A @ B.T
    if kernel == "linear":
        return block
    if kernel == "polynomial":
        block += coef0
        return np.power(block, degree, out=block)
    block *= -2.0  # the squared distance ‖a‖² + ‖b‖² − 2a·b, clipped at 0 against round-off
    block += (A * A).sum(1)[:, None]
    block += B_sq[None, :]
    np.maximum(block, 0.0, out=block)
    block *= -1.0 / (2.0 * sigma ** 2)
    return np.exp(block, out=block)


def _blocked(A: np.ndarray, B: np.ndarray | None, block, out: np.ndarray, block_size: int | None) -> np.ndarray:
    """Fill ``out`` (len(A) × len(B)) with ``block(A[rows], B[cols])`` one row block at a time; with
    ``B`` None the result is symmetric, so only blocks on and below the diagonal are computed."""
    symmetric = B is None
    B = A if symmetric else B
    rows = _block_rows(len(B), block_size)
    for start in range(0, len(A), rows):
        stop = min(start + rows, len(A))
        if symmetric:
            out[start:stop, :stop] = block(A[start:stop], slice(0, stop))
            out[:start, start:stop] = out[start:stop, :start].T
        else:
            out[start:stop] = block(A[start:stop], slice(0, len(B)))
    return out


def kernel_matrix(A: np.ndarray, B: np.ndarray | None = None, *, kernel: str = "laplacian",
                  sigma: float | None = None, degree: int = 2, coef0: float = 1.0,
                  dtype: type = np.float64, block_size: int | None = None) -> np.ndarray:
    """Kernel matrix k(A, B) of shape (len(A), len(B)) in ``dtype``, built in row blocks.

    Only the result and one float64 block of ``block_size`` rows (default: n/8 rows, at most 32 MiB) are held
    at once. With ``B`` omitted, K(A, A) is symmetric: only blocks on and below the diagonal are
    computed and mirrored, which halves the work.

    >>> kernel_matrix(np.array([[0.0], [1.0]]), kernel="laplacian", sigma=1.0).round(4)
    array([[1.    , 0.3679],
           [0.3679, 1.    ]])
    """
    _check_kernel(kernel, sigma)
    A = _check_X(A, "A")
    B_ = A if B is None else _check_X(B, "B")
    if A.shape[1] != B_.shape[1]:
        raise ValueError(f"A has {A.shape[1]} features but B has {B_.shape[1]}")
    B_sq = (B_ * B_).sum(1) if kernel == "gaussian" else None
    out = np.empty((len(A), len(B_)), dtype=dtype)
    return _blocked(A, None if B is None else B_, lambda a, cols: _kernel_block(
        a, B_[cols], kernel, sigma, degree, coef0, None if B_sq is None else B_sq[cols]), out, block_size)


def l1_distances(A: np.ndarray, B: np.ndarray | None = None, *, out: np.ndarray | None = None,
                 block_size: int | None = None) -> np.ndarray:
    """L1 distances ‖a − b‖₁ (float64, len(A) × len(B)), built in row blocks like :func:`kernel_matrix`.

    The expensive part of a Laplacian kernel on long representations: computed once, it serves
    every σ (:func:`laplacian_from_distances`). ``out`` may be a memory-mapped file, for matrices
    that should not stay in memory next to the kernel.

    >>> l1_distances(np.array([[0.0, 0.0], [1.0, 2.0]]))
    array([[0., 3.],
           [3., 0.]])
    """
    A = _check_X(A, "A")
    B_ = A if B is None else _check_X(B, "B")
    if A.shape[1] != B_.shape[1]:
        raise ValueError(f"A has {A.shape[1]} features but B has {B_.shape[1]}")
    out = np.empty((len(A), len(B_))) if out is None else out
    if out.shape != (len(A), len(B_)) or out.dtype != np.float64:
        raise ValueError(f"out must be float64 of shape {(len(A), len(B_))}, got {out.dtype} {out.shape}")
    return _blocked(A, None if B is None else B_, lambda a, cols: cdist(a, B_[cols], "cityblock"), out, block_size)


def laplacian_from_distances(D: np.ndarray, sigma: float, dtype: type = np.float64,
                             block_size: int | None = None) -> np.ndarray:
    """exp(−D/σ) in ``dtype``, one row block of the L1 distances ``D`` at a time: the same
    operations, so the same bits, as ``kernel_matrix(..., kernel="laplacian")``.

    >>> A = np.random.default_rng(0).normal(size=(5, 3))
    >>> np.array_equal(laplacian_from_distances(l1_distances(A), 2.0), kernel_matrix(A, kernel="laplacian", sigma=2.0))
    True
    """
    _check_kernel("laplacian", sigma)
    out = np.empty(D.shape, dtype=dtype)
    rows = _block_rows(D.shape[1], block_size)
    for start in range(0, len(D), rows):
        block = np.array(D[start:start + rows], dtype=np.float64)
        block *= -1.0 / sigma
        out[start:start + rows] = np.exp(block, out=block)
    return out


def _factor_in_place(K: np.ndarray, lam: float) -> np.ndarray:
    """The lower Cholesky factor L of K + λI, written over K (no copy) and returned as a C-ordered
    view: L[i, j] for j ≤ i; the strict upper triangle keeps stale entries of K."""
    K.flat[::len(K) + 1] += K.dtype.type(lam)
    try:
        # K is symmetric and C-ordered, so K.T is the same matrix in the Fortran order LAPACK
        # wants: passing it lets cho_factor really overwrite instead of copying. The upper factor
        # U of K.T, read in C order, is L = Uᵀ.
        upper, _ = cho_factor(K.T, lower=False, overwrite_a=True, check_finite=False)
    except LinAlgError as error:
        raise LinAlgError(f"K + lam*I is not numerically positive definite in {K.dtype} (lam={lam:g}); "
                          "use a larger lam or dtype=np.float64") from error
    return upper.T


def _solve_in_place(K: np.ndarray, lam: float, y: np.ndarray) -> np.ndarray:
    """α = (K + λI)⁻¹ y; K is overwritten by its Cholesky factor."""
    lower = _factor_in_place(K, lam)
    return cho_solve((lower.T, False), y.astype(K.dtype), overwrite_b=True, check_finite=False)


def leading_solve(lower: np.ndarray, y: np.ndarray, block: int = 1024) -> np.ndarray:
    """Solve (K + λI)[:n, :n] α = y, n = len(y), from the Cholesky factor L of the whole K + λI.

    The factor of a leading block is the leading block of the factor, so one factorization at the
    largest training set serves every nested one: no second n×n matrix, no second O(n³) pass.
    The two triangular solves run in row blocks on ``lower`` in place (BLAS reads the slices with
    their row stride), O(n²) each. ``lower`` is C-ordered with the factor in its lower triangle,
    as ``_factor_in_place`` leaves it; anything above the diagonal is ignored.

    >>> rng = np.random.default_rng(0)
    >>> A = rng.normal(size=(6, 6)); K = A @ A.T + 6 * np.eye(6); y = rng.normal(size=4)
    >>> L = np.linalg.cholesky(K) + np.triu(rng.normal(size=(6, 6)), 1)   # junk above the diagonal
    >>> np.allclose(leading_solve(L, y, block=3), np.linalg.solve(K[:4, :4], y))
    True
    """
    n = len(y)
    if lower.ndim != 2 or lower.shape[0] != lower.shape[1] or n > len(lower):
        raise ValueError(f"need a square factor of at least {n} rows, got shape {lower.shape}")
    dtype = lower.dtype
    z = np.empty(n, dtype=dtype)
    for i in range(0, n, block):  # forward: L z = y
        j = min(i + block, n)
        z[i:j] = solve_triangular(lower[i:j, i:j], y[i:j].astype(dtype) - lower[i:j, :i] @ z[:i], lower=True,
                                  check_finite=False)
    x = np.empty(n, dtype=dtype)
    for j in range(n, 0, -block):  # backward: Lᵀ x = z
        i = max(j - block, 0)
        x[i:j] = solve_triangular(lower[i:j, i:j], z[i:j] - x[j:n] @ lower[j:n, i:j], lower=True, trans="T",
                                  check_finite=False)
    return x


class KRR:
    """Kernel ridge regression solved by an in-place Cholesky factorization.

    Same model as ``sklearn.kernel_ridge.KernelRidge`` (``lam`` is its ``alpha``), at a third of
    its peak memory in float64 and a sixth in float32. ``center=True`` fits y − mean(y) and adds the mean back, which matters for
    decaying kernels when targets sit far from zero (QM9 atomization energies, about −76 eV):
    without it, predictions far from the training data decay to 0, not to the average.
    """

    def __init__(self, kernel: str = "laplacian", sigma: float | None = None, lam: float = 1e-8, *,
                 degree: int = 2, coef0: float = 1.0, dtype: type = np.float64, block_size: int | None = None,
                 center: bool = False):
        _check_kernel(kernel, sigma)
        if not np.isfinite(lam) or lam < 0:
            raise ValueError(f"lam must be a finite number >= 0, got {lam!r}")
        if np.dtype(dtype) not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
        self.kernel, self.sigma, self.lam = kernel, sigma, float(lam)
        self.degree, self.coef0, self.dtype, self.block_size = degree, coef0, np.dtype(dtype).type, block_size
        self.center = center
        self.X_: np.ndarray | None = None
        self.alpha_: np.ndarray | None = None
        self.offset_ = 0.0

    def _kernel(self, A: np.ndarray, B: np.ndarray | None = None) -> np.ndarray:
        return kernel_matrix(A, B, kernel=self.kernel, sigma=self.sigma, degree=self.degree, coef0=self.coef0,
                             dtype=self.dtype, block_size=self.block_size)

    def fit(self, X: np.ndarray, y: np.ndarray) -> KRR:
        """Build K(X, X) and solve (K + λI) α = y (minus its mean when ``center``)."""
        X = _check_X(X)
        y = _check_y(y, len(X))
        self.offset_ = float(y.mean()) if self.center else 0.0
        self.alpha_ = _solve_in_place(self._kernel(X), self.lam, y - self.offset_)
        self.X_ = X
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predictions (float64) for the rows of X, in blocks so K(X, X_train) is never whole."""
        if self.alpha_ is None:
            raise RuntimeError("call fit() before predict()")
        X = _check_X(X)
        if X.shape[1] != self.X_.shape[1]:
            raise ValueError(f"X has {X.shape[1]} features but the model was fitted on {self.X_.shape[1]}")
        rows = _block_rows(len(self.X_), self.block_size)
        out = np.empty(len(X))
        for start in range(0, len(X), rows):
            block = self._kernel(X[start:start + rows], self.X_)
            out[start:start + rows] = block @ self.alpha_
        return out + self.offset_


@dataclass(frozen=True)
class CVResult:
    """Cross-validated mean absolute error for every (σ, λ) of the grid and the best pair."""

    sigma: float | None
    lam: float
    mae: np.ndarray  # (len(sigmas), len(lams))
    sigmas: tuple
    lams: tuple


def cross_validate(X: np.ndarray, y: np.ndarray, *, kernel: str = "laplacian", sigmas: Sequence[float | None] = (None,),
                   lams: Sequence[float] = (1e-8,), n_folds: int = 5, seed: int = 0, center: bool = True,
                   dtype: type = np.float64, block_size: int | None = None) -> CVResult:
    """Pick σ and λ by k-fold cross-validation (mean absolute error) over a grid.

    One kernel matrix per σ is built for all of X and reused for every fold and every λ. Each
    fold's training block is diagonalized once, K_tr = Q diag(w) Qᵀ, and then every λ costs
    only O(n²): α = Q diag(1/(w + λ)) Qᵀ y. We use the eigendecomposition rather than one
    Cholesky per λ mainly because it never fails for the smallest λ of a grid, where K + λI can
    be numerically indefinite and Cholesky would stop; grids of tiny λ are the norm for
    noise-free quantum-chemistry targets. In time it breaks even: one ``eigh`` of n = 800 cost
    5 (2 threads) to 13 (1 thread) Cholesky factorizations on the course's 2-core machine,
    about the number of λ values in a typical grid.
    """
    return cross_validate_targets(X, _check_y(y, len(X))[:, None], kernel=kernel, sigmas=sigmas, lams=lams,
                                  n_folds=n_folds, seed=seed, center=center, dtype=dtype, block_size=block_size)[0]


def cross_validate_targets(X: np.ndarray, Y: np.ndarray, *, kernel: str = "laplacian",
                           sigmas: Sequence[float | None] = (None,), lams: Sequence[float] = (1e-8,),
                           n_folds: int = 5, seed: int = 0, center: bool = True, dtype: type = np.float64,
                           block_size: int | None = None) -> list[CVResult]:
    """:func:`cross_validate` for every column of ``Y`` (n, targets) at the price of one.

    The kernel matrices and their eigendecompositions do not depend on the targets, so several
    properties of the same molecules share them: for QM9's U0, α and ZPVE this makes the
    cross-validation three times cheaper. Same folds, grid and result as one call per column.
    """
    X = _check_X(X)
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim != 2 or len(Y) != len(X) or Y.shape[1] == 0:
        raise ValueError(f"Y must be 2-D (samples, targets) with {len(X)} rows, got shape {Y.shape}")
    if not np.all(np.isfinite(Y)):
        raise ValueError("y contains NaN or infinite values")
    if not 2 <= n_folds <= len(X):
        raise ValueError(f"n_folds must be between 2 and the number of samples ({len(X)}), got {n_folds}")
    lams = tuple(float(lam) for lam in lams)
    if not lams or any(not np.isfinite(lam) or lam < 0 for lam in lams):
        raise ValueError(f"lams must be a non-empty list of finite numbers >= 0, got {lams}")
    sigmas = tuple(sigmas)
    if not sigmas:
        raise ValueError("sigmas must not be empty (use (None,) for kernels without sigma)")
    fold = np.random.default_rng(seed).permutation(len(X)) % n_folds
    abs_error = np.zeros((Y.shape[1], len(sigmas), len(lams)))
    for i, sigma in enumerate(sigmas):
        K = kernel_matrix(X, kernel=kernel, sigma=sigma, dtype=dtype, block_size=block_size)
        for k in range(n_folds):
            train, test = fold != k, fold == k
            offset = Y[train].mean(0) if center else np.zeros(Y.shape[1])
            w, Q = eigh(K[np.ix_(train, train)].astype(np.float64, copy=False), overwrite_a=True, check_finite=False)
            QtY = Q.T @ (Y[train] - offset)
            K_test = K[np.ix_(test, train)].astype(np.float64, copy=False)
            for j, lam in enumerate(lams):
                with np.errstate(divide="ignore"):
                    alpha = Q @ (QtY / (w + lam)[:, None])
                abs_error[:, i, j] += np.abs(K_test @ alpha + offset - Y[test]).sum(0)
    results = []
    for mae in abs_error / len(X):
        if not np.all(np.isfinite(mae)):
            raise ValueError("cross-validation gave non-finite errors: the grid has a lam too small for this kernel")
        i, j = np.unravel_index(np.argmin(mae), mae.shape)
        results.append(CVResult(sigma=sigmas[i], lam=lams[j], mae=mae, sigmas=sigmas, lams=lams))
    return results


def learning_curve(X_train: np.ndarray, y_train: np.ndarray, train_sizes: Sequence[int], X_test: np.ndarray,
                   y_test: np.ndarray, **krr_options) -> dict[str, list]:
    """Test MAE of KRR fitted on the first N training rows, for each N of ``train_sizes``.

    The training sets are nested, so shuffle the training rows beforehand. Nesting also means
    that every training kernel is the leading block of the largest one, and so is its Cholesky
    factor: K(X, X) and K(X_test, X) are built once for the largest N, factorized once in place,
    and each N solves with the leading block of that factor (:func:`curve_from_kernel`). The peak
    is one N×N matrix at the largest N, and the time one factorization. ``krr_options`` are those of
    :class:`KRR` (kernel, sigma, lam, dtype, center, ...). Returns ``{"n", "mae",
    "kernel_seconds", "factor_seconds", "solve_seconds"}`` (one solve per N).

    >>> rng = np.random.default_rng(0)
    >>> X, X_test = rng.normal(size=(50, 2)), rng.normal(size=(10, 2))
    >>> curve = learning_curve(X, X.sum(1), [20, 50], X_test, X_test.sum(1), kernel="gaussian", sigma=2.0, lam=1e-6)
    >>> curve["n"], curve["mae"][1] < curve["mae"][0]
    ([20, 50], True)
    """
    X_train, X_test = _check_X(X_train, "X_train"), _check_X(X_test, "X_test")
    sizes = [int(n) for n in train_sizes]
    if not sizes or any(n < 1 or n > len(X_train) for n in sizes):
        raise ValueError(f"train sizes must be between 1 and {len(X_train)}, got {sizes}")
    model = KRR(**krr_options)
    start = time.perf_counter()
    K = model._kernel(X_train[:max(sizes)])
    K_test = model._kernel(X_test, X_train[:max(sizes)])
    kernel_seconds = time.perf_counter() - start
    return {**curve_from_kernel(K, K_test, y_train, y_test, sizes, lam=model.lam, center=model.center),
            "kernel_seconds": kernel_seconds}


def curve_from_kernel(K: np.ndarray, K_test: np.ndarray, y_train: np.ndarray, y_test: np.ndarray,
                      train_sizes: Sequence[int], *, lam: float, center: bool = False) -> dict[str, list]:
    """:func:`learning_curve` from kernels already built at the largest N: ``K`` (N×N, C-ordered,
    **overwritten** by its Cholesky factor) and ``K_test`` (test × N). Returns ``{"n", "mae",
    "factor_seconds", "solve_seconds"}``.

    >>> X = np.arange(6.0)[:, None]; K = kernel_matrix(X, kernel="laplacian", sigma=1.0)
    >>> curve = curve_from_kernel(K, kernel_matrix(X[:2], X, kernel="laplacian", sigma=1.0), X[:, 0], X[:2, 0],
    ...                           [3, 6], lam=1e-9)
    >>> np.round(curve["mae"], 6).tolist()   # the test rows are training rows: interpolated exactly
    [0.0, 0.0]
    """
    sizes = [int(n) for n in train_sizes]
    if K.ndim != 2 or K.shape[0] != K.shape[1] or K_test.shape[1:] != K.shape[1:] or max(sizes) > len(K):
        raise ValueError(f"K must be N×N and K_test test×N with N ≥ the largest size {max(sizes)}; "
                         f"got {K.shape} and {K_test.shape}")
    y_train, y_test = _check_y(y_train, len(y_train)), _check_y(y_test, len(K_test))
    start = time.perf_counter()
    lower = _factor_in_place(K, lam)
    factor_seconds = time.perf_counter() - start
    mae, seconds = [], []
    for n in sizes:
        start = time.perf_counter()
        offset = float(y_train[:n].mean()) if center else 0.0
        alpha = leading_solve(lower, y_train[:n] - offset)
        seconds.append(time.perf_counter() - start)
        mae.append(float(np.abs(K_test[:, :n] @ alpha + offset - y_test).mean()))
    return {"n": sizes, "mae": mae, "factor_seconds": factor_seconds, "solve_seconds": seconds}


def fit_power_law(n: Sequence[float], mae: Sequence[float]) -> tuple[float, float]:
    """(a, b) of MAE ≈ a·N^(−b), by least squares on log MAE = log a − b log N.

    Learning curves of KRR are straight lines in log-log space (Müller et al. 1996), which is
    what makes extrapolating them to larger N meaningful.
    """
    n, mae = np.asarray(n, dtype=np.float64), np.asarray(mae, dtype=np.float64)
    if n.shape != mae.shape or n.ndim != 1:
        raise ValueError(f"n and mae must be 1-D of the same length, got {n.shape} and {mae.shape}")
    if len(np.unique(n)) < 2:
        raise ValueError("a power law needs at least two different N")
    if np.any(~np.isfinite(n) | ~np.isfinite(mae)) or np.any(n <= 0) or np.any(mae <= 0):
        raise ValueError("n and mae must be positive and finite")
    slope, intercept = np.polyfit(np.log(n), np.log(mae), 1)
    return float(np.exp(intercept)), float(-slope)


def n_for_mae(a: float, b: float, target_mae: float) -> float:
    """N at which the power law a·N^(−b) reaches ``target_mae`` (inf if the curve does not fall)."""
    if a <= 0 or target_mae <= 0:
        raise ValueError(f"a and target_mae must be positive, got a={a}, target_mae={target_mae}")
    if b <= 0:
        return float("inf")
    return float((a / target_mae) ** (1.0 / b))
