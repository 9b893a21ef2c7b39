"""How much do two explanations of the same predictions agree?

Different methods (exact Shapley values, their sampling estimates, LIME, gradients, LRP) give
different numbers, and there is no ground truth to check them against for a real model. What can be
compared is whether they tell the same story, sample by sample:

- ``rank_agreement``: the Spearman rank correlation of the *signed* attributions of one sample, so
  that two methods agree only if they order the features the same way from most positive to most
  negative (a method that flips a sign disagrees, which ranking by |value| would hide). 1 is the same
  order, −1 the reverse, ~0 unrelated. A sample whose attributions are all equal in either method has
  no ranking and gets NaN.
- ``top_k_overlap``: the fraction of the k features of largest |attribution| that both methods
  name, the question "do they point at the same few features?", regardless of sign and order.

``agreement_table`` averages either over the samples for every pair of methods.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.stats import rankdata


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """a and b as (n, d) float arrays of the same shape."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"a and b must be (n, d) attributions of the same shape, got {a.shape} and {b.shape}")
    return a, b


def rank_agreement(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman correlation (n,) of the signed attributions a and b (n, d), row by row.

    Ties share their average rank; a row that is constant in a or b gives NaN."""
    a, b = _pair(a, b)
    ra = rankdata(a, axis=1)
    rb = rankdata(b, axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (ra * rb).sum(axis=1) / np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))


def top_k_overlap(a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    """Fraction (n,) of the k largest-|value| features of each row of a that are also among b's.

    Among features of equal |value|, the one with the lower index counts as larger."""
    a, b = _pair(a, b)
    if not 1 <= k <= a.shape[1]:
        raise ValueError(f"k must be between 1 and the number of features ({a.shape[1]}), got {k}")
    top_a = np.argsort(-np.abs(a), axis=1, kind="stable")[:, :k]
    top_b = np.argsort(-np.abs(b), axis=1, kind="stable")[:, :k]
    return np.array([len(np.intersect1d(x, y)) / k for x, y in zip(top_a, top_b)])


def agreement_table(methods: dict[str, np.ndarray],
                    measure: Callable[[np.ndarray, np.ndarray], np.ndarray] = rank_agreement) -> pd.DataFrame:
    """Mean of ``measure`` over samples for every pair of methods (name → (n, d) attributions).

    Samples where the measure is NaN (constant rows for ``rank_agreement``) are left out of the mean;
    a pair with none left gets NaN. Every entry is computed, the diagonal too, so a symmetric measure
    gives a symmetric table with ones on the diagonal. Use e.g.
    ``measure=lambda a, b: top_k_overlap(a, b, 3)``.
    """
    names = list(methods)
    table = pd.DataFrame(np.nan, index=names, columns=names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nanmean of only NaN
        for row in names:
            for column in names:
                table.loc[row, column] = np.nanmean(measure(methods[row], methods[column]))
    return table
