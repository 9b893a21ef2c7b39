"""Weight-space symmetries of the tanh network: permuting hidden units, and flipping the sign of a
unit's incoming weights, bias and outgoing weight (tanh is odd), leave every prediction unchanged.

So each minimum has ``|G| = h! 2^h`` copies, and two minima can only be compared after both are
put in one representative form (:func:`canonical`) or one is moved onto the other (:func:`align`).
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator
from math import factorial

import numpy as np
from scipy.optimize import linear_sum_assignment

from course.landscape.network import pack, unpack


def group_order(n_hidden: int) -> int:
    """``|G| = h! 2^h``, the number of weight vectors equivalent to one (for distinct units).

    >>> group_order(3)
    48
    """
    return factorial(n_hidden) * 2**n_hidden


def group_elements(n_hidden: int) -> Iterator[tuple[tuple[int, ...], np.ndarray]]:
    """Every ``(permutation, signs)`` of the group, for brute-force checks on small networks.

    >>> sum(1 for _ in group_elements(2))
    8
    """
    for perm in itertools.permutations(range(n_hidden)):
        for signs in itertools.product((1.0, -1.0), repeat=n_hidden):
            yield perm, np.array(signs)


def _units(theta: np.ndarray, n_inputs: int, n_hidden: int) -> tuple[np.ndarray, float]:
    """Rows ``[W_j, b_j, v_j]``, one per hidden unit, and the output bias ``c``."""
    W, b, v, c = unpack(theta, n_inputs, n_hidden)
    return np.column_stack([W, b, v]), c


def _from_units(units: np.ndarray, c: float) -> np.ndarray:
    return pack(units[:, :-2], units[:, -2], units[:, -1], c)


def transform(theta: np.ndarray, n_inputs: int, n_hidden: int, perm: tuple[int, ...] | np.ndarray,
              signs: np.ndarray) -> np.ndarray:
    """Apply one group element: new unit ``j`` is old unit ``perm[j]`` times ``signs[j]``.

    >>> theta = pack([[1.0], [2.0]], [0.0, 0.0], [3.0, 4.0], 0.0)
    >>> transform(theta, 1, 2, (1, 0), np.array([1.0, -1.0])).tolist()
    [2.0, -1.0, 0.0, -0.0, 4.0, -3.0, 0.0]
    """
    units, c = _units(theta, n_inputs, n_hidden)
    return _from_units(units[list(perm)] * np.asarray(signs, dtype=float)[:, None], c)


def canonical(theta: np.ndarray, n_inputs: int, n_hidden: int) -> np.ndarray:
    """The representative of ``theta``'s orbit: every ``v_j >= 0``, units sorted by ``v`` descending.

    Why: the std of a weight across minima only means something if unit 1 is "the same unit" in
    each. Ties (a unit with ``v_j = 0``, equal ``v``) are broken by the unit's first nonzero
    weight and then lexicographically, so the form is unique for any input.

    >>> canonical(pack([[1.0], [2.0]], [0.5, 0.0], [-3.0, 4.0], 0.1), 1, 2).tolist()
    [2.0, -1.0, 0.0, -0.5, 4.0, 3.0, 0.1]
    """
    units, c = _units(theta, n_inputs, n_hidden)
    # sign from v_j, or from the first nonzero entry when v_j is zero
    order = np.roll(np.arange(units.shape[1]), 1)       # v first, then W, b
    reordered = units[:, order]
    first = np.argmax(reordered != 0, axis=1)
    lead = reordered[np.arange(n_hidden), first]
    units = units * np.where(lead < 0, -1.0, 1.0)[:, None]
    keys = units[:, order]
    rank = np.lexsort(tuple(-keys[:, k] for k in reversed(range(keys.shape[1]))))
    return _from_units(units[rank], c)


def align(reference: np.ndarray, theta: np.ndarray, n_inputs: int, n_hidden: int) -> np.ndarray:
    """The copy of ``theta`` in its orbit that is closest (Euclidean) to ``reference``.

    The squared distance splits into one term per hidden unit, each unit's sign can be chosen on
    its own, so the best element is an assignment problem on ``cost[j, k] = min_s |r_j - s u_k|^2``
    (Hungarian algorithm, ``O(h^3)`` instead of ``h! 2^h``).

    >>> ref = pack([[1.0], [2.0]], [0.0, 0.0], [1.0, 1.0], 0.0)
    >>> align(ref, transform(ref, 1, 2, (1, 0), np.array([-1.0, 1.0])), 1, 2).tolist() == ref.tolist()
    True
    """
    ref_units, _ = _units(reference, n_inputs, n_hidden)
    units, c = _units(theta, n_inputs, n_hidden)
    plus = ((ref_units[:, None, :] - units[None, :, :]) ** 2).sum(axis=2)
    minus = ((ref_units[:, None, :] + units[None, :, :]) ** 2).sum(axis=2)
    rows, cols = linear_sum_assignment(np.minimum(plus, minus))
    signs = np.where(minus[rows, cols] < plus[rows, cols], -1.0, 1.0)
    return transform(theta, n_inputs, n_hidden, cols, signs)


def distance(a: np.ndarray, b: np.ndarray, n_inputs: int, n_hidden: int) -> float:
    """Distance between two minima with the symmetry taken out: ``|a - align(a, b)|``.

    Why: two L-BFGS runs that end in copies of one minimum must count as one minimum.

    >>> a = pack([[1.0], [2.0]], [0.0, 0.0], [1.0, 3.0], 0.0)
    >>> distance(a, transform(a, 1, 2, (1, 0), np.array([-1.0, -1.0])), 1, 2)
    0.0
    """
    return float(np.linalg.norm(np.asarray(a, dtype=float) - align(a, b, n_inputs, n_hidden)))
