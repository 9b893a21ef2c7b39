"""Small synthetic problems whose truth is known, so risks can be computed exactly."""
from __future__ import annotations

from typing import Callable

import numpy as np


def true_sine(x: np.ndarray) -> np.ndarray:
    """The regression function f*(x) = sin(2πx) of Module 1.

    >>> true_sine([0.0, 0.25, 0.75]).round(6)
    array([ 0.,  1., -1.])
    """
    return np.sin(2 * np.pi * np.asarray(x, dtype=float))


def sine_data(n: int, noise: float = 0.2, rng: np.random.Generator | int | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points x ~ U(0, 1), y = sin(2πx) + ε with ε ~ N(0, noise²) (noise is a std).

    The points come in the order drawn (not sorted), so contiguous cross-validation folds are
    random subsets rather than x-intervals that would test extrapolation.

    >>> x, y = sine_data(5, rng=0)
    >>> x.shape, y.shape, bool((0 <= x).all() and (x < 1).all())
    ((5,), (5,), True)
    >>> bool(np.allclose(sine_data(200, noise=0.0, rng=1)[1], true_sine(sine_data(200, rng=1)[0])))
    True
    """
    if n < 1:
        raise ValueError(f"need at least one point, got n={n}")
    rng = np.random.default_rng(rng)
    x = rng.uniform(0.0, 1.0, n)
    return x, true_sine(x) + rng.normal(0.0, noise, n)


def expected_risk(predict: Callable[[np.ndarray], np.ndarray], noise: float = 0.2,
                  n_grid: int = 4001) -> float:
    """Squared-loss risk E[(Y − f(X))²] for X ~ U(0, 1), Y = sin(2πX) + ε.

    Splits into ∫₀¹ (sin 2πx − f(x))² dx (trapezoid rule on ``n_grid`` points) plus the
    irreducible noise variance ``noise²``: the Bayes predictor ``true_sine`` scores exactly
    ``noise²`` and the zero predictor adds ∫ sin² = 1/2.

    >>> round(expected_risk(true_sine), 6), round(expected_risk(np.zeros_like), 6)
    (0.04, 0.54)
    """
    x = np.linspace(0.0, 1.0, n_grid)
    gap = (true_sine(x) - np.asarray(predict(x), dtype=float)) ** 2
    return float(np.trapezoid(gap, x) + noise**2)
