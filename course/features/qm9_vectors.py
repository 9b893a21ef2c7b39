"""Fixed-length vectors of QM9 molecules for kernel methods: sorted Coulomb matrix and Bag of Bonds.

Both use bohr for |R_I − R_J| (Hartree atomic units, as in Rupp et al. 2012 and Hansen et al.
2015). The sorted Coulomb matrix is symmetric, so its vector is the upper triangle including the
diagonal (29·30/2 = 435 numbers). Bag of Bonds takes its bags and bag sizes from all of QM9, so
every molecule fits and the columns mean the same thing for any subset.
"""
from __future__ import annotations

import numpy as np

from course.data.qm9 import QM9
from course.features.coulomb import MAX_ATOMS, BagOfBonds, coulomb_matrices

REPRESENTATIONS = ("cm", "bob")


def atoms_of(data: QM9, qm9_indices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Z, R, offsets) of the given molecules, in the given order, as concatenated CSR arrays."""
    rows = data.rows(qm9_indices)
    start, stop = data.offsets[rows], data.offsets[rows + 1]
    atoms = np.concatenate([np.arange(a, b) for a, b in zip(start, stop)])
    return data.Z[atoms], data.R[atoms], np.concatenate([[0], np.cumsum(stop - start)])


def vectors(data: QM9, qm9_indices: np.ndarray, representation: str) -> np.ndarray:
    """Feature matrix (M, d) float64 of the molecules ``qm9_indices`` for ``"cm"`` or ``"bob"``."""
    if representation not in REPRESENTATIONS:
        raise ValueError(f"representation must be one of {REPRESENTATIONS}, got {representation!r}")
    Z, R, offsets = atoms_of(data, qm9_indices)
    if representation == "cm":
        upper = np.triu_indices(MAX_ATOMS)
        return coulomb_matrices(Z, R, offsets, unit="bohr", sort=True)[:, upper[0], upper[1]]
    bob = BagOfBonds(unit="bohr").fit(data.Z, data.offsets)
    return bob.transform(Z, R, offsets)
