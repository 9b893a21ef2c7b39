"""Choosing a penalty from cross-validation errors: the one-standard-error rule."""
from __future__ import annotations

import numpy as np


def one_standard_error_alpha(alphas: np.ndarray, mse_path: np.ndarray) -> float:
    """The largest penalty whose mean CV error is within one standard error of the best mean.

    The minimum of a CV curve is often flat: a stronger penalty (a sparser LASSO) is statistically
    as good. ``alphas`` (m,) are the penalties in any order, ``mse_path`` (m, k) the validation MSE
    of each on each of k folds (scikit-learn's ``LassoCV.alphas_`` and ``mse_path_``); the standard
    error is the sample standard deviation (ddof=1) of the k fold errors at the minimum over √k
    (Hastie, Tibshirani & Friedman, *Elements of Statistical Learning*, §7.10).

    >>> one_standard_error_alpha([1.0, 0.5, 0.1, 0.01], [[5, 5], [2.2, 2.0], [2.0, 1.6], [1.9, 1.9]])
    0.1
    """
    alphas, mse = np.asarray(alphas, dtype=float), np.asarray(mse_path, dtype=float)
    if mse.ndim != 2 or mse.shape[0] != alphas.shape[0] or mse.shape[1] < 2:
        raise ValueError(f"mse_path must be (len(alphas), k >= 2), got {mse.shape} for {alphas.shape[0]} alphas")
    mean = mse.mean(axis=1)
    best = int(np.argmin(mean))
    standard_error = mse[best].std(ddof=1) / np.sqrt(mse.shape[1])
    return float(alphas[mean <= mean[best] + standard_error].max())
