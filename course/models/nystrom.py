"""Nyström (inducing-point) kernel ridge regression: KRR for training sets whose n×n kernel does not fit.

The model keeps KRR's form f(x) = Σ_j a_j k(x, c_j), but over m centres c_j drawn from the n
training points, and fits a by minimizing ‖K_nm a − y‖² + λ aᵀ K_mm a. Writing K_mm = L Lᵀ
(Cholesky, with a small jitter on the diagonal) and B = K_nm L⁻ᵀ, β = Lᵀ a, this is ridge regression
on m features:

    (BᵀB + λI) β = BᵀY,        a = L⁻ᵀ β,        f(x) = k(x, C) a.

Why it scales: B is never whole. Its rows are made one block of training molecules at a time and
only BᵀB (m×m) and BᵀY (m×targets) are accumulated, so memory is O(m² + block·m) whatever n is,
and time O(n m²). Why it is right: with all n training points as centres, B = L and
L (LᵀL + λI)⁻¹ Lᵀ = K (K + λI)⁻¹ (push-through identity), i.e. exactly the predictions of
:class:`course.models.krr.KRR`; fewer centres trade accuracy for memory.

One pass serves many λ and several properties: BᵀB is diagonalized once, after which every λ costs
O(m²·targets), and the rows of an evaluation set (validation or test molecules) are projected in
the same pass, so choosing λ costs no second pass over the training set. Kernels are those of
:mod:`course.models.krr` (same σ convention).

>>> import numpy as np
>>> X = np.random.default_rng(0).normal(size=(300, 3)); y = np.sin(X).sum(1)
>>> model = NystromKRR("gaussian", sigma=1.5, lam=1e-6, m=100).fit(X, y)
>>> bool(np.abs(model.predict(X) - y).mean() < 0.05)
True
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.linalg import LinAlgError, cholesky, eigh, solve_triangular
from scipy.linalg.blas import dsyrk

from course.models.krr import BLOCK_BYTES, _check_kernel, _check_X, kernel_matrix

__all__ = ["NystromKRR", "NystromSystem", "build_system", "choose_centres"]

JITTER_TRIES = 5  # the jitter grows tenfold per failed Cholesky, at most this many times


def choose_centres(n: int, m: int, seed: int = 0) -> np.ndarray:
    """Indices of ``m`` distinct training rows out of ``n``, a seeded random subset (sorted).

    A uniform subset is the standard choice for QM9-sized data: k-means++ would cost one pass over
    all n rows per centre, more than the whole fit at m = 20,000.
    """
    if not 1 <= m <= n:
        raise ValueError(f"m (number of centres) must be between 1 and the {n} training samples, got {m}")
    return np.sort(np.random.default_rng(seed).choice(n, size=m, replace=False))


def _check_Y(Y: np.ndarray, n: int, name: str = "Y") -> np.ndarray:
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim not in (1, 2) or len(Y) != n or Y.size == 0:
        raise ValueError(f"{name} must be 1-D or 2-D (samples, targets) with the X's {n} rows, got shape {Y.shape}")
    Y = Y.reshape(n, -1)
    if not np.all(np.isfinite(Y)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return Y


def _check_lams(lams: Sequence[float]) -> tuple[float, ...]:
    lams = tuple(float(lam) for lam in np.atleast_1d(lams))
    if not lams or any(not np.isfinite(lam) or lam <= 0 for lam in lams):
        raise ValueError(f"lam must be positive and finite (BᵀB is singular for m > rank), got {lams}")
    return lams


def _rows(m: int, block_size: int | None) -> int:
    if block_size is None:  # one float64 block of kernel rows against the centres, at most 32 MiB
        return max(1, BLOCK_BYTES // (8 * m))
    if block_size < 1:
        raise ValueError(f"block_size must be a positive number of rows, got {block_size}")
    return int(block_size)


def _cholesky_with_jitter(make_K_mm: Callable[[], np.ndarray], jitter: float) -> tuple[np.ndarray, float]:
    """Lower L with L Lᵀ = K_mm + εI, ε = jitter × mean diagonal, raised tenfold until it succeeds.

    The factor overwrites K_mm (one m×m matrix, not two); a failed try has spoiled it, so
    ``make_K_mm`` builds it again for the next.
    """
    if not np.isfinite(jitter) or jitter < 0:
        raise ValueError(f"jitter must be a finite number >= 0, got {jitter!r}")
    tries = [jitter * 10.0 ** k for k in range(JITTER_TRIES)] if jitter > 0 else [0.0]
    for relative in tries:
        K_mm = make_K_mm()
        shift = relative * float(np.mean(np.diag(K_mm)))
        K_mm.flat[::len(K_mm) + 1] += shift
        try:  # K_mm is symmetric, so K_mm.T is the same matrix in LAPACK's Fortran order: no copy
            return cholesky(K_mm.T, lower=True, overwrite_a=True, check_finite=False), shift
        except LinAlgError:
            continue
    raise LinAlgError(f"K_mm + εI is not positive definite even at ε = {tries[-1]:g} × mean diagonal: "
                      "the centres contain (near-)duplicate samples; use a larger jitter or fewer centres")


class NystromSystem:
    """BᵀB, BᵀY and the evaluation rows of one pass over the training set, solvable for any λ.

    Made by :func:`build_system`. ``gram`` holds BᵀB in its lower triangle only (syrk fills that
    and eigh reads only that) until the first solve replaces it by its eigenvectors. Memory: L,
    BᵀB and, while eigh runs, the eigenvectors: three m×m float64 matrices, 3.2 GB each at
    m = 20,000, plus the evaluation rows (n_eval × m).
    """

    def __init__(self, centres: np.ndarray, L: np.ndarray, jitter: float, gram: np.ndarray, BtY: np.ndarray,
                 offset: np.ndarray, B_eval: np.ndarray | None, kernel_options: dict):
        self.centres, self.L, self.jitter, self.gram, self.BtY = centres, L, jitter, gram, BtY
        self.offset, self.B_eval, self.kernel_options = offset, B_eval, kernel_options
        self._eig: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._BV: np.ndarray | None = None

    def _eigen(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(w, V, VᵀBᵀY) with BᵀB = V diag(w) Vᵀ; computed once, BᵀB is overwritten by it."""
        if self._eig is None:
            w, V = eigh(self.gram, lower=True, overwrite_a=True, check_finite=False)
            self.gram = None  # destroyed by eigh; V replaces it
            self._eig = (np.maximum(w, 0.0), V, V.T @ self.BtY)  # BᵀB is PSD: negative w are round-off
        return self._eig

    def coefficients(self, lams: Sequence[float]) -> np.ndarray:
        """a = L⁻ᵀ (BᵀB + λI)⁻¹ BᵀY for each λ: shape (len(lams), m, targets)."""
        w, V, VtY = self._eigen()
        return np.stack([solve_triangular(self.L, V @ (VtY / (w + lam)[:, None]), lower=True, trans="T",
                                          check_finite=False) for lam in _check_lams(lams)])

    def eval_predictions(self, lams: Sequence[float]) -> np.ndarray:
        """Predictions for the evaluation rows of :func:`build_system`: (len(lams), n_eval, targets)."""
        if self.B_eval is None:
            raise RuntimeError("this system was built without X_eval")
        w, V, VtY = self._eigen()
        if self._BV is None:
            self._BV = self.B_eval @ V
        return np.stack([self._BV @ (VtY / (w + lam)[:, None]) + self.offset for lam in _check_lams(lams)])


def build_system(X: np.ndarray, Y: np.ndarray, m: int, *, kernel: str = "laplacian", sigma: float | None = None,
                 degree: int = 2, coef0: float = 1.0, seed: int = 0, X_eval: np.ndarray | None = None,
                 center: bool = True, jitter: float = 1e-10, block_size: int | None = None) -> NystromSystem:
    """One blocked pass over (X, Y): accumulate BᵀB and BᵀY, and B for the rows of ``X_eval``.

    ``Y`` may hold several targets as columns (they share the pass). ``center`` fits Y minus its
    column means (as ``KRR(center=True)``). ``block_size`` rows of X are in memory as kernel rows at
    once (default: 32 MiB of them).

    >>> X = np.random.default_rng(1).normal(size=(200, 2))
    >>> system = build_system(X, np.cos(X), 50, kernel="gaussian", sigma=1.0, X_eval=X[:10])
    >>> system.eval_predictions([1e-6, 1e-2]).shape
    (2, 10, 2)
    """
    _check_kernel(kernel, sigma)
    X = _check_X(X)
    Y = _check_Y(Y, len(X))
    options = {"kernel": kernel, "sigma": sigma, "degree": degree, "coef0": coef0}
    if X_eval is not None:
        X_eval = _check_X(X_eval, "X_eval")
        if X_eval.shape[1] != X.shape[1]:
            raise ValueError(f"X_eval has {X_eval.shape[1]} features but X has {X.shape[1]}")
    centres = X[choose_centres(len(X), m, seed)]
    rows = _rows(m, block_size)
    L, used_jitter = _cholesky_with_jitter(lambda: kernel_matrix(centres, **options, block_size=rows), jitter)
    offset = Y.mean(0) if center else np.zeros(Y.shape[1])

    def projected(block: np.ndarray) -> np.ndarray:
        """Bᵀ of a block of rows, (m, rows), Fortran-ordered: L⁻¹ k(C, block)."""
        K = kernel_matrix(block, centres, **options, block_size=len(block))
        return solve_triangular(L, K.T, lower=True, overwrite_b=True, check_finite=False)

    gram = np.zeros((m, m), order="F")
    BtY = np.zeros((m, Y.shape[1]))
    for start in range(0, len(X), rows):
        Bt = projected(X[start:start + rows])
        dsyrk(1.0, Bt, beta=1.0, c=gram, lower=1, overwrite_c=1)  # in place: no m×m temporary
        BtY += Bt @ (Y[start:start + rows] - offset)
    B_eval = None
    if X_eval is not None:
        B_eval = np.empty((len(X_eval), m))
        for start in range(0, len(X_eval), rows):
            B_eval[start:start + rows] = projected(X_eval[start:start + rows]).T
    return NystromSystem(centres, L, used_jitter, gram, BtY, offset, B_eval, options)


class NystromKRR:
    """Kernel ridge regression on ``m`` random training points as centres, fitted in blocks.

    Same parameters as :class:`course.models.krr.KRR` (``lam`` is scikit-learn's ``alpha``) plus
    ``m``, the ``seed`` of the centres and the relative ``jitter`` of the Cholesky factor of K_mm.
    With m = n it gives KRR's predictions; see the module docstring. y may be 2-D (several targets).
    """

    def __init__(self, kernel: str = "laplacian", sigma: float | None = None, lam: float = 1e-8, *, m: int,
                 degree: int = 2, coef0: float = 1.0, seed: int = 0, center: bool = True, jitter: float = 1e-10,
                 block_size: int | None = None):
        _check_kernel(kernel, sigma)
        (self.lam,) = _check_lams([lam])
        self.kernel, self.sigma, self.m, self.degree, self.coef0 = kernel, sigma, m, degree, coef0
        self.seed, self.center, self.jitter, self.block_size = seed, center, jitter, block_size
        self.centres_: np.ndarray | None = None
        self.coef_: np.ndarray | None = None
        self.offset_: np.ndarray | None = None
        self.jitter_ = 0.0
        self._one_target = False

    def fit(self, X: np.ndarray, y: np.ndarray) -> NystromKRR:
        """Build the m×m system in one pass over X and solve it for ``lam``."""
        self._one_target = np.ndim(y) == 1
        system = build_system(X, y, self.m, kernel=self.kernel, sigma=self.sigma, degree=self.degree,
                              coef0=self.coef0, seed=self.seed, center=self.center, jitter=self.jitter,
                              block_size=self.block_size)
        self.coef_ = system.coefficients([self.lam])[0]
        self.centres_, self.offset_, self.jitter_ = system.centres, system.offset, system.jitter
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """k(X, C) a + offset, in row blocks; 1-D if fitted on a 1-D y."""
        if self.coef_ is None:
            raise RuntimeError("call fit() before predict()")
        X = _check_X(X)
        if X.shape[1] != self.centres_.shape[1]:
            raise ValueError(f"X has {X.shape[1]} features but the model was fitted on {self.centres_.shape[1]}")
        rows = _rows(self.m, self.block_size)
        out = np.empty((len(X), self.coef_.shape[1]))
        for start in range(0, len(X), rows):
            block = kernel_matrix(X[start:start + rows], self.centres_, kernel=self.kernel, sigma=self.sigma,
                                  degree=self.degree, coef0=self.coef0, block_size=rows)
            out[start:start + rows] = block @ self.coef_ + self.offset_
        return out[:, 0] if self._one_target else out
