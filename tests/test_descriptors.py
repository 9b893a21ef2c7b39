"""Descriptors checked by hand on small molecules."""
import numpy as np
import pytest
from rdkit import Chem

from course.features.descriptors import descriptor_matrix, morgan_fingerprints


def column(X, names, name):
    return X[:, names.index(name)]


def test_counts_and_weights_by_hand():
    mols = [Chem.AddHs(Chem.MolFromSmiles(s)) for s in ("O", "CCO", "C#N", "c1ccccc1")]
    X, names = descriptor_matrix(mols)
    assert X.shape == (4, len(names)) and np.isfinite(X).all()
    assert column(X, names, "n_H").tolist() == [2, 6, 1, 6]
    assert column(X, names, "n_C").tolist() == [0, 2, 1, 6]
    assert column(X, names, "n_O").tolist() == [1, 1, 0, 0]
    assert column(X, names, "NumTripleBonds").tolist() == [0, 0, 1, 0]
    # water: 2 x 1.008 + 15.999; valence electrons 2 x 1 + 6
    assert column(X, names, "MolWt")[0] == pytest.approx(2 * 1.008 + 15.999, abs=1e-3)
    assert column(X, names, "NumValenceElectrons").tolist() == [8, 20, 10, 30]
    assert column(X, names, "NumAromaticRings").tolist() == [0, 0, 0, 1]
    assert column(X, names, "FractionCSP3")[1] == 1.0


def test_failure_names_the_molecule():
    with pytest.raises(ValueError, match="molecule 1"):
        descriptor_matrix([Chem.MolFromSmiles("C"), None])


def test_morgan_fingerprints_match_rdkit_bit_vectors():
    from rdkit.Chem import AllChem

    mols = [Chem.MolFromSmiles(s) for s in ("CCO", "c1ccccc1O", "N#CC(=O)F")]
    X = morgan_fingerprints(mols, radius=2, n_bits=512)
    assert X.shape == (3, 512) and set(np.unique(X)) <= {0.0, 1.0}
    for row, mol in zip(X, mols):
        reference = AllChem.GetMorganFingerprintAsBitVect(mol, 2, nBits=512)
        assert np.flatnonzero(row).tolist() == list(reference.GetOnBits())
    with pytest.raises(ValueError, match="molecule 1"):
        morgan_fingerprints([mols[0], None])
