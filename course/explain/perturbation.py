"""Perturbation tests ("pixel flipping"): does removing the features an explanation ranks highest hurt most?

An explanation can look plausible and still be wrong about the model. The test asks the model
itself (Samek et al. 2017): replace features by an uninformative baseline (e.g. the training mean)
one after another, in the order of the explanation, and record the output. Removing the most relevant
features first should make the output fall fastest, removing the least relevant first slowest, and a
random order lies in between. The area between the least-first and the most-first curves measures
how well the ranking separates important from unimportant features; it is comparable between
explanation methods of the same model and data, not between models.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

@dataclass
class PerturbationCurves:
    """Outputs (n, steps + 1) after removing ``removed[s]`` features, in each order.

    ``fractions`` = removed / d runs from 0 to 1. ``random`` is None when it was not asked for."""

    removed: np.ndarray
    most: np.ndarray
    least: np.ndarray
    random: np.ndarray | None = None

    @property
    def fractions(self) -> np.ndarray:
        return self.removed / self.removed[-1]

    def area_between(self, upper: str = "least", lower: str = "most") -> float:
        """∫₀¹ (mean upper curve − mean lower curve) d(fraction removed), by the trapezoidal rule."""
        gap = getattr(self, upper).mean(axis=0) - getattr(self, lower).mean(axis=0)
        return float(np.sum((gap[1:] + gap[:-1]) / 2 * np.diff(self.fractions)))

    def score(self) -> float:
        """The least-first/most-first area divided by the mean |f(x) − f(baseline)|.

        Dimensionless: 0 for a ranking no better than its reverse; for a model whose output is a sum of
        per-feature contributions of one sign, ranked correctly, the fraction of the rectangle
        between f(x) and f(baseline) that the two curves enclose. NaN if removing everything changes no output.
        """
        full_change = np.mean(np.abs(self.most[:, 0] - self.most[:, -1]))
        return self.area_between() / full_change if full_change > 0 else float("nan")


def removal_steps(n_features: int, steps: int | None = None) -> np.ndarray:
    """Features removed after each step: 0, …, n_features in ``steps`` near-equal steps (default: one at a time)."""
    steps = n_features if steps is None else steps
    if not 1 <= steps <= n_features:
        raise ValueError(f"steps must be between 1 and the number of features ({n_features}), got {steps}")
    return np.round(np.linspace(0, n_features, steps + 1)).astype(int)


def removal_orders(relevance: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """Feature indices (n, d) of each sample in removal order: "most" and "least" relevant first, and "random".

    Ties keep feature order (a stable sort); the random order is a fresh permutation per sample."""
    relevance = np.asarray(relevance, dtype=float)
    rng = np.random.default_rng(seed)
    return {"most": np.argsort(-relevance, axis=1, kind="stable"),
            "least": np.argsort(relevance, axis=1, kind="stable"),
            "random": np.argsort(rng.random(relevance.shape), axis=1)}


def perturbation_curves(predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, relevance: np.ndarray,
                        baseline: np.ndarray | float, steps: int | None = None, seed: int = 0,
                        with_random: bool = True) -> PerturbationCurves:
    """The model output of every sample as features are replaced by ``baseline`` in each order.

    ``predict(X) -> (n,)`` scores is any model; ``relevance`` (n, d) ranks the features of each sample;
    ``baseline`` is a scalar, one value per feature (the training mean) or one row per sample. One
    ``predict`` call per step and order. The random order does not depend on ``relevance``: when
    several explanations of the same samples are compared, ``with_random=False`` saves its calls for
    all but one.
    """
    X = np.asarray(X, dtype=float)
    if np.shape(relevance) != X.shape:
        raise ValueError(f"relevance has shape {np.shape(relevance)}, X has {X.shape}")
    base = np.broadcast_to(np.asarray(baseline, dtype=float), X.shape)
    removed = removal_steps(X.shape[1], steps)
    curves = {}
    orders = removal_orders(relevance, seed)
    if not with_random:
        del orders["random"]
    for name, order in orders.items():
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.arange(X.shape[1])[None].repeat(len(X), axis=0), axis=1)
        curves[name] = np.stack([np.asarray(predict(np.where(rank < k, base, X))).reshape(len(X))
                                 for k in removed], axis=1)
    return PerturbationCurves(removed, **curves)
