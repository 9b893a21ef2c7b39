"""Molecular Graph features checked on molecules small enough to reason about by hand."""
import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import AllChem, rdCIPLabeler, rdDetermineBonds

from course.features import graph
from course.features.graph import ATOM_FEATURES, FEATURE_TYPES, PAIR_FEATURES, GraphBatch, featurize, featurize_many

A = {name: i for i, name in enumerate(ATOM_FEATURES)}
P = {name: i for i, name in enumerate(PAIR_FEATURES)}
WATER_XYZ = np.array([[0.0, 0.0, 0.1173], [0.0, 0.7572, -0.4692], [0.0, -0.7572, -0.4692]])


def embedded(smiles: str) -> Chem.Mol:
    """Molecule with explicit hydrogens and a seeded 3-D conformer; heavy atoms keep SMILES order."""
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    assert AllChem.EmbedMolecule(mol, randomSeed=42) == 0
    mol.SetProp("_Name", smiles)
    return mol


def water() -> Chem.Mol:
    block = "3\nwater\n" + "\n".join(f"{s} {x} {y} {z}" for s, (x, y, z) in zip("OHH", WATER_XYZ))
    mol = Chem.MolFromXYZBlock(block)
    rdDetermineBonds.DetermineBonds(mol, charge=0)
    return mol


def atom_feature(g, i, *names):
    return [g.atoms[i, A[n]] for n in names]


# ---------------------------------------------------------------- feature names and types

def test_feature_names_and_types_match_seed_tables():
    assert len(ATOM_FEATURES) == 21 and len(PAIR_FEATURES) == 13
    assert len(set(ATOM_FEATURES + PAIR_FEATURES)) == 34
    sizes = {}
    for name in ATOM_FEATURES + PAIR_FEATURES:
        sizes[FEATURE_TYPES[name]] = sizes.get(FEATURE_TYPES[name], 0) + 1
    assert sizes == {  # "Size" column of seed 001, Tables 1 and 2
        "atom type": 5, "chirality": 2, "formal charge": 1, "partial charge": 1, "ring size": 6,
        "hybridization": 3, "H-bonding": 2, "aromaticity": 1,
        "bond type": 4, "graph distance": 7, "same ring": 1, "spatial distance": 1,
    }


# ---------------------------------------------------------------- water, from XYZ

def test_water_atoms():
    g = featurize(water())
    assert g.atoms.shape == (3, 21) and g.atoms.dtype == np.float32
    o = dict(zip(ATOM_FEATURES, g.atoms[0]))
    assert [o[f"type_{e}"] for e in "HCNOF"] == [0, 0, 0, 1, 0]
    assert o["hybridization_sp3"] == 1 and o["hybridization_sp2"] == o["hybridization_sp"] == 0
    assert o["hbond_donor"] == 1 and o["hbond_acceptor"] == 1
    assert o["aromatic"] == 0 and o["formal_charge"] == 0 and o["chirality_R"] == o["chirality_S"] == 0
    for h in (1, 2):
        assert g.atoms[h, A["type_H"]] == 1
        # hydrogens: no hybridization, never donor/acceptor themselves
        assert atom_feature(g, h, "hybridization_sp", "hybridization_sp2", "hybridization_sp3",
                            "hbond_donor", "hbond_acceptor") == [0] * 5
    assert g.atoms[:, A["ring_size_3"]:A["ring_size_8"] + 1].sum() == 0


def test_water_pairs_and_distances_against_numpy():
    g = featurize(water())
    assert g.pairs.shape == (3, 3, 13) and g.pairs.dtype == np.float32
    oh, hh = g.pairs[0, 1], g.pairs[1, 2]
    assert oh[P["bond_single"]] == 1 and oh[P["bond_double"]] == 0
    assert list(oh[P["graph_distance_le_1"]:P["graph_distance_le_7"] + 1]) == [1] * 7
    assert hh[:4].sum() == 0  # H...H not bonded
    assert list(hh[P["graph_distance_le_1"]:P["graph_distance_le_7"] + 1]) == [0] + [1] * 6
    assert g.pairs[..., P["same_ring"]].sum() == 0
    ref = np.linalg.norm(WATER_XYZ[:, None] - WATER_XYZ[None], axis=-1)
    np.testing.assert_allclose(g.pairs[..., P["spatial_distance"]], ref, atol=1e-5)
    np.testing.assert_allclose(g.pairs[0, 1, -1], np.hypot(0.7572, 0.5865), atol=1e-4)  # by hand
    assert np.all(g.pairs[np.arange(3), np.arange(3)] == 0)  # i == j: no pair features
    np.testing.assert_array_equal(g.pairs, g.pairs.transpose(1, 0, 2))


def test_gasteiger_charges_neutral_and_charged():
    g = featurize(water())
    q = g.atoms[:, A["partial_charge"]]
    assert q[0] < 0 < q[1] and q[1] == pytest.approx(q[2])
    for smiles in ("CCO", "c1ccccc1", "CC(N)=O", "FC#N"):
        assert featurize(embedded(smiles)).atoms[:, A["partial_charge"]].sum() == pytest.approx(0, abs=1e-5)
    ion = featurize(embedded("C[NH3+]"))
    assert ion.atoms[1, A["formal_charge"]] == 1 and ion.atoms[:, A["formal_charge"]].sum() == 1
    assert ion.atoms[:, A["partial_charge"]].sum() == pytest.approx(1, abs=1e-5)
    assert atom_feature(ion, 1, "hbond_donor", "hbond_acceptor") == [1, 0]  # N+ has no lone pair


# ---------------------------------------------------------------- benzene and rings

def test_benzene_aromatic_ring_sp2():
    mol = embedded("c1ccccc1")
    g = featurize(mol)
    carbons, hydrogens = range(6), range(6, 12)
    for c in carbons:
        assert atom_feature(g, c, "type_C", "aromatic", "ring_size_6", "hybridization_sp2") == [1, 1, 1, 1]
        assert g.atoms[c, A["ring_size_3"]:A["ring_size_8"] + 1].sum() == 1
        assert atom_feature(g, c, "hbond_donor", "hbond_acceptor") == [0, 0]
    for h in hydrogens:
        assert atom_feature(g, h, "aromatic", "ring_size_6") == [0, 0]
    q = g.atoms[:, A["partial_charge"]]
    assert np.ptp(q[:6]) < 1e-6 and np.ptp(q[6:]) < 1e-6 and q[0] < 0 < q[6]
    ring_bonds = [(i, (i + 1) % 6) for i in range(6)]
    for i, j in ring_bonds:
        assert list(g.pairs[i, j, :4]) == [0, 0, 0, 1]
    assert int(g.pairs[..., P["bond_aromatic"]].sum()) == 2 * len(ring_bonds)
    para = g.pairs[0, 3]  # three bonds apart
    assert list(para[P["graph_distance_le_1"]:P["graph_distance_le_7"] + 1]) == [0, 0, 1, 1, 1, 1, 1]
    same = g.pairs[..., P["same_ring"]]
    assert same[:6, :6].sum() == 30 and same[6:].sum() == 0 and same[:, 6:].sum() == 0
    xyz = np.array([list(mol.GetConformer().GetAtomPosition(i)) for i in range(12)])
    for i in range(12):
        for j in range(12):
            assert g.pairs[i, j, -1] == pytest.approx(np.sqrt(((xyz[i] - xyz[j]) ** 2).sum()), abs=1e-5)


@pytest.mark.parametrize("size", [3, 4, 5, 6, 7, 8])
def test_cycloalkane_ring_size(size):
    g = featurize(embedded("C1" + "C" * (size - 1) + "1"))
    rings = g.atoms[:, A["ring_size_3"]:A["ring_size_8"] + 1]
    expected = np.zeros(6)
    expected[size - 3] = 1
    np.testing.assert_array_equal(rings[:size], np.tile(expected, (size, 1)))
    assert rings[size:].sum() == 0  # hydrogens are in no ring
    assert g.atoms[:size, A["hybridization_sp3"]].sum() == size


def test_spiro_counts_two_rings_and_same_ring_stays_within_each():
    g = featurize(embedded("C1CC12CC2"))  # spiro[2.2]pentane: atom 2 is the spiro centre
    assert list(g.atoms[:5, A["ring_size_3"]]) == [1, 1, 2, 1, 1]
    same = g.pairs[:5, :5, P["same_ring"]]
    expected = np.array([[0, 1, 1, 0, 0], [1, 0, 1, 0, 0], [1, 1, 0, 1, 1], [0, 0, 1, 0, 1], [0, 0, 1, 1, 0]])
    np.testing.assert_array_equal(same, expected)


def test_fused_rings_naphthalene():
    g = featurize(embedded("c1ccc2ccccc2c1"))  # fusion atoms 3 and 8
    assert list(g.atoms[:10, A["ring_size_6"]]) == [1, 1, 1, 2, 1, 1, 1, 1, 2, 1]
    assert g.atoms[:, A["ring_size_3"]:A["ring_size_5"] + 1].sum() == 0
    same = g.pairs[..., P["same_ring"]]
    assert same[0, 3] == same[0, 8] == same[3, 5] == 1
    assert same[0, 5] == same[1, 6] == 0
    assert same[3, 8] == 1 and g.pairs[3, 8, P["bond_aromatic"]] == 1


# ---------------------------------------------------------------- chirality

def stripped_of_stereo(smiles: str) -> Chem.Mol:
    """Embedded molecule whose only stereo information left is its 3-D conformer."""
    mol = embedded(smiles)
    Chem.RemoveStereochemistry(mol)
    return mol


def mirrored(mol: Chem.Mol) -> Chem.Mol:
    mol = Chem.Mol(mol)
    conf = mol.GetConformer()
    for i in range(mol.GetNumAtoms()):
        p = conf.GetAtomPosition(i)
        conf.SetAtomPosition(i, (p.x, p.y, -p.z))
    return mol


def test_chirality_of_2_fluorobutane_from_3d():
    # C[C@@H](F)CC: seen from the methyl, H -> F -> ethyl run clockwise. With H to the back,
    # methyl -> F -> ethyl is clockwise, i.e. F(1) -> ethyl(2) -> methyl(3) clockwise: R.
    r = featurize(stripped_of_stereo("C[C@@H](F)CC"))
    assert atom_feature(r, 1, "chirality_R", "chirality_S") == [1, 0]
    assert r.atoms[:, A["chirality_R"]].sum() == 1 and r.atoms[:, A["chirality_S"]].sum() == 0
    s = featurize(mirrored(stripped_of_stereo("C[C@@H](F)CC")))
    assert atom_feature(s, 1, "chirality_R", "chirality_S") == [0, 1]
    assert atom_feature(featurize(stripped_of_stereo("C[C@H](F)CC")), 1, "chirality_R", "chirality_S") == [0, 1]


def test_chirality_of_l_alanine_is_s():
    g = featurize(stripped_of_stereo("N[C@@H](C)C(=O)O"))  # L-alanine, (S) by the textbooks
    assert atom_feature(g, 1, "chirality_R", "chirality_S") == [0, 1]
    assert g.atoms[:, A["chirality_R"]:A["chirality_S"] + 1].sum() == 1


def test_pseudoasymmetric_centres_are_not_chiral():
    g = featurize(embedded("C[C@H]1C[C@@H](C)C1"))  # cis-1,3-dimethylcyclobutane: meso, r/s only
    assert g.atoms[:, A["chirality_R"]:A["chirality_S"] + 1].sum() == 0


def test_chirality_agrees_with_cip_labels_from_smiles_tags():
    """Labels from the 3-D conformer match RDKit's CIP labeller run on the SMILES' own tags.

    Atom 1 of this cyclopropane is pseudo-asymmetric (r/s): RDKit's legacy labeller calls it R.
    """
    smiles = "C[C@H]1[C@@H](O)[C@H]1O"
    reference = Chem.MolFromSmiles(smiles)
    rdCIPLabeler.AssignCIPLabels(reference)
    labels = [a.GetProp("_CIPCode") if a.HasProp("_CIPCode") else "" for a in reference.GetAtoms()]
    assert labels[1] in ("r", "s") and labels[2] in ("R", "S") and labels[4] in ("R", "S")
    g = featurize(stripped_of_stereo(smiles))
    for i, label in enumerate(labels):
        assert atom_feature(g, i, "chirality_R", "chirality_S") == [int(label == "R"), int(label == "S")]


# ---------------------------------------------------------------- heteroatoms, H-bonding, bonds

@pytest.mark.parametrize("smiles, atom, donor, acceptor", [
    ("CN", 1, 1, 1),            # primary amine
    ("CN(C)C", 1, 0, 1),        # tertiary amine: no N-H
    ("CC(N)=O", 2, 1, 0),       # amide N: lone pair conjugated with C=O
    ("CC(N)=O", 3, 0, 1),       # carbonyl O
    ("c1cc[nH]c1", 3, 1, 0),    # pyrrole N: lone pair in the aromatic sextet
    ("c1ccncc1", 3, 0, 1),      # pyridine N
    ("COC", 1, 0, 1),           # ether O
    ("CF", 1, 0, 0),            # organic fluorine: not counted
])
def test_hbond_donor_acceptor(smiles, atom, donor, acceptor):
    g = featurize(embedded(smiles))
    assert atom_feature(g, atom, "hbond_donor", "hbond_acceptor") == [donor, acceptor]


def test_fluoromethane():
    g = featurize(embedded("CF"))
    assert [g.atoms[1, A[f"type_{e}"]] for e in "HCNOF"] == [0, 0, 0, 0, 1]
    assert g.atoms[:, A["type_F"]].sum() == 1
    assert g.atoms[1, A["partial_charge"]] < 0 < g.atoms[0, A["partial_charge"]]
    assert g.pairs[0, 1, P["bond_single"]] == 1


def test_triple_bond_and_sp():
    g = featurize(embedded("CC#N"))  # acetonitrile
    assert list(g.pairs[1, 2, :4]) == [0, 0, 1, 0]
    assert atom_feature(g, 1, "hybridization_sp") == atom_feature(g, 2, "hybridization_sp") == [1]
    assert atom_feature(g, 0, "hybridization_sp3") == [1]
    assert list(g.pairs[0, 1, :4]) == [1, 0, 0, 0]
    assert int(g.pairs[..., P["bond_triple"]].sum()) == 2


def test_double_bond():
    g = featurize(embedded("C=C"))
    assert list(g.pairs[0, 1, :4]) == [0, 1, 0, 0]
    assert atom_feature(g, 0, "hybridization_sp2") == [1]


def test_graph_distances_in_a_chain():
    g = featurize(embedded("CCCCCCCCC"))  # n-nonane; carbon i bonds to i+1
    bits = g.pairs[..., P["graph_distance_le_1"]:P["graph_distance_le_7"] + 1]
    carbon_of = [i for i in range(9)] + [a.GetNeighbors()[0].GetIdx() for a in embedded("CCCCCCCCC").GetAtoms() if a.GetAtomicNum() == 1]
    n = len(carbon_of)
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            hops = abs(carbon_of[i] - carbon_of[j]) + (i >= 9) + (j >= 9)
            if i >= 9 and j >= 9 and carbon_of[i] == carbon_of[j]:
                hops = 2  # two hydrogens on the same carbon
            assert list(bits[i, j]) == [int(hops <= k) for k in range(1, 8)], (i, j, hops)
    assert bits[0, 8].sum() == 0 and list(bits[0, 7]) == [0] * 6 + [1]


# ---------------------------------------------------------------- errors

def test_bad_input_names_the_molecule_and_atom():
    no_h = Chem.MolFromSmiles("CCO")
    AllChem.EmbedMolecule(no_h, randomSeed=1)
    no_h.SetProp("_Name", "ethanol")
    with pytest.raises(ValueError, match=r"ethanol: atom 0 \(C\).*implicit hydrogens"):
        featurize(no_h)
    chloro = embedded("CCl")
    with pytest.raises(ValueError, match=r"CCl: atom 1 \(Cl\)"):
        featurize(chloro)
    with pytest.raises(ValueError, match="3-D conformer"):
        featurize(Chem.AddHs(Chem.MolFromSmiles("C")), name="methane")
    with pytest.raises(ValueError, match="molecule 1"):
        featurize_many([water(), chloro], n_jobs=1, progress=False)


# ---------------------------------------------------------------- batches, padding, storage

@pytest.fixture(scope="module")
def batch_mols():
    return [water(), embedded("c1ccccc1"), embedded("CC#N")]


def test_padding_and_masks(batch_mols):
    batch = featurize_many(batch_mols, n_jobs=1, progress=False)
    out = batch.padded([2, 0], max_atoms=29)
    assert out["atoms"].shape == (2, 29, 21) and out["pairs"].shape == (2, 29, 29, 13)
    assert out["atom_mask"].shape == (2, 29) and out["pair_mask"].shape == (2, 29, 29)
    assert all(v.dtype == np.float32 for v in out.values())
    acn, wat = featurize(batch_mols[2]), featurize(batch_mols[0])
    np.testing.assert_array_equal(out["atoms"][0, :6], acn.atoms)
    np.testing.assert_array_equal(out["pairs"][1, :3, :3], wat.pairs)
    assert out["atoms"][0, 6:].sum() == 0 and out["pairs"][1, 3:].sum() == 0 and out["pairs"][1, :, 3:].sum() == 0
    assert list(out["atom_mask"].sum(1)) == [6, 3]
    assert list(out["pair_mask"].sum((1, 2))) == [6 * 5, 3 * 2]
    assert np.all(out["pair_mask"][:, np.arange(29), np.arange(29)] == 0)
    np.testing.assert_array_equal(out["pair_mask"][1, :3, :3], 1 - np.eye(3))
    with pytest.raises(ValueError, match="molecule 1 has 12 atoms"):
        batch.padded([1], max_atoms=10)
    with pytest.raises(IndexError):
        batch.padded([3])
    again = batch.padded([0, 1, 2, 1])  # every molecule padded, one twice
    for row, k in enumerate([0, 1, 2, 1]):
        n = batch.n_atoms[k]
        np.testing.assert_array_equal(again["pairs"][row, :n, :n], featurize(batch_mols[k]).pairs)
        assert again["pairs"][row, n:].sum() == 0 and again["atom_mask"][row].sum() == n


def test_batch_round_trips(batch_mols, tmp_path):
    serial = featurize_many(batch_mols, n_jobs=1, progress=False)
    parallel = featurize_many(batch_mols, n_jobs=2, progress=False, chunksize=1)
    for k, mol in enumerate(batch_mols):
        one = featurize(mol)
        for b in (serial, parallel):
            np.testing.assert_array_equal(b[k].atoms, one.atoms)
            np.testing.assert_array_equal(b[k].pairs, one.pairs)
    assert list(serial.n_atoms) == [3, 12, 6]
    assert serial.pair_bits.dtype == np.uint8 and serial.distances.dtype == np.float32
    assert serial.pair_bits.shape == (9 + 144 + 36, 12)
    serial.save(tmp_path / "mg.npz")
    back = GraphBatch.load(tmp_path / "mg.npz")
    for name in ("atoms", "pair_bits", "distances", "n_atoms"):
        np.testing.assert_array_equal(getattr(back, name), getattr(serial, name))
    assert graph.MAX_ATOMS == 29
