"""Exact Shapley values of a model's prediction, by enumerating every coalition of features.

Shapley values share out a prediction among the features as the unique way that is efficient (the
shares add up to f(x) − v(∅)), symmetric, gives nothing to a feature the model ignores, and is linear
in the model. They need a "value" of every coalition S of features, and for a model that value has
to be made up: here it is the *interventional* one, v_x(S) = mean over background rows b of
f(x_S, b_¬S), the prediction when the features in S keep the sample's values and the others take the
values of the background rows. With a single background row (a baseline) it is the prediction at a
hybrid point. The share of feature i is its marginal contribution averaged over coalitions,

    φ_i = Σ_{S ∌ i} |S|! (d − |S| − 1)! / d! · [v(S ∪ {i}) − v(S)].

The sum has 2^d terms, so exact values are for small d (up to 20 here; in practice ~12). They are
what the approximations in ``course.explain.model_agnostic`` (shap's sampling explainers, LIME)
are checked against, and what shap's Exact explainer computes with an Independent masker that keeps
the whole background. For a linear model they have a closed form, ``linear_shapley``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import comb

import numpy as np

from course.explain.attribution import Attribution

MAX_FEATURES = 20


@dataclass
class ShapleyValues(Attribution):
    """Shapley values (n, d), v(∅) (n,) (the mean prediction over the background) and f(x) (n,).

    As an :class:`~course.explain.attribution.Attribution`, ``start`` is f(x) and v(∅) is what no
    feature receives (:meth:`absorbed`); efficiency says the completeness gap is zero."""

    values: np.ndarray
    base: np.ndarray
    prediction: np.ndarray

    @property
    def start(self) -> np.ndarray:
        """(n,) f(x), the value shared out."""
        return self.prediction

    def attributed(self) -> np.ndarray:
        """(n,) Σ_i φ_i."""
        return self.values.sum(axis=1)

    def absorbed(self) -> np.ndarray:
        """(n,) v(∅), the value of the empty coalition."""
        return self.base


def coalitions(d: int) -> np.ndarray:
    """Every subset of d features, (2**d, d) bool: row c holds the features whose bit is set in c.

    Row 0 is the empty coalition, row 2**d − 1 the full one."""
    if not 1 <= d <= MAX_FEATURES:
        raise ValueError(f"d must be between 1 and {MAX_FEATURES} (2**d coalitions are enumerated), got {d}")
    return (np.arange(2**d)[:, None] >> np.arange(d)) & 1 == 1


def shapley_weights(d: int) -> np.ndarray:
    """Weight |S|! (d − |S| − 1)! / d! of a coalition S ∌ i, by its size |S| = 0, …, d (d + 1,).

    The last entry, for |S| = d, is 0: no coalition of all d features leaves a feature out."""
    if d < 1:
        raise ValueError(f"d must be at least 1, got {d}")
    return np.array([1 / (d * comb(d - 1, s)) for s in range(d)] + [0.0])


def samples_and_reference(X: np.ndarray, background: np.ndarray,
                          name: str = "background") -> tuple[np.ndarray, np.ndarray]:
    """X as (n, d) and ``name`` (background rows or one baseline) as (m, d) float arrays, checked."""
    X = np.asarray(X, dtype=float)
    background = np.atleast_2d(np.asarray(background, dtype=float))
    if X.ndim != 2:
        raise ValueError(f"X must be (n, d), got shape {X.shape}")
    if background.ndim != 2 or background.shape[1] != X.shape[1] or len(background) == 0:
        raise ValueError(f"{name} must be (m, {X.shape[1]}) or ({X.shape[1]},) like the columns of X, "
                         f"got shape {background.shape}")
    return X, background


def coalition_values(predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, background: np.ndarray,
                     batch_size: int = 65536) -> np.ndarray:
    """v_x(S) (n, 2**d) for every sample and coalition (columns in the order of ``coalitions(d)``).

    All n · 2**d · m hybrid rows go through ``predict`` in chunks of at most ``batch_size`` rows."""
    X, background = samples_and_reference(X, background)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    n, d = X.shape
    m = len(background)
    masks = coalitions(d)
    sums = np.zeros(n * 2**d)
    for start in range(0, n * 2**d * m, batch_size):
        flat = np.arange(start, min(start + batch_size, n * 2**d * m))
        pair, b = np.divmod(flat, m)  # pair = sample · 2**d + coalition
        sample, coalition = np.divmod(pair, 2**d)
        hybrid = np.where(masks[coalition], X[sample], background[b])
        out = np.asarray(predict(hybrid), dtype=float)
        if out.size != len(hybrid):
            raise ValueError(f"predict must return one value per row, (rows,) or (rows, 1); "
                             f"got shape {out.shape} for {len(hybrid)} rows")
        sums[pair[0]:pair[-1] + 1] += np.bincount(pair - pair[0], weights=out.reshape(-1))
    return sums.reshape(n, 2**d) / m


def exact_shapley(predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, background: np.ndarray,
                  batch_size: int = 65536) -> ShapleyValues:
    """Interventional Shapley values of ``predict`` at the rows of X (n, d), by all 2**d coalitions.

    ``background`` is (m, d) rows to average the absent features over, or one baseline (d,).
    ``predict`` maps (rows, d) to (rows,) or (rows, 1) and is called once per chunk of at most
    ``batch_size`` rows; n · 2**d · m rows in all.
    """
    X, background = samples_and_reference(X, background)
    v = coalition_values(predict, X, background, batch_size)
    masks = coalitions(X.shape[1])
    size = masks.sum(axis=1)
    w = shapley_weights(X.shape[1])
    # φ = v @ A: coalition S enters φ_i with +w(|S| − 1) if i ∈ S and −w(|S|) if i ∉ S.
    A = np.where(masks, w[size - 1][:, None], -w[size][:, None])
    return ShapleyValues(values=v @ A, base=v[:, 0], prediction=v[:, -1])


def linear_shapley(weights: np.ndarray, X: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Shapley values (n, d) of f(x) = w·x + c in closed form: w_i (x_i − mean over background of b_i)."""
    X, background = samples_and_reference(X, background)
    weights = np.asarray(weights, dtype=float)
    if weights.shape != (X.shape[1],):
        raise ValueError(f"weights must be ({X.shape[1]},) like the columns of X, got shape {weights.shape}")
    return weights * (X - background.mean(axis=0))
