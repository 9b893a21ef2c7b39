"""Tests of course.data.qm9 and its helpers (parsing, perception, cache, split, read_xyz)."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from rdkit import Chem

from course.data.numbers import NumberFormatError, parse_list, parse_number, parse_triples
from course.data.qm9 import FREE_ATOM_ENERGY_HA, HARTREE_TO_EV, N_MOLECULES, load
from course.data.qm9_source import QM9FormatError, default_source_dir
from course.data.splits import load_folds, make_folds, qm9_indices_from_source
from course.data.xyz import XYZFormatError, read_xyz

N_SUBSET = 30  # first rows of qm9_part1.csv: QM9 indices 1..30


# ---------------------------------------------------------------- number parsing
@pytest.mark.parametrize("text, value", [("0.", 0.0), ("1.", 1.0), ("-.5", -0.5), ("1.2*^-6", 1.2e-6),
                                         ("-3.25*^2", -325.0), ("2.5e-3", 0.0025), ("17", 17.0)])
def test_parse_number_accepts_qm9_formats(text, value):
    assert parse_number(text) == value


@pytest.mark.parametrize("text", ["nan", "inf", "1_0", " 1", "1.2.3", "", "1*^", "e5", "1,5"])
def test_parse_number_rejects_malformed(text):
    with pytest.raises(NumberFormatError, match="qm9_part9.csv, line 7"):
        parse_number(text, "qm9_part9.csv, line 7")


def test_parse_lists():
    assert parse_list("[1.,2*^3,-.5]") == [1.0, 2000.0, -0.5]
    assert parse_list("[]") == []
    assert parse_triples("[[0.,1.,2],[3,4,5*^-1]]") == [0.0, 1.0, 2.0, 3.0, 4.0, 0.5]
    with pytest.raises(NumberFormatError, match="'x'"):
        parse_list("[1,x]", "here")
    with pytest.raises(NumberFormatError, match="rows"):
        parse_triples("[[0.,1.],[3,4,5]]", "here")


# ---------------------------------------------------------------- a small QM9 in tmp_path
def _read_rows(name: str, n: int) -> tuple[list[str], list[list[str]]]:
    with open(default_source_dir() / name, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, [row for _, row in zip(range(n), reader)]


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def make_subset(folder: Path, edit=None) -> Path:
    """Copy the first N_SUBSET molecules into ``folder`` (parts 2 and 3 empty); ``edit`` may
    change the part-1 rows (a list of dicts) first."""
    folder.mkdir(parents=True, exist_ok=True)
    header, rows = _read_rows("qm9_part1.csv", N_SUBSET)
    records = [dict(zip(header, row)) for row in rows]
    if edit:
        edit(records)
    _write(folder / "qm9_part1.csv", header, [[r[c] for c in header] for r in records])
    for name in ("qm9_part2.csv", "qm9_part3.csv"):
        _write(folder / name, header, [])
    pol_header, pol_rows = _read_rows("qm9_polarizability.csv", N_SUBSET)
    _write(folder / "qm9_polarizability.csv", pol_header, pol_rows)
    return folder


def _break_molecules(records: list[dict]) -> None:
    # QM9 index 6 (formaldehyde): claim the SMILES of methanol -> SMILES mismatch.
    records[5]["SMILES"] = "CO"
    # QM9 index 7 (ethane): move one hydrogen 4 Å away -> two fragments.
    coords = json.loads(records[6]["XYZ_Ang"])
    coords[-1] = [c + 4.0 for c in coords[-1]]
    records[6]["XYZ_Ang"] = json.dumps(coords).replace(" ", "")


@pytest.fixture()
def subset(tmp_path):
    source = make_subset(tmp_path / "source", _break_molecules)
    return source, load(tmp_path / "cache", source_dir=source, verbose=False, workers=1)


def test_subset_properties_and_units(subset):
    _, data = subset
    t = data.table
    assert len(t) == N_SUBSET and list(t.index[:3]) == [1, 2, 3]
    # Hand-read from the CSV row of methane (QM9 index 1).
    assert t.loc[1, "U0_Ha"] == -40.47893 and t.loc[1, "mu_D"] == 0.0 and t.loc[1, "alpha_bohr3"] == 13.21
    assert t.loc[1, "homo_eV"] == pytest.approx(-0.3877 * 27.211386)
    assert t.loc[1, "zpve_eV"] == pytest.approx(0.044749 * 27.211386)
    np.testing.assert_allclose(data.coordinates(1)[0], [-0.0126981359, 1.0858041578, 0.0080009958])
    assert list(data.atomic_numbers(1)) == [6, 1, 1, 1, 1]
    np.testing.assert_allclose(data.mulliken(1), [-0.535689, 0.133921, 0.133922, 0.133923, 0.133923])
    assert len(data.frequencies(1)) == 9  # 3N-6 for N=5
    assert len(data.frequencies(4)) == 7  # acetylene is linear: 3N-5
    # QM9 index 4: coordinates written as "0." and "1." in the CSV.
    np.testing.assert_array_equal(data.coordinates(4)[:, 1:], [[0.0, 1.0]] * 4)
    # Isotropic polarizability equals the trace of the tensor / 3 (to the CSV's rounding).
    for idx in t.index:
        assert np.trace(data.polarizability(idx)) / 3 == pytest.approx(t.loc[idx, "alpha_bohr3"], abs=0.02)
    with pytest.raises(KeyError, match=r"not in QM9.*\[31\]"):
        data.coordinates(31)


@pytest.mark.parametrize("idx, u0, atoms", [
    (1, -40.47893, {"C": 1, "H": 4}),   # CH4
    (2, -56.525887, {"N": 1, "H": 3}),  # NH3
    (3, -76.404702, {"O": 1, "H": 2}),  # H2O
])
def test_atomization_energy_by_hand(subset, idx, u0, atoms):
    _, data = subset
    free = {"H": -0.500273, "C": -37.846772, "N": -54.583861, "O": -75.064579}
    by_hand = u0 - sum(n * free[e] for e, n in atoms.items())
    assert data.table.loc[idx, "U0_atom_Ha"] == pytest.approx(by_hand, abs=1e-9)
    assert data.table.loc[idx, "U0_atom_eV"] == pytest.approx(by_hand * 27.211386, abs=1e-8)
    assert FREE_ATOM_ENERGY_HA[1] == free["H"] and HARTREE_TO_EV == 27.211386


def test_exclusions_reported_with_reasons(subset):
    _, data = subset
    excluded = data.excluded()
    assert list(excluded.index) == [6, 7]
    assert excluded.loc[6, "category"] == "SMILES mismatch" and "C=O" in excluded.loc[6, "reason"]
    assert "fragments" in excluded.loc[7, "reason"]
    assert data.report["n_excluded"] == 2 and data.usable.sum() == N_SUBSET - 2
    with pytest.raises(ValueError, match="QM9 molecule 6 .* excluded: SMILES mismatch"):
        data.mol(6)


def test_usable_of_drops_the_excluded_molecules_and_keeps_the_order(subset):
    _, data = subset
    asked = np.array([8, 7, 1, 6, 3])
    assert data.usable_of(asked).tolist() == [8, 1, 3]          # 6 and 7 are the subset's exclusions
    assert data.usable_of(np.array([], dtype=np.int64)).tolist() == []


def test_mol_keeps_file_order_and_matches_smiles(subset):
    _, data = subset
    for idx in data.table.index[data.usable]:
        mol = data.mol(idx)
        assert [a.GetAtomicNum() for a in mol.GetAtoms()] == list(data.atomic_numbers(idx))
        np.testing.assert_allclose(mol.GetConformer().GetPositions(), data.coordinates(idx))
        expected = Chem.MolToSmiles(Chem.MolFromSmiles(data.table.loc[idx, "smiles"]), isomericSmiles=False)
        assert Chem.MolToSmiles(Chem.RemoveHs(mol), isomericSmiles=False) == expected


def test_malformed_field_names_file_line_and_column(tmp_path):
    def corrupt(records):
        records[9]["HOMO_au"] = "-0.25x"
    source = make_subset(tmp_path / "source", corrupt)
    with pytest.raises(QM9FormatError, match=r"qm9_part1.csv, line 11 \(QM9 index 10\), column 'HOMO_au'"):
        load(tmp_path / "cache", source_dir=source, verbose=False, workers=1)


def test_cache_reused_then_corruption_detected_and_rebuilt(tmp_path, capsys):
    source = make_subset(tmp_path / "source")
    cache = tmp_path / "cache"
    first = load(cache, source_dir=source, verbose=False, workers=1)
    npz = next((cache / "qm9").glob("*.npz"))
    manifest = next((cache / "qm9").glob("*.json"))
    capsys.readouterr()
    load(cache, source_dir=source, verbose=False, workers=1)
    assert "not used" not in capsys.readouterr().out  # a good cache is used silently

    def damage_and_reload(damage, message):
        damage()
        again = load(cache, source_dir=source, verbose=False, workers=1)
        assert message in capsys.readouterr().out
        assert again.table.equals(first.table)

    blob = npz.read_bytes()
    damage_and_reload(lambda: npz.write_bytes(blob[: len(blob) // 2]), "truncated")
    flipped = bytearray(npz.read_bytes())
    flipped[len(flipped) // 2] ^= 0xFF
    damage_and_reload(lambda: npz.write_bytes(bytes(flipped)), "checksum")
    text = manifest.read_text()
    damage_and_reload(lambda: manifest.write_text(text.replace('"format_version": 1', '"format_version": 0')),
                      "cache format 0")
    damage_and_reload(lambda: manifest.write_text("{not json"), "unreadable manifest")

    # A different source file (a changed HOMO value) makes the cache stale.
    def edit(records):
        records[0]["HOMO_au"] = "-0.3878"
    make_subset(source, edit)
    changed = load(cache, source_dir=source, verbose=False, workers=1)
    assert "source files differ" in capsys.readouterr().out
    assert changed.table.loc[1, "homo_Ha"] == -0.3878


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    source = make_subset(tmp_path / "source")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "env-cache"))
    load(source_dir=source, verbose=False, workers=1)
    assert list((tmp_path / "env-cache" / "qm9").glob("*.npz"))


# ---------------------------------------------------------------- split
def test_canonical_split():
    index, fold = load_folds()
    assert len(index) == N_MOLECULES == len(np.unique(index))
    sizes = np.bincount(fold)
    assert len(sizes) == 10 and sizes.sum() == N_MOLECULES and sizes.max() - sizes.min() <= 1
    np.testing.assert_array_equal(make_folds(index), fold)  # regeneration equals the committed file
    np.testing.assert_array_equal(index, qm9_indices_from_source())
    assert not np.array_equal(make_folds(index, seed=1), fold)


# ---------------------------------------------------------------- read_xyz
WATER = """3
water
O 0.000000 0.000000 0.117300
H 0.000000 0.757200 -0.469200
H 0.000000 -0.757200 -0.469200
"""


def _xyz(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mol.xyz"
    path.write_text(text)
    return path


def test_read_xyz_water(tmp_path):
    s = read_xyz(_xyz(tmp_path, WATER))
    assert s.elements == ["O", "H", "H"] and list(s.atomic_numbers) == [8, 1, 1]
    assert s.coordinates.shape == (3, 3) and s.comment == "water"
    assert Chem.MolToSmiles(Chem.RemoveHs(s.mol)) == "O" and s.mol.GetNumAtoms() == 3


def test_read_xyz_qm9_extended_format(tmp_path):
    text = """5
gdb 1	157.7118	157.70997	157.70699	0.	13.21
C	-0.0126981359	 1.0858041578	 0.0080009958	-0.535689
H	 0.002150416	-0.0060313176	 1.9761204*^-3	 0.133921
H	 1.0117308433	 1.4637511618	 0.0002765748	 0.133922
H	-0.540815069	 1.4475266138	-0.8766437152	 0.133923
H	-0.5238136345	 1.4379326443	 0.9063972942	 0.133923
1341.307	1341.3284	1341.365	1562.6731	1562.7453	3038.3205	3151.6034	3151.6788	3151.7078
C	C
InChI=1S/CH4/h1H4	InChI=1S/CH4/h1H4
"""
    s = read_xyz(_xyz(tmp_path, text))
    assert s.coordinates[1, 2] == pytest.approx(0.0019761204)
    assert Chem.MolToSmiles(Chem.RemoveHs(s.mol)) == "C"


@pytest.mark.parametrize("text, message", [
    ("three\nx\n", r"line 1: expected the number of atoms"),
    ("3\nwater\nO 0 0 0\nH 0 0.76 -0.47\n", r"announces 3 atoms"),
    ("3\nwater\nO 0 0 0.1173\nH 0 0.7572\nH 0 -0.7572 -0.4692\n", r"line 4: expected 'element x y z'"),
    ("3\nwater\nO 0 0 0.1173\nH 0 0.75.72 -0.4692\nH 0 -0.7572 -0.4692\n", r"line 4: cannot read '0.75.72'"),
    ("2\nHCl\nH 0 0 0\nCl 0 0 1.27\n", r"line 4: element 'Cl' is not supported.*H, C, N, O, F"),
    (WATER + "3\nsecond frame\n", r"line 6: unexpected text"),
])
def test_read_xyz_malformed(tmp_path, text, message):
    with pytest.raises(XYZFormatError, match=message) as info:
        read_xyz(_xyz(tmp_path, text))
    assert "mol.xyz" in str(info.value)


@pytest.mark.parametrize("text, message", [
    # NH4+: only a cation fits these bonds.
    ("5\nammonium\nN 0 0 0\nH 0.59 0.59 0.59\nH -0.59 -0.59 0.59\nH -0.59 0.59 -0.59\nH 0.59 -0.59 -0.59\n",
     "neutral closed-shell"),
    # CH3 radical.
    ("4\nmethyl\nC 0 0 0\nH 1.08 0 0\nH -0.54 0.935 0\nH -0.54 -0.935 0\n", "neutral closed-shell|radical"),
    # Two water molecules 5 Å apart.
    ("6\ntwo waters\nO 0 0 0.1173\nH 0 0.7572 -0.4692\nH 0 -0.7572 -0.4692\n"
     "O 5 0 0.1173\nH 5 0.7572 -0.4692\nH 5 -0.7572 -0.4692\n", "2 fragments"),
])


def test_read_xyz_rejects_ions_radicals_fragments(tmp_path, text, message):
    with pytest.raises(XYZFormatError, match=message):
        read_xyz(_xyz(tmp_path, text))


# ---------------------------------------------------------------- the full data set (one load)
@pytest.fixture(scope="session")
def qm9():
    return load(verbose=True)


def test_full_qm9(qm9):
    t = qm9.table
    assert len(t) == N_MOLECULES and t.index.is_unique and t.index.min() == 1 and t.index.max() == 133_885
    assert len(qm9.Z) == qm9.offsets[-1] == t["n_atoms"].sum() and qm9.R.shape == (len(qm9.Z), 3)
    excluded = qm9.excluded()
    assert len(excluded) == qm9.report["n_excluded"] == int((~qm9.usable).sum())
    assert (excluded["reason"] != "").all()
    assert excluded["category"].value_counts().to_dict() == qm9.report["excluded_by_category"]
    assert 0 < len(excluded) < 0.05 * N_MOLECULES
    assert set(excluded["category"]) <= {"SMILES mismatch", "bonds cannot be assigned to a neutral closed-shell "
                                         "molecule (ion or radical?)", "structure falls apart into 2 fragments",
                                         "radical", "file SMILES unreadable"}
    assert (t.loc[qm9.usable, "smiles_check"].isin(["same", "resonance"])).all()
    assert (t["n_freq_sets"] == 2).sum() == 334
    train, test = qm9.split()
    assert len(test) == len(qm9.fold(0)) and len(train) + len(test) == N_MOLECULES
    assert not np.intersect1d(train, test).size
    train_u, test_u = qm9.split(usable_only=True)
    assert len(train_u) + len(test_u) == int(qm9.usable.sum())
    assert t.loc[133_885, "n_atoms"] == len(qm9.atomic_numbers(133_885))


def test_first_build_says_so_instead_of_calling_the_cache_unused(tmp_path, capsys):
    source = make_subset(tmp_path / "source")
    load(tmp_path / "cache", source_dir=source, verbose=True, workers=1)
    out = capsys.readouterr().out
    assert "first use, building the local cache" in out and "not used" not in out


def test_processes_that_find_no_cache_at_once_build_it_once(tmp_path):
    # Test workers and parallel graders start together on a fresh machine: one builds, the rest read.
    source, go = make_subset(tmp_path / "source"), tmp_path / "go"
    script = ("import pathlib, sys, time; from course.data.qm9 import load; "
              "pathlib.Path(sys.argv[1]).touch()\n"
              f"while not pathlib.Path({str(go)!r}).exists(): time.sleep(0.01)\n"
              f"load({str(tmp_path / 'cache')!r}, source_dir={str(source)!r}, verbose=True, workers=1)")
    ready = [tmp_path / f"ready{i}" for i in range(3)]
    runs = [subprocess.Popen([sys.executable, "-c", script, str(r)], stdout=subprocess.PIPE, text=True) for r in ready]
    while not all(r.exists() for r in ready):  # all imported: release them together
        time.sleep(0.05)
    go.touch()
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0]
    assert sum("building the local cache" in out for out in outputs) == 1, outputs
    assert not any("not used" in out for out in outputs), outputs
