"""Shares of relevance per feature type, with bootstrap intervals and a verdict that can say "no difference".

Seed 001 (Aim 2) compares how much of a model's relevance sits on each feature type for two
properties. Two readings of the same (M, 12) table of absolute relevance per type
(:attr:`TypeRelevance.absolute <course.explain.feature_types.TypeRelevance>`) answer two questions:

* :func:`zero_reference_shares` — "how much of the output does the type carry?" LRP measures every
  input against zero, so a zero input gets nothing and a type with many non-zero inputs (a QM9
  molecule has some 1,500 non-zero graph-distance bits and 18 partial charges) collects much of it.
* :func:`per_input_relevance` — "how much does one input of the type carry?" The type's relevance
  is divided by its number of non-zero inputs (:func:`nonzero_inputs`), which removes that count, and
  read against an average non-zero input.

Either way, a share from a few hundred molecules and one trained model is an estimate. :func:`bootstrap`
resamples molecules (percentile intervals, seeded); a difference between two properties explained on
the same molecules is resampled *paired*, with the same molecules for both. :func:`across_models`
turns one estimate per trained model (say, per cross-validation fold) into an interval for their mean,
the spread between training runs. :func:`verdict` reads intervals of a difference: an interval that
covers 0 is "no detectable difference", however the point estimates compare.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from course.explain.feature_types import sum_per_type
from course.models.weave_data import WeaveData

VERDICTS = ("supported", "against", "no detectable difference")


def zero_reference_shares(absolute: np.ndarray) -> np.ndarray:
    """(12,) each type's part of the mean absolute relevance of molecules ``absolute`` (M, 12); sums to 1.

    >>> zero_reference_shares(np.array([[3.0, 1.0], [1.0, 3.0], [2.0, 0.0]])).round(3).tolist()
    [0.6, 0.4]
    """
    mean = np.asarray(absolute, dtype=float).mean(0)
    return mean / mean.sum()


def per_input_relevance(absolute: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(12,) relevance per non-zero input of each type, over that of an average non-zero input:
    (Σ_m R[m, k] / Σ_m n[m, k]) / (Σ_m,k R[m, k] / Σ_m,k n[m, k]).

    ``counts`` (M, 12) are the non-zero inputs of each type of each molecule, on the same scale as
    ``absolute`` (both per atom or both per molecule). 1 means that one input of the type carries as
    much as an average input; the ratio has no unit, so properties in bohr³ and eV compare. It is not
    a share of the sum over types, which a type with a handful of non-zero inputs in the whole data set
    (formal charge in QM9) would swing. A type with no non-zero input here carries nothing and gets 0.
    Columns may be groups of types (sums of their columns). Example: type 0 gets 6 from 6 inputs,
    type 1 gets 2 from 1, against 8 from 7 on average:

    >>> per_input_relevance(np.array([[2.0, 1.0, 0.0], [4.0, 1.0, 0.0]]), np.array([[3, 1, 0], [3, 0, 0]])).round(3)
    array([0.875, 1.75 , 0.   ])
    """
    total, inputs = np.asarray(absolute, dtype=float).sum(0), np.asarray(counts, dtype=float).sum(0)
    per_input = np.divide(total, inputs, out=np.zeros_like(total), where=inputs > 0)
    return per_input / (total.sum() / inputs.sum())


def nonzero_inputs(data: WeaveData, rows: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """(len(rows), 12) number of non-zero input features of each type per atom of molecules ``rows``:
    over the 21 features of every real atom and the 13 of every real ordered pair, divided by the
    number of atoms as in :class:`TypeRelevance <course.explain.feature_types.TypeRelevance>`."""
    rows = np.asarray(rows, dtype=np.int64)
    parts = []
    for chunk in np.array_split(rows, max(1, -(-len(rows) // batch_size))):
        x = data.padded(chunk, max_atoms=int(data.n_atoms[chunk].max()))
        atoms = (x["atoms"] != 0) * x["atom_mask"][..., None]
        pairs = (x["pairs"] != 0) * x["pair_mask"][..., None]
        parts.append(sum_per_type(atoms.astype(float), pairs.astype(float)))
    return np.concatenate(parts) / data.n_atoms[rows, None]


@dataclass(frozen=True)
class Interval:
    """A point ``estimate`` with the ``low`` and ``high`` ends of an interval at ``level`` (arrays or floats)."""

    estimate: np.ndarray
    low: np.ndarray
    high: np.ndarray
    level: float

    def __getitem__(self, index) -> Interval:
        return Interval(self.estimate[index], self.low[index], self.high[index], self.level)

    def __str__(self) -> str:
        return f"{float(self.estimate):.3f} [{float(self.low):.3f}, {float(self.high):.3f}]"


def bootstrap(statistic: Callable[[np.ndarray], np.ndarray], n_molecules: int, n_resamples: int = 2000,
              level: float = 0.95, seed: int = 0) -> Interval:
    """Percentile bootstrap interval of ``statistic(rows)`` over molecules resampled with replacement.

    ``statistic`` takes an array of molecule positions and returns a number or an array; resampled
    positions go to every table it reads, which makes a difference between two properties explained
    on the same molecules a paired one. Example, a mean of 1, 2, ..., 100 (normal theory: 50.5 ± 5.7):

    >>> values = np.arange(1.0, 101.0)
    >>> interval = bootstrap(lambda rows: values[rows].mean(), len(values), seed=1)
    >>> bool(44 < interval.low < 46 and 55 < interval.high < 57)
    True
    """
    rng = np.random.default_rng(seed)
    draws = np.array([statistic(rng.integers(0, n_molecules, n_molecules)) for _ in range(n_resamples)])
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(draws, [tail, 100 - tail], axis=0)
    return Interval(np.asarray(statistic(np.arange(n_molecules))), low, high, level)


def across_models(estimates: Sequence[float] | np.ndarray, level: float = 0.95) -> Interval:
    """Student-t interval for the mean of one estimate per trained model (axis 0): the spread between
    training runs. It needs at least two models. Example, three models:

    >>> print(across_models([0.1, 0.2, 0.3]))
    0.200 [-0.048, 0.448]
    """
    values = np.asarray(estimates, dtype=float)
    if len(values) < 2:
        raise ValueError("an interval across models needs at least two models")
    mean, half = values.mean(0), stats.t.ppf(0.5 + level / 2, len(values) - 1) * stats.sem(values, axis=0)
    return Interval(mean, mean - half, mean + half, level)


def verdict(*differences: Interval) -> str:
    """What intervals of a difference (hypothesized direction positive) say about one hypothesis:
    "supported" when every interval lies above 0, "against" when every one lies below, and
    "no detectable difference" otherwise, in particular when one covers 0.

    >>> verdict(Interval(0.02, 0.01, 0.03, 0.95), Interval(0.02, -0.01, 0.05, 0.95))
    'no detectable difference'
    """
    if not differences:
        raise ValueError("no interval to read")
    if all(d.low > 0 for d in differences):
        return "supported"
    if all(d.high < 0 for d in differences):
        return "against"
    return "no detectable difference"
