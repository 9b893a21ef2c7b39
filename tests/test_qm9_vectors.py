"""QM9 feature vectors for KRR: right molecules, in the asked order, and the documented layout."""
from types import SimpleNamespace

import numpy as np
import pytest

from course.data.qm9 import positions
from course.features.coulomb import BagOfBonds, coulomb_matrices
from course.features.qm9_vectors import atoms_of, vectors

# Three molecules with QM9 indices 2, 5, 9: H2, water, HF (only what vectors() reads).
FAKE = SimpleNamespace(
    index=np.array([2, 5, 9]),
    Z=np.array([1, 1, 8, 1, 1, 9, 1]),
    R=np.array([[0, 0, 0], [0, 0, 0.74], [0, 0, 0.12], [0, 0.76, -0.47], [0, -0.76, -0.47], [0, 0, 0], [0, 0, 0.92]]),
    offsets=np.array([0, 2, 5, 7]),
)
FAKE.rows = lambda indices: positions(FAKE.index, indices, "QM9")


def test_atoms_of_follows_the_requested_order():
    Z, R, offsets = atoms_of(FAKE, np.array([9, 2]))
    assert Z.tolist() == [9, 1, 1, 1] and offsets.tolist() == [0, 2, 4]
    np.testing.assert_array_equal(R, FAKE.R[[5, 6, 0, 1]])
    with pytest.raises(KeyError, match="not in QM9"):
        atoms_of(FAKE, np.array([2, 3]))


def test_cm_vector_is_the_upper_triangle_of_the_sorted_matrix_in_bohr():
    X = vectors(FAKE, np.array([5]), "cm")
    m = coulomb_matrices([FAKE.Z[2:5]], [FAKE.R[2:5]], unit="bohr", sort=True)[0]
    assert X.shape == (1, 29 * 30 // 2)
    expected = [m[i, j] for i in range(29) for j in range(i, 29)]
    np.testing.assert_allclose(X[0], expected, rtol=1e-15)


def test_bob_bags_come_from_all_molecules():
    X = vectors(FAKE, np.array([2]), "bob")
    bob = BagOfBonds(unit="bohr").fit([FAKE.Z[0:2], FAKE.Z[2:5], FAKE.Z[5:7]])
    np.testing.assert_allclose(X, bob.transform([FAKE.Z[0:2]], [FAKE.R[0:2]]), rtol=1e-15)
    assert X.shape[1] == bob.n_features
    with pytest.raises(ValueError, match="representation"):
        vectors(FAKE, np.array([2]), "soap")
