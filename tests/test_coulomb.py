"""Coulomb matrix, sorted matrix, eigenvalues and Bag of Bonds against hand values and brute force."""
import itertools

import numpy as np
import pytest

from course.features.coulomb import (BOHR_IN_ANGSTROM, BagOfBonds, coulomb_eigenvalues, coulomb_matrices)

H2_Z, H2_R = np.array([1, 1]), np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.74]])
WATER_Z = np.array([8, 1, 1])
WATER_R = np.array([[0.0, 0.0, 0.1173], [0.0, 0.7572, -0.4692], [0.0, -0.7572, -0.4692]])
O_DIAG = 0.5 * 128 * 1.148698355  # 0.5 * 8**2.4 = 0.5 * 2**7 * 2**0.2
R_OH = np.hypot(0.7572, 0.1173 + 0.4692)
R_HH = 2 * 0.7572


def brute_force_cm(z, r):
    """The defining formula, one entry at a time."""
    n = len(z)
    m = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            m[i, j] = 0.5 * z[i] ** 2.4 if i == j else z[i] * z[j] / np.linalg.norm(r[i] - r[j])
    return m


def brute_force_bob(z, r, bags, sizes):
    values = {bag: [] for bag in bags}
    m = brute_force_cm(z, r)
    for i in range(len(z)):
        values[(int(z[i]),)].append(m[i, i])
        for j in range(i + 1, len(z)):
            values[tuple(sorted((int(z[i]), int(z[j]))))].append(m[i, j])
    return np.concatenate([sorted(values[b], reverse=True) + [0.0] * (s - len(values[b])) for b, s in zip(bags, sizes)])


def random_molecules(count, seed=0):
    """Fake molecules of 2..9 atoms from H/C/N/O/F, atoms at least 0.9 A apart."""
    rng = np.random.default_rng(seed)
    Z, R = [], []
    while len(Z) < count:
        n = int(rng.integers(2, 10))
        r = rng.uniform(-2.5, 2.5, (n, 3))
        d = np.linalg.norm(r[:, None] - r[None], axis=-1) + 10 * np.eye(n)
        if d.min() > 0.9:
            Z.append(rng.choice([1, 6, 7, 8, 9], n))
            R.append(r)
    return Z, R


def rotation(seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return q


# ---------------------------------------------------------------- hand values

def test_h2_by_hand_in_angstrom_and_bohr():
    m = coulomb_matrices([H2_Z], [H2_R], size=2)[0]
    np.testing.assert_allclose(m, [[0.5, 1 / 0.74], [1 / 0.74, 0.5]], rtol=1e-12)
    mb = coulomb_matrices([H2_Z], [H2_R], size=2, unit="bohr")[0]
    np.testing.assert_allclose(mb[0, 1], 0.529177210903 / 0.74, rtol=1e-12)  # 0.74 A = 1.398 bohr
    assert mb[0, 0] == m[0, 0] == 0.5  # the diagonal has no length in it
    np.testing.assert_allclose(coulomb_eigenvalues([H2_Z], [H2_R], size=3)[0], [0.5 + 1 / 0.74, 0.5 - 1 / 0.74, 0])


def test_water_by_hand():
    m = coulomb_matrices([WATER_Z], [WATER_R], size=3)[0]
    expected = np.array([[O_DIAG, 8 / R_OH, 8 / R_OH], [8 / R_OH, 0.5, 1 / R_HH], [8 / R_OH, 1 / R_HH, 0.5]])
    np.testing.assert_allclose(m, expected, rtol=1e-8)
    bob = BagOfBonds().fit([WATER_Z])
    assert bob.bags == [(1,), (8,), (1, 1), (1, 8)] and bob.bag_sizes == [2, 1, 1, 2]
    np.testing.assert_allclose(bob.transform([WATER_Z], [WATER_R])[0],
                               [0.5, 0.5, O_DIAG, 1 / R_HH, 8 / R_OH, 8 / R_OH], rtol=1e-8)


def test_bohr_is_angstrom_scaled():
    Z, R = random_molecules(20)
    a = coulomb_matrices(Z, R, size=9)
    b = coulomb_matrices(Z, R, size=9, unit="bohr")
    off = ~np.eye(9, dtype=bool)
    np.testing.assert_allclose(b[:, off], a[:, off] * BOHR_IN_ANGSTROM, rtol=1e-12)
    np.testing.assert_array_equal(b[:, ~off], a[:, ~off])
    # coordinates handed over in bohr with unit="angstrom" give the same numbers
    np.testing.assert_allclose(coulomb_matrices(Z, [r / BOHR_IN_ANGSTROM for r in R], size=9), b, rtol=1e-12)
    with pytest.raises(ValueError, match="unit"):
        coulomb_matrices(Z, R, unit="nm")


# ---------------------------------------------------------------- many molecules at once

def test_vectorised_matches_brute_force_and_input_forms():
    Z, R = random_molecules(40)
    many = coulomb_matrices(Z, R, size=12)
    offsets = np.concatenate([[0], np.cumsum([len(z) for z in Z])])
    flat = coulomb_matrices(np.concatenate(Z), np.concatenate(R), offsets, size=12)
    np.testing.assert_array_equal(many, flat)
    for k, (z, r) in enumerate(zip(Z, R)):
        n = len(z)
        np.testing.assert_allclose(many[k, :n, :n], brute_force_cm(z, r), rtol=1e-12)
        assert not many[k, n:].any() and not many[k, :, n:].any()  # padding
        eig = coulomb_eigenvalues([z], [r], size=12)[0]
        np.testing.assert_allclose(eig[:n], np.sort(np.linalg.eigvals(brute_force_cm(z, r)).real)[::-1], atol=1e-9)
        assert not eig[n:].any()


def test_padding_sizes_and_errors():
    assert coulomb_matrices([WATER_Z], [WATER_R]).shape == (1, 29, 29)
    assert coulomb_eigenvalues([WATER_Z], [WATER_R]).shape == (1, 29)
    with pytest.raises(ValueError, match="molecule 1 has 3 atoms > size=2"):
        coulomb_matrices([H2_Z, WATER_Z], [H2_R, WATER_R], size=2)
    with pytest.raises(ValueError, match="molecule 0: 3 atomic numbers but 2 positions"):
        coulomb_matrices([WATER_Z], [H2_R])
    with pytest.raises(ValueError, match="molecule 1: two atoms sit at the same position"):
        coulomb_matrices([H2_Z, H2_Z], [H2_R, np.zeros((2, 3))])
    with pytest.raises(ValueError, match="offsets"):
        coulomb_matrices(WATER_Z, WATER_R, np.array([0, 2]))


# ---------------------------------------------------------------- invariances

@pytest.fixture(scope="module")
def molecule():
    """The first fake molecule with at least 7 atoms."""
    Z, R = random_molecules(50, seed=7)
    k = next(k for k, z in enumerate(Z) if len(z) >= 7)
    return Z[k], R[k]


def moved(z, r, seed):
    perm = np.random.default_rng(seed).permutation(len(z))
    return z[perm], (r @ rotation(seed).T + np.array([1.5, -3.0, 0.25]))[perm], perm


def test_plain_matrix_follows_the_permutation(molecule):
    z, r = molecule
    z2, r2, perm = moved(z, r, 1)
    assert not np.array_equal(perm, np.arange(len(z)))
    n = len(z)
    m = coulomb_matrices([z], [r], size=n)[0]
    m2 = coulomb_matrices([z2], [r2], size=n)[0]
    assert np.abs(m2 - m).max() > 1e-3  # the plain matrix is not permutation invariant...
    np.testing.assert_allclose(m2, m[np.ix_(perm, perm)], rtol=1e-10)  # ...it permutes along


def test_sorted_eigenvalues_and_bob_are_invariant(molecule):
    z, r = molecule
    bob = BagOfBonds().fit([z])
    ref = (coulomb_matrices([z], [r], sort=True), coulomb_eigenvalues([z], [r]), bob.transform([z], [r]))
    norms = np.linalg.norm(ref[0][0], axis=1)[:len(z)]
    assert np.all(np.diff(norms) <= 0)  # rows sorted by descending norm
    for seed in range(1, 6):
        z2, r2, _ = moved(z, r, seed)
        got = (coulomb_matrices([z2], [r2], sort=True), coulomb_eigenvalues([z2], [r2]), bob.transform([z2], [r2]))
        for a, b in zip(ref, got):
            np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------- Bag of Bonds

def test_bob_matches_brute_force_on_many_molecules():
    Z, R = random_molecules(60, seed=3)
    bob = BagOfBonds(unit="bohr").fit(Z)
    counts = [{e: int((z == e).sum()) for e in (1, 6, 7, 8, 9)} for z in Z]
    for bag, size in zip(bob.bags, bob.bag_sizes):  # sizes: the largest count in the fit set
        if len(bag) == 1:
            assert size == max(c[bag[0]] for c in counts)
        elif bag[0] == bag[1]:
            assert size == max(c[bag[0]] * (c[bag[0]] - 1) // 2 for c in counts)
        else:
            assert size == max(c[bag[0]] * c[bag[1]] for c in counts)
    assert bob.bags == sorted(bob.bags, key=lambda b: (len(b), b))
    vectors = bob.transform(Z, R)
    assert vectors.shape == (60, bob.n_features)
    bohr = [r / BOHR_IN_ANGSTROM for r in R]
    for k in range(60):
        np.testing.assert_allclose(vectors[k], brute_force_bob(Z[k], bohr[k], bob.bags, bob.bag_sizes), rtol=1e-12)


def test_bob_errors():
    bob = BagOfBonds().fit([H2_Z])
    with pytest.raises(ValueError, match="molecule 1: element 8 has no bag"):
        bob.transform([H2_Z, WATER_Z], [H2_R, WATER_R])
    three_h = np.array([1, 1, 1]), np.array([[0, 0, 0], [0, 0, 1.0], [0, 1.0, 0]])
    with pytest.raises(ValueError, match=r"molecule 0: bag \(1,\) holds more entries than the 2"):
        bob.transform([three_h[0]], [three_h[1]])
    with pytest.raises(RuntimeError, match="fit"):
        BagOfBonds().transform([H2_Z], [H2_R])


def test_permutations_exhaustively_on_water():
    """Every atom order of water gives the same sorted matrix, spectrum and bag vector."""
    bob = BagOfBonds().fit([WATER_Z])
    outs = []
    for perm in itertools.permutations(range(3)):
        p = list(perm)
        outs.append(np.concatenate([coulomb_matrices([WATER_Z[p]], [WATER_R[p]], size=3, sort=True).ravel(),
                                    coulomb_eigenvalues([WATER_Z[p]], [WATER_R[p]], size=3).ravel(),
                                    bob.transform([WATER_Z[p]], [WATER_R[p]]).ravel()]))
    for o in outs[1:]:
        np.testing.assert_allclose(o, outs[0], rtol=1e-12)
