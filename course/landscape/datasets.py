"""The two data sets of Module 7: the paper's 2-D checkerboard, and scikit-learn's breast-cancer
data (569 tumours x 30 features, shipped with scikit-learn so it works offline) in place of the
paper's credit-card fraud data, which cannot be downloaded here.
"""
from __future__ import annotations

import numpy as np


def checkerboard(n: int, n_squares: int = 2, rng: np.random.Generator | int | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points uniform on [-1, 1]^2 labelled by the colour of their square on an
    ``n_squares x n_squares`` board: a problem no linear model solves (XOR for 2 squares).

    >>> X, y = checkerboard(4, 2, rng=0); X.shape, sorted(set(y.tolist())) <= [0, 1]
    ((4, 2), True)
    """
    if n < 1 or n_squares < 1:
        raise ValueError(f"need n >= 1 and n_squares >= 1, got n={n}, n_squares={n_squares}")
    X = np.random.default_rng(rng).uniform(-1.0, 1.0, (n, 2))
    cell = np.minimum(np.floor((X + 1.0) / 2.0 * n_squares), n_squares - 1).astype(int)
    return X, (cell.sum(axis=1) % 2).astype(int)


def breast_cancer() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Wisconsin breast-cancer features standardized to mean 0 and std 1, labels (1 = benign,
    0 = malignant, scikit-learn's coding) and the feature names.

    Why standardized: the raw features span five orders of magnitude, which would make the loss
    landscape's scales (and a weight-std threshold) meaningless across inputs.

    >>> X, y, names = breast_cancer(); X.shape, int(y.sum()), names[0]
    ((569, 30), 357, 'mean radius')
    """
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    X = data.data.astype(float)
    return (X - X.mean(axis=0)) / X.std(axis=0), data.target.astype(int), [str(name) for name in data.feature_names]
