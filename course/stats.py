"""Errors over real values only, intervals for estimates from one sample of molecules or one set of
trained models, and the verdict they allow.

:func:`masked_mae` and :func:`relative_error` score predictions of padded targets (a set of
frequencies written into a fixed number of outputs) and compare errors across units.

A number computed on a few hundred test molecules, or from one trained model, is an estimate.
:func:`bootstrap` resamples molecules (percentile intervals, seeded); a difference between two
quantities computed on the same molecules is resampled *paired*, with the same molecules for both.
:func:`across_models` turns one estimate per trained model (say, per cross-validation fold) into an
interval for their mean, the spread between training runs. :func:`verdict` reads intervals of a
difference: one that covers 0 is "no detectable difference", however the point estimates compare.
Modules 5 (feature-type shares) and 8 (relative errors of properties) use them.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

VERDICTS = ("supported", "against", "no detectable difference")


def masked_mae(true: np.ndarray, predicted: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean absolute error over the entries where ``mask`` is positive (all entries without a mask),
    pooled over molecules: whatever padded entries hold does not count (Module 8, Exercise 1).

    >>> masked_mae(np.array([[1.0, 2.0, 0.0], [4.0, 0.0, 0.0]]), np.array([[2.0, 2.0, 50.0], [1.0, -7.0, 3.0]]),
    ...            np.array([[1, 1, 0], [1, 0, 0]]))
    1.3333333333333333
    """
    true, predicted = np.asarray(true, dtype=float), np.asarray(predicted, dtype=float)
    real = np.ones(true.shape, bool) if mask is None else np.asarray(mask) > 0
    return float(np.abs(predicted[real] - true[real]).mean())


def relative_error(true: np.ndarray, predicted: np.ndarray, reference: np.ndarray | float,
                   mask: np.ndarray | None = None) -> float:
    """MAE of ``predicted`` over the MAE of ``reference`` (a training mean, broadcast against
    ``true``), over the real entries of ``mask``: a scale-free error, 1 for a model no better than
    the reference, that compares properties of different units (Module 8, Exercise 3).

    >>> relative_error(np.array([1.0, 3.0]), np.array([1.5, 2.5]), 2.0)
    0.5
    """
    true = np.asarray(true, dtype=float)
    baseline = np.broadcast_to(np.asarray(reference, dtype=float), true.shape)
    return masked_mae(true, predicted, mask) / masked_mae(true, baseline, mask)


@dataclass(frozen=True)
class Interval:
    """A point ``estimate`` with the ``low`` and ``high`` ends of an interval at ``level`` (arrays or floats).

    Indexing an interval of arrays picks one quantity's interval; ``str`` prints a scalar one.

    >>> both = Interval(np.array([0.2, 0.5]), np.array([0.1, 0.4]), np.array([0.3, 0.6]), 0.95)
    >>> print(both[1])
    0.500 [0.400, 0.600]
    """

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
    mean, half = values.mean(0), scipy_stats.t.ppf(0.5 + level / 2, len(values) - 1) * scipy_stats.sem(values, axis=0)
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
