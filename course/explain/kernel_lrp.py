"""LRP for kernel ridge regression: the fitted KRR model rewritten as a network and explained.

A KRR prediction f(x) = Σ_j a_j k(x, x_j) + b (b: the model's ``offset_``) is a three-layer
network, as in the neuralized kernel models of Kauffmann, Müller and Montavon (one-class SVMs,
Pattern Recognition 2020; k-means, IEEE TNNLS 2022):

1. one neuron per training molecule j sums per-dimension terms, s_j = Σ_d t_jd (+ c):
   t_jd = |x_d − x_jd| (Laplacian, s_j the L1 distance), (x_d − x_jd)² (Gaussian, the squared
   distance), x_d·x_jd (linear; polynomial with its coef0 c as a bias);
2. the kernel value k_j = exp(−s_j/σ), exp(−s_j/(2σ²)), s_j or s_j^degree;
3. the output f = Σ_j a_j k_j + b.

Relevance flows back layer by layer. Output → training molecules: the sum is exactly additive,
so R_j = a_j k(x, x_j), and b reaches no molecule (absorbed as the output bias). Training
molecules → input dimensions: R_j is shared among the terms of s_j in proportion to each one's
part of the sum, R_jd = t_jd / (s_j + ε·sign(s_j)) · R_j, the LRP-ε rule on the first layer and
the rule OC-DTD (Kauffmann et al. 2020) derives for distance neurons: there the relevance of a
distance neuron goes to the dimensions in proportion to (x_d − x_jd)^p / ‖x − x_j‖_p^p.
The kernel is a monotone function of s_j of one variable, so it passes R_j through unchanged,
as LRP does for an activation. Why this rule: for the linear kernel it is LRP-0 on a linear
layer and gives gradient × input of f(x) = w·x + b (ε = 0); for a distance it is exact
(Σ_d R_jd = R_j), needs no root point, and gives nothing to a dimension in which x equals
the training molecule. Read it with care: for a decaying kernel a dimension gets
more of R_j the more x *differs* from x_j there, which is the share of the distance it causes,
not a sensitivity. The ε share and the part of s_j that is the polynomial's c (and all of R_j
when s_j = 0 with ε = 0, where no dimension differs) are reported as absorbed.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from course.explain.attribution import AbsorbedShares
from course.models.krr import KRR

__all__ = ["KernelRelevance", "explain_krr", "sum_per_bag", "bag_names"]

_ELEMENTS = {1: "H", 6: "C", 7: "N", 8: "O", 9: "F"}


@dataclass
class KernelRelevance(AbsorbedShares):
    """Relevance of KRR predictions: to input features ``relevance`` (n, d) and to training
    molecules ``training`` (n, m), the middle layer; ``start`` (n,) is the prediction f(x).

    ``bias["output"]`` is the model's offset b, ``bias["first"]`` the polynomial's coef0 share,
    ``stabilizer["first"]`` the ε share, all (n,)."""

    relevance: np.ndarray
    training: np.ndarray
    start: np.ndarray

    def attributed(self) -> np.ndarray:
        """(n,) Σ_d R_d."""
        return self.relevance.sum(1)


def _terms(model: KRR, x: np.ndarray) -> np.ndarray:
    """t_jd (m, d): the per-dimension terms whose sum is the first layer's s_j for one sample x."""
    if model.kernel == "laplacian":
        return np.abs(x - model.X_)
    if model.kernel == "gaussian":
        return (x - model.X_) ** 2
    return x * model.X_


def _kernel_of_sum(model: KRR, s: np.ndarray) -> np.ndarray:
    if model.kernel == "laplacian":
        return np.exp(-s / model.sigma)
    if model.kernel == "gaussian":
        return np.exp(-s / (2.0 * model.sigma ** 2))
    if model.kernel == "polynomial":
        return s ** model.degree
    return s


def explain_krr(model: KRR, X: np.ndarray, eps: float = 0.0) -> KernelRelevance:
    """LRP of a fitted :class:`~course.models.krr.KRR` model's predictions for the rows of X.

    Conservation: Σ_d R_d + absorbed = f(x) up to rounding, and Σ_j R_j = f(x) − b exactly as
    the model computes it. ``eps`` ≥ 0 is the stabilizer of the first layer (module docstring).

    >>> from course.models.krr import KRR
    >>> model = KRR("laplacian", sigma=1.0, lam=0.0).fit(np.array([[0.0, 0.0]]), np.array([2.0]))
    >>> split = explain_krr(model, np.array([[1.0, 3.0]]))
    >>> bool(np.allclose(split.relevance, 2 * np.exp(-4.0) * np.array([[0.25, 0.75]])))
    True
    >>> bool(np.allclose(split.completeness_gap(), 0.0))
    True
    """
    if model.alpha_ is None:
        raise RuntimeError("fit the model before explaining it")
    if not np.isfinite(eps) or eps < 0:
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != model.X_.shape[1]:
        raise ValueError(f"X must be (n, {model.X_.shape[1]}), got shape {X.shape}")
    alpha = np.asarray(model.alpha_, dtype=np.float64)
    bias = model.coef0 if model.kernel == "polynomial" else 0.0
    n, m = len(X), len(model.X_)
    relevance, training = np.zeros(X.shape), np.zeros((n, m))
    first_bias, stabilizer = np.zeros(n), np.zeros(n)
    for i, x in enumerate(X):
        terms = _terms(model, x)
        s = terms.sum(1) + bias
        training[i] = alpha * _kernel_of_sum(model, s)
        denominator = s + eps * np.where(s >= 0, 1.0, -1.0)
        share = np.divide(training[i], denominator, out=np.zeros(m), where=denominator != 0)
        relevance[i] = share @ terms
        first_bias[i] = bias * share.sum()
        stabilizer[i] = training[i].sum() - relevance[i].sum() - first_bias[i]
    return KernelRelevance(relevance=relevance, training=training, start=model.predict(X),
                           bias={"first": first_bias, "output": np.full(n, model.offset_)},
                           stabilizer={"first": stabilizer})


def sum_per_bag(relevance: np.ndarray, bag_sizes: Sequence[int]) -> np.ndarray:
    """(n, bags) sums of feature relevances (n, d) over the columns of each Bag-of-Bonds bag,
    in the order of ``BagOfBonds.bags`` (``bag_sizes`` its ``bag_sizes``).

    >>> sum_per_bag(np.array([[1.0, 2.0, 3.0]]), [2, 1]).tolist()
    [[3.0, 3.0]]
    """
    relevance = np.asarray(relevance, dtype=np.float64)
    if min(bag_sizes, default=0) < 1:
        raise ValueError(f"every bag needs at least one column, got sizes {list(bag_sizes)}")
    if relevance.ndim != 2 or relevance.shape[1] != sum(bag_sizes):
        raise ValueError(f"relevance must be (n, {sum(bag_sizes)}), got shape {relevance.shape}")
    starts = np.concatenate([[0], np.cumsum(bag_sizes)[:-1]]).astype(np.int64)
    return np.add.reduceat(relevance, starts, axis=1)


def bag_names(bags: Sequence[tuple[int, ...]]) -> list[str]:
    """Readable names of Bag-of-Bonds bags: ``(6,)`` → "C", ``(1, 6)`` → "H–C".

    >>> bag_names([(6,), (1, 6)])
    ['C', 'H–C']
    """
    return ["–".join(_ELEMENTS.get(z, str(z)) for z in bag) for bag in bags]
