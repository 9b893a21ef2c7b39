"""Perturbation tests ("pixel flipping"): does removing the features an explanation ranks highest hurt most?

An explanation can look plausible and still be wrong about the model. The test asks the model
itself (Samek et al. 2017): replace features by an uninformative baseline (e.g. the training mean)
one after another, in the order of the explanation, and record the output. Removing the most relevant
features first should make the output fall fastest, removing the least relevant first slowest, and a
random order lies in between. The area between the least-first and the most-first curves measures
how well the ranking separates important from unimportant features; it is comparable between
explanation methods of the same model and data, not between models.

Two cautions, both measured in Module 5. Replacing a feature by a constant makes inputs the model
never saw, and a classifier may react to that rather than to the lost information (the curve then
*rises* after a few steps); ``infill=GaussianInfill(X_train)`` replaces the removed features by
their conditional mean given the kept ones instead, which stays on the data's (Gaussian) manifold.
And the area is only meaningful where the curves are monotone: :meth:`PerturbationCurves.aopc`
averages the drop over the first steps alone (Samek et al.'s AOPC), and
:meth:`PerturbationCurves.score` above 1 flags a broken test (see its docstring).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes

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

    def aopc(self, fraction: float = 0.1, order: str = "most") -> float:
        """Area over the perturbation curve (Samek et al. 2017) over the first ``fraction`` of the
        features: the mean over those steps k = 0..L of the mean drop f(x) − f(x after k steps).

        Example: curves whose mean output goes 5, 3, 2 over the first steps give (0 + 2 + 3)/3."""
        steps = np.flatnonzero(self.fractions <= fraction + 1e-12)
        curve = getattr(self, order)
        return float(np.mean(curve[:, [0]] - curve[:, steps]))

    def plot(self, ax: Axes | None = None, label: str | None = None, color: str | None = None,
             orders: Sequence[str] = ("most", "least", "random"), x: str = "removed") -> Axes:
        """Draw the mean curve of each of ``orders`` on ``ax`` (default: the current axes).

        Most relevant first solid (with ``label``), least relevant first dashed in the same colour,
        the random order (where it was computed) black dotted as "random order". ``x`` is "removed"
        (features removed) or "fractions".

        >>> import matplotlib.pyplot as plt
        >>> curves = PerturbationCurves(np.array([0, 1, 2]), most=np.array([[3.0, 1.0, 0.0]]),
        ...                             least=np.array([[3.0, 2.0, 0.0]]))
        >>> fig, ax = plt.subplots()
        >>> lines = curves.plot(ax, label="LRP").lines
        >>> [(line.get_label(), line.get_linestyle()) for line in lines if not line.get_label().startswith("_")]
        [('LRP', '-')]
        >>> len(lines), lines[1].get_linestyle()
        (2, '--')
        >>> plt.close(fig)
        """
        import matplotlib.pyplot as plt

        ax = plt.gca() if ax is None else ax
        steps = getattr(self, x)
        if "most" in orders:
            color = ax.plot(steps, self.most.mean(0), color=color, label=label)[0].get_color()
        if "least" in orders:
            ax.plot(steps, self.least.mean(0), color=color, ls="--", lw=1)
        if "random" in orders and self.random is not None:
            ax.plot(steps, self.random.mean(0), "k:", label="random order")
        return ax


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


class GaussianInfill:
    """Removed features replaced by their conditional mean given the kept ones, under a Gaussian
    fitted to training data: x_r = μ_r + Σ_rk Σ_kk⁻¹ (x_k − μ_k). For spectra, band powers are
    strongly correlated, so the infilled input still looks like a real one.

    ``ridge`` (relative to the mean variance) keeps Σ_kk invertible. Example::

        infill = GaussianInfill(X_train)
        curves = perturbation_curves(predict, X, R, baseline=None, infill=infill)
    """

    def __init__(self, X_train: np.ndarray, ridge: float = 1e-6):
        X_train = np.asarray(X_train, dtype=float)
        self.mean = X_train.mean(axis=0)
        cov = np.cov(X_train, rowvar=False)
        self.cov = cov + ridge * np.trace(cov) / len(cov) * np.eye(len(cov))

    def __call__(self, X: np.ndarray, removed: np.ndarray) -> np.ndarray:
        """``X`` (n, d) with the entries where ``removed`` (n, d, bool) replaced."""
        X = np.asarray(X, dtype=float)
        out = X.copy()
        for i in range(len(X)):
            r, k = removed[i], ~removed[i]
            if not r.any():
                continue
            if not k.any():
                out[i] = self.mean
                continue
            shift = np.linalg.solve(self.cov[np.ix_(k, k)], X[i, k] - self.mean[k])
            out[i, r] = self.mean[r] + self.cov[np.ix_(r, k)] @ shift
        return out


def perturbation_curves(predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, relevance: np.ndarray,
                        baseline: np.ndarray | float | None, steps: int | None = None, seed: int = 0,
                        with_random: bool = True,
                        infill: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None) -> PerturbationCurves:
    """The model output of every sample as features are removed in each order.

    ``predict(X) -> (n,)`` scores is any model; ``relevance`` (n, d) ranks the features of each sample.
    A removed feature takes ``baseline`` (a scalar, one value per feature such as the training mean,
    or one row per sample), or, with ``infill(X, removed)``, whatever it returns (e.g.
    :class:`GaussianInfill`; ``baseline`` is then unused). One ``predict`` call per step and order.
    The random order does not depend on ``relevance``: when several explanations of the same samples
    are compared, ``with_random=False`` saves its calls for all but one.
    """
    X = np.asarray(X, dtype=float)
    if np.shape(relevance) != X.shape:
        raise ValueError(f"relevance has shape {np.shape(relevance)}, X has {X.shape}")
    if infill is None:
        base = np.broadcast_to(np.asarray(baseline, dtype=float), X.shape)
        infill = lambda X, mask: np.where(mask, base, X)  # noqa: E731
    removed = removal_steps(X.shape[1], steps)
    curves = {}
    orders = removal_orders(relevance, seed)
    if not with_random:
        del orders["random"]
    for name, order in orders.items():
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.arange(X.shape[1])[None].repeat(len(X), axis=0), axis=1)
        curves[name] = np.stack([np.asarray(predict(infill(X, rank < k))).reshape(len(X)) for k in removed], axis=1)
    return PerturbationCurves(removed, **curves)
