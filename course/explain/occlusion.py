"""Occlusion: how much worse does a model score when a group of inputs is hidden from it?

The crudest explanation there is, and the one every later method is compared with: replace a
window of input columns by an uninformative value (the training mean) and measure the drop of a
score such as the validation AUC. Large drops mark inputs the model relies on.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def windows(n_features: int, width: int) -> list[np.ndarray]:
    """Consecutive, non-overlapping column windows covering ``range(n_features)`` (the last may be shorter)."""
    if width < 1:
        raise ValueError(f"window width must be at least 1, got {width}")
    return [np.arange(start, min(start + width, n_features)) for start in range(0, n_features, width)]


def occlusion_drops(score: Callable[[np.ndarray], float], X: np.ndarray, groups: Sequence[np.ndarray],
                    fill: np.ndarray | float) -> np.ndarray:
    """``score(X) − score(X with the columns of group k set to fill)`` for every group k.

    ``fill`` is a scalar or one value per column (e.g. the training mean, which is 0 after
    standardization).
    """
    X = np.asarray(X, dtype=float)
    fill = np.broadcast_to(np.asarray(fill, dtype=float), (X.shape[1],))
    reference = score(X)
    drops = np.empty(len(groups))
    for k, columns in enumerate(groups):
        occluded = X.copy()
        occluded[:, columns] = fill[columns]
        drops[k] = reference - score(occluded)
    return drops
