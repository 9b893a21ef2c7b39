"""A planted shortcut ("Clever Hans"): an instrument nuisance that leaks the class into a copy of the data.

Real data sets carry such leaks: a hospital's scanner, a photographer's watermark, a telescope's
calibration that changed between the runs that observed different targets. A model may then learn the
nuisance instead of the physics and still score well on a test split that shares the leak. Here the
leak is a calibration factor ``1 + scale * s`` applied to a few columns (in Module 6: the highest-ell
TT band powers of the CMB spectra), with a sign ``s = ±1`` per row. In the *leaky* copy ``s`` follows
the label in a share ``agreement`` of the rows; in the *clean* copy the same signs are shuffled over
the rows, so the nuisance has the same distribution and tells nothing about the label. The input is
never modified.

>>> X, labels = np.ones((6, 3)), np.array([0, 1, 0, 1, 0, 1])
>>> leaky = plant_shortcut(X, labels, [2], scale=0.1)
>>> leaky.features[:, 2].tolist(), leaky.sign.tolist()
([0.9, 1.1, 0.9, 1.1, 0.9, 1.1], [-1, 1, -1, 1, -1, 1])
>>> clean = plant_shortcut(X, labels, [2], scale=0.1, leak=False, seed=1)
>>> sorted(clean.sign.tolist()) == sorted(leaky.sign.tolist()), X[:, 2].tolist()  # X untouched
(True, [1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Shortcut:
    """A copy of the data with the nuisance in it, the sign of the nuisance of every row, and the
    columns it was applied to (see the module's example)."""

    features: np.ndarray  # (n, d) copy of the data, columns scaled by 1 + scale * sign
    sign: np.ndarray  # (n,) int, +1 or -1: the nuisance of each row
    columns: np.ndarray  # indices of the columns that carry the nuisance


def plant_shortcut(X: np.ndarray, labels: np.ndarray, columns: Sequence[int], *, scale: float,
                   agreement: float = 1.0, leak: bool = True, seed: int = 0) -> Shortcut:
    """Copy ``X`` and multiply ``columns`` by ``1 + scale * sign``: with ``leak``, ``sign`` is +1 for
    label 1 and -1 for label 0 in a random share ``agreement`` of the rows (the others get the other
    sign); without it, those same signs shuffled over the rows, independent of the label.

    >>> half = plant_shortcut(np.ones((1000, 1)), np.arange(1000) % 2, [0], scale=0.5, agreement=0.5)
    >>> bool(0.4 < np.mean(half.sign == 2 * (np.arange(1000) % 2) - 1) < 0.6)  # sign follows the label half the time
    True
    """
    if not 0.0 <= agreement <= 1.0:
        raise ValueError(f"agreement is a share of the rows, in [0, 1]; got {agreement}")
    X, labels = np.asarray(X, dtype=float), np.asarray(labels)
    columns = np.asarray(columns, dtype=int)
    if labels.shape != (len(X),) or not np.isin(labels, (0, 1)).all():
        raise ValueError("labels must be one 0 or 1 per row of X")
    rng = np.random.default_rng(seed)
    follows = rng.random(len(X)) < agreement
    sign = np.where(follows == (labels == 1), 1, -1)
    if not leak:
        sign = rng.permutation(sign)
    features = X.copy()
    features[:, columns] *= 1.0 + scale * sign[:, None]
    return Shortcut(features=features, sign=sign, columns=columns)
