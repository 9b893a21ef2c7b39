"""Shares of relevance per feature type, two ways, for seed 001's hypothesis (Module 5).

Seed 001 (Aim 2) compares how much of a model's relevance sits on each feature type for two
properties. Two readings of the same (M, 12) table of absolute relevance per type
(:attr:`TypeRelevance.absolute <course.explain.feature_types.TypeRelevance>`) answer two questions:

* :func:`zero_reference_shares` — "how much of the output does the type carry?" LRP measures every
  input against zero, so a zero input gets nothing and a type with many non-zero inputs (a QM9
  molecule has some 1,500 non-zero graph-distance bits and 18 partial charges) collects much of it.
* :func:`per_input_relevance` — "how much does one input of the type carry?" The type's relevance
  is divided by its number of non-zero inputs (:func:`nonzero_inputs`), which removes that count, and
  read against an average non-zero input.

Either way, a share from a few hundred molecules and one trained model is an estimate: the intervals
(over molecules, paired, and across trained models) and the verdict that can say "no detectable
difference" are those of :mod:`course.stats`.
"""
from __future__ import annotations

import numpy as np

from collections.abc import Callable

from course.explain.feature_types import sum_per_type
from course.models.weave_data import WeaveData


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


#: The two readings by name, each mapping (absolute relevance, non-zero inputs), both (M, 12), to one
#: number per type: :func:`zero_reference_shares` (which ignores the counts) and :func:`per_input_relevance`.
READINGS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "zero reference": lambda absolute, counts: zero_reference_shares(absolute),
    "per non-zero input": per_input_relevance,
}
