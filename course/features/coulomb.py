"""Coulomb-matrix family: plain, row-norm-sorted, eigenvalue spectrum and Bag of Bonds.

Coulomb matrix (Rupp et al., PRL 108, 058301, 2012): M_II = 0.5 Z_I^2.4 (a fit to free-atom
energies in Hartree) and M_IJ = Z_I Z_J / |R_I - R_J| (nuclear repulsion). Coordinates are always
given in angstrom; ``unit`` picks the length unit of |R_I - R_J|. With ``unit="bohr"`` the
off-diagonal entries are in Hartree, as in Rupp's paper; with ``unit="angstrom"`` they are in
e^2/angstrom (Hartree x 0.529...) while the diagonal stays the same, as in many packages.

The plain matrix depends on the atom order; sorting rows and columns by row norm (Montavon et
al. 2012), its eigenvalues (Rupp et al.) and Bag of Bonds (Hansen et al., JPCL 6, 2326, 2015)
do not. Every function takes many molecules at once, either as per-molecule lists of atomic
numbers ``Z`` and coordinates ``R`` or as concatenated arrays with CSR ``offsets`` (length
M + 1, molecule k owns rows ``offsets[k]:offsets[k+1]``), and works on all molecules of one
size in one numpy call, so all of QM9 takes seconds.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from course.features.layout import MAX_ATOMS

BOHR_IN_ANGSTROM = 0.529177210903  # CODATA 2018
UNITS = ("angstrom", "bohr")

ArrayList = Sequence[np.ndarray] | np.ndarray


def _concatenated(Z: ArrayList, R: ArrayList, offsets: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Z (N,), R (N, 3) float64, offsets (M+1,)) from either input form, with checks."""
    if offsets is None:
        if len(Z) != len(R):
            raise ValueError(f"got {len(Z)} atomic-number arrays but {len(R)} coordinate arrays")
        for k, (z, r) in enumerate(zip(Z, R)):
            if len(z) != len(r):
                raise ValueError(f"molecule {k}: {len(z)} atomic numbers but {len(r)} positions")
        offsets = np.concatenate([[0], np.cumsum([len(z) for z in Z])])
        Z = np.concatenate([np.asarray(z) for z in Z]) if len(Z) else np.zeros(0)
        R = np.concatenate([np.asarray(r, dtype=np.float64).reshape(-1, 3) for r in R]) if len(R) else np.zeros((0, 3))
    offsets = np.asarray(offsets, dtype=np.int64)
    Z = np.asarray(Z, dtype=np.int64)
    R = np.asarray(R, dtype=np.float64)
    if offsets.ndim != 1 or len(offsets) < 1 or offsets[0] != 0 or offsets[-1] != len(Z) or np.any(np.diff(offsets) < 1):
        raise ValueError("offsets must rise strictly from 0 to the number of atoms (length M + 1)")
    if R.shape != (len(Z), 3):
        raise ValueError(f"coordinates must have shape ({len(Z)}, 3), got {R.shape}")
    if np.any(Z < 1):
        k = int(np.searchsorted(offsets, np.flatnonzero(Z < 1)[0], side="right") - 1)
        raise ValueError(f"molecule {k}: atomic numbers must be positive")
    return Z, R, offsets


def _by_size(Z: np.ndarray, R: np.ndarray, offsets: np.ndarray, unit: str) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """For each molecule size n: (molecule indices (G,), Z (G, n), Coulomb matrices (G, n, n))."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}, got {unit!r}")
    scale = 1.0 if unit == "angstrom" else 1.0 / BOHR_IN_ANGSTROM
    sizes = np.diff(offsets)
    for n in np.unique(sizes):
        mols = np.flatnonzero(sizes == n)
        rows = offsets[mols, None] + np.arange(n)
        z = Z[rows].astype(np.float64)
        r = R[rows] * scale
        dist = np.sqrt(((r[:, :, None, :] - r[:, None, :, :]) ** 2).sum(-1))
        off = ~np.eye(n, dtype=bool)
        if np.any(dist[:, off] == 0):
            k = int(mols[np.flatnonzero((dist[:, off] == 0).any(1))[0]])
            raise ValueError(f"molecule {k}: two atoms sit at the same position")
        with np.errstate(divide="ignore"):
            m = z[:, :, None] * z[:, None, :] / dist
        m[:, np.arange(n), np.arange(n)] = 0.5 * z ** 2.4
        yield mols, Z[rows], m


def _check_size(offsets: np.ndarray, size: int) -> None:
    sizes = np.diff(offsets)
    if np.any(sizes > size):
        k = int(np.flatnonzero(sizes > size)[0])
        raise ValueError(f"molecule {k} has {sizes[k]} atoms > size={size}")


def _sort_by_row_norm(m: np.ndarray) -> np.ndarray:
    order = np.argsort(-np.linalg.norm(m, axis=2), axis=1, kind="stable")
    g = np.arange(len(m))[:, None, None]
    return m[g, order[:, :, None], order[:, None, :]]


def coulomb_matrices(Z: ArrayList, R: ArrayList, offsets: np.ndarray | None = None, *, size: int = MAX_ATOMS,
                     unit: str = "angstrom", sort: bool = False) -> np.ndarray:
    """Coulomb matrices (M, size, size) float64, zero-padded at the bottom right.

    ``sort=True`` orders rows and columns by descending row norm (ties keep input order),
    which makes the matrix independent of atom order.
    """
    Z, R, offsets = _concatenated(Z, R, offsets)
    _check_size(offsets, size)
    out = np.zeros((len(offsets) - 1, size, size))
    for mols, _, m in _by_size(Z, R, offsets, unit):
        n = m.shape[1]
        out[mols, :n, :n] = _sort_by_row_norm(m) if sort else m
    return out


def coulomb_eigenvalues(Z: ArrayList, R: ArrayList, offsets: np.ndarray | None = None, *, size: int = MAX_ATOMS,
                        unit: str = "angstrom") -> np.ndarray:
    """Eigenvalue spectra (M, size) float64: each molecule's n eigenvalues in descending order,
    then size - n zeros (padding is appended, not sorted in, as negative eigenvalues occur)."""
    Z, R, offsets = _concatenated(Z, R, offsets)
    _check_size(offsets, size)
    out = np.zeros((len(offsets) - 1, size))
    for mols, _, m in _by_size(Z, R, offsets, unit):
        out[mols, :m.shape[1]] = np.linalg.eigvalsh(m)[:, ::-1]
    return out


class BagOfBonds:
    """Bag of Bonds (Hansen et al. 2015): Coulomb-matrix entries grouped into bags, sorted.

    One bag per element (the diagonal entries 0.5 Z^2.4 of its atoms) and one per element pair
    (a, b), a <= b (the entries Z_a Z_b / r of all such atom pairs). Within a bag the values are
    sorted in descending order and zero-padded to the bag's size, which :meth:`fit` takes as the
    largest count in a reference set of molecules. Bags are ordered: element bags by Z, then
    pair bags by (a, b); ``bags`` and ``bag_sizes`` say which columns belong to which bag.
    """

    def __init__(self, unit: str = "angstrom"):
        if unit not in UNITS:
            raise ValueError(f"unit must be one of {UNITS}, got {unit!r}")
        self.unit = unit
        self.bags: list[tuple[int, ...]] = []
        self.bag_sizes: list[int] = []

    @property
    def n_features(self) -> int:
        return int(sum(self.bag_sizes))

    def fit(self, Z: ArrayList, offsets: np.ndarray | None = None) -> BagOfBonds:
        """Fix the bags and their sizes from the atomic numbers of a reference set."""
        if offsets is None:
            offsets = np.concatenate([[0], np.cumsum([len(z) for z in Z])])
            Z = np.concatenate([np.asarray(z) for z in Z])
        Z, _, offsets = _concatenated(Z, np.zeros((len(Z), 3)), offsets)
        elements = np.unique(Z)
        mol = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
        counts = np.zeros((len(offsets) - 1, len(elements)), np.int64)
        np.add.at(counts, (mol, np.searchsorted(elements, Z)), 1)
        self.bags, self.bag_sizes = [], []
        for i, a in enumerate(elements):
            self.bags.append((int(a),))
            self.bag_sizes.append(int(counts[:, i].max()))
        for i, a in enumerate(elements):
            for j in range(i, len(elements)):
                pairs = counts[:, i] * (counts[:, i] - 1) // 2 if i == j else counts[:, i] * counts[:, j]
                if pairs.max() > 0:
                    self.bags.append((int(a), int(elements[j])))
                    self.bag_sizes.append(int(pairs.max()))
        return self

    def transform(self, Z: ArrayList, R: ArrayList, offsets: np.ndarray | None = None) -> np.ndarray:
        """Bag-of-Bonds vectors (M, n_features) float64."""
        if not self.bags:
            raise RuntimeError("call fit() before transform()")
        Z, R, offsets = _concatenated(Z, R, offsets)
        top = max(int(Z.max()), max(max(bag) for bag in self.bags)) + 1
        diag_bag, pair_bag = np.full(top, -1), np.full((top, top), -1)
        for i, bag in enumerate(self.bags):
            if len(bag) == 1:
                diag_bag[bag[0]] = i
            else:
                pair_bag[bag] = pair_bag[bag[::-1]] = i
        start = np.concatenate([[0], np.cumsum(self.bag_sizes)])
        out = np.zeros((len(offsets) - 1, self.n_features))
        for mols, z, m in _by_size(Z, R, offsets, self.unit):
            n = z.shape[1]
            iu, ju = np.triu_indices(n, k=1)
            bag = np.concatenate([diag_bag[z], pair_bag[z[:, iu], z[:, ju]]], axis=1)  # (G, T)
            value = np.concatenate([m[:, np.arange(n), np.arange(n)], m[:, iu, ju]], axis=1)
            if np.any(bag < 0):
                g, t = np.argwhere(bag < 0)[0]
                what = f"element {int(z[g, t])}" if t < n else f"element pair {(int(z[g, iu[t - n]]), int(z[g, ju[t - n]]))}"
                raise ValueError(f"molecule {mols[g]}: {what} has no bag; fit() never saw it")
            # Per molecule (row): sort by value descending, then stably by bag; rank within each bag.
            by_value = np.argsort(-value, axis=1, kind="stable")
            bag, value = np.take_along_axis(bag, by_value, 1), np.take_along_axis(value, by_value, 1)
            by_bag = np.argsort(bag, axis=1, kind="stable")
            bag, value = np.take_along_axis(bag, by_bag, 1), np.take_along_axis(value, by_bag, 1)
            position = np.broadcast_to(np.arange(bag.shape[1]), bag.shape)
            new_run = np.ones(bag.shape, bool)
            new_run[:, 1:] = bag[:, 1:] != bag[:, :-1]
            rank = position - np.maximum.accumulate(np.where(new_run, position, 0), axis=1)
            full = rank >= np.asarray(self.bag_sizes)[bag]
            if np.any(full):
                g, t = np.argwhere(full)[0]
                raise ValueError(f"molecule {mols[g]}: bag {self.bags[bag[g, t]]} holds more entries "
                                 f"than the {self.bag_sizes[bag[g, t]]} seen by fit()")
            out[mols[:, None], start[bag] + rank] = value
        return out
