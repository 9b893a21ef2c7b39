"""QM9 (Ramakrishnan et al., Sci. Data 1, 140022, 2014): 130,831 small organic molecules (up to
9 heavy atoms C, N, O, F) with B3LYP/6-31G(2df,p) geometries and properties, read offline from
the CSV files inside the ``qm9pack`` wheel and cached locally.

``load()`` returns a :class:`QM9`. Its ``table`` has one row per molecule, indexed by the QM9
index (1..133,885 with 3,054 gaps), with the columns listed in :data:`UNITS`.

SMILES. The CSV has a single ``SMILES`` column. It is the **GDB-17 SMILES** (the graph the
molecule was generated from), not the SMILES of the relaxed B3LYP structure: none of the
130,831 entries carries stereo marks although many molecules are chiral, 443 keep GDB-17's
zwitterion charges (``[NH3+]CCC([O-])=O``), and the ``InChi`` column, which matches it, has
no tetrahedral stereo layer. ``table.smiles`` is that GDB-17 SMILES as written in the file;
``table.smiles_relaxed`` is RDKit's canonical isomeric SMILES (stereo from 3-D) of the
molecule perceived from the relaxed geometry, '' where perception failed.

Exclusions. Every molecule's bonds are perceived from its geometry
(:func:`course.data.perceive.mol_from_xyz`) and compared with the GDB-17 SMILES, ignoring
stereochemistry ('same'); another Lewis structure of the same molecule (same atoms, bonds and
hydrogens, different bond orders or charge placement, e.g. an amidinium zwitterion) is
accepted and marked 'resonance' in ``smiles_check``. A molecule whose bonds cannot be perceived
or whose perceived structure is a different molecule is excluded: ``excluded_reason`` says why
('' when usable), ``QM9.excluded()`` lists them, ``QM9.report`` counts them by category. All
130,831 rows stay in the table; excluded molecules are still fine for models that use only
atoms and coordinates.

Measured (benchmarks/results/qm9_load.json): 4 molecules are excluded (2 whose bonds cannot be
assigned, 2 caged molecules whose geometry gives another graph) and 221 are accepted as
resonance forms. Papers that report a few thousand failures perceived connectivity from
covalent radii alone, which fails for strained bicyclic molecules (see course.data.perceive).

Frequencies. 334 molecules list their harmonic frequencies twice in the CSV (two nearly equal
sets; the second differs by at most 484 cm⁻¹, by more than 1 cm⁻¹ for one molecule). The first
set is kept; ``n_freq_sets`` and ``freq_sets_max_diff_cm`` record this.
"""
from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from rdkit import Chem
from rdkit.Geometry import Point3D

from course.data.cache_lock import building
from course.data.perceive import mol_from_xyz
from course.data.qm9_build import build_arrays
from course.data.qm9_cache import StaleCache, read_cache, resolve_cache_dir, source_fingerprint, write_cache
from course.data.qm9_source import default_source_dir
from course.data.splits import load_folds
from course.data.xyz import read_xyz

__all__ = ["QM9", "load", "mol_from_xyz", "read_xyz", "UNITS", "HARTREE_TO_EV", "FREE_ATOM_ENERGY_HA",
           "N_MOLECULES"]

N_MOLECULES = 130_831
HARTREE_TO_EV = 27.211386
#: B3LYP/6-31G(2df,p) energies of the free atoms (Ha), the references for atomization energies.
FREE_ATOM_ENERGY_HA = {1: -0.500273, 6: -37.846772, 7: -54.583861, 8: -75.064579, 9: -99.718730}

#: Column of ``QM9.table`` -> unit (and meaning where the name does not say it).
UNITS = {
    "n_atoms": "count of atoms including H",
    "smiles": "GDB-17 SMILES from the CSV (no stereo)",
    "smiles_relaxed": "RDKit canonical isomeric SMILES perceived from the 3-D structure",
    "inchi": "InChI from the CSV",
    "rotA_GHz": "GHz (rotational constant A)",
    "rotB_GHz": "GHz (rotational constant B)",
    "rotC_GHz": "GHz (rotational constant C)",
    "mu_D": "debye (dipole moment)",
    "alpha_bohr3": "bohr³ (isotropic polarizability)",
    "homo_Ha": "hartree", "lumo_Ha": "hartree", "gap_Ha": "hartree",
    "r2_bohr2": "bohr² (electronic spatial extent ⟨R²⟩)",
    "zpve_Ha": "hartree (zero-point vibrational energy)",
    "U0_Ha": "hartree (internal energy at 0 K)",
    "U_Ha": "hartree (internal energy at 298.15 K)",
    "H_Ha": "hartree (enthalpy at 298.15 K)",
    "G_Ha": "hartree (free energy at 298.15 K)",
    "Cv_cal_molK": "cal/(mol K) (heat capacity at 298.15 K)",
    **{f"alpha_{c}_bohr3": f"bohr³ (polarizability tensor component {c})"
       for c in ("xx", "xy", "yy", "xz", "yz", "zz")},
    **{f"{p}_eV": "eV (= the _Ha column × 27.211386)"
       for p in ("homo", "lumo", "gap", "zpve", "U0", "U", "H", "G")},
    "U0_atom_Ha": "hartree (atomization energy: U0 minus the free-atom energies; negative)",
    "U0_atom_eV": "eV (atomization energy U0_atom_Ha × 27.211386)",
    "n_freq_sets": "1, or 2 where the CSV lists the frequencies twice",
    "freq_sets_max_diff_cm": "cm⁻¹ (largest difference between the two sets; NaN for one set)",
    "smiles_check": "'same', 'resonance', 'different' or '' (perception failed)",
    "excluded_reason": "'' when usable, else why the molecule is excluded",
}
_EV_COLUMNS = ("homo", "lumo", "gap", "zpve", "U0", "U", "H", "G")


def positions(sorted_keys: np.ndarray, wanted: np.ndarray, where: str) -> np.ndarray:
    """Positions of ``wanted`` in the sorted array ``sorted_keys``; ``KeyError`` naming the missing ones.

    The look-up from QM9 indices (with gaps) to row numbers.

    >>> positions(np.array([1, 2, 5, 9]), [5, 1], "the table").tolist()
    [2, 0]
    >>> positions(np.array([1, 2, 5, 9]), [3, 5], "the table")
    Traceback (most recent call last):
    ...
    KeyError: '1 indices are not in the table, e.g. [3]'
    """
    wanted = np.asarray(wanted, dtype=np.int64)
    pos = np.clip(np.searchsorted(sorted_keys, wanted), 0, max(len(sorted_keys) - 1, 0))
    missing = wanted[sorted_keys[pos] != wanted] if len(sorted_keys) else wanted
    if len(missing):
        raise KeyError(f"{len(missing)} indices are not in {where}, e.g. {missing[:5].tolist()}")
    return pos


class QM9:
    """All of QM9 in memory: a property table and concatenated per-atom arrays.

    Row ``i`` of :attr:`table` owns atoms ``offsets[i]:offsets[i+1]`` of :attr:`Z`, :attr:`R`
    (Å) and :attr:`q_mulliken` (e), and frequencies ``freq_offsets[i]:freq_offsets[i+1]`` of
    :attr:`freqs` (cm⁻¹). Methods that take ``idx`` expect a QM9 index, not a row number.

    Needs the QM9 cache, so the examples of this class are not run::

        data = load()
        data                            # QM9(130831 molecules, 130827 usable)
        data.table.loc[1, "smiles"]     # 'C': molecule 1 is methane
    """

    def __init__(self, arrays: dict[str, object], report: dict):
        self.index = np.asarray(arrays["index"], dtype=np.int64)
        self.Z = arrays["Z"]
        self.R = arrays["R"]
        self.offsets = arrays["offsets"]
        self.q_mulliken = arrays["mulliken"]
        self.freqs = arrays["freqs"]
        self.freq_offsets = arrays["freq_offsets"]
        self._bond_atoms = arrays["bond_atoms"]
        self._bond_order = arrays["bond_order"]
        self._bond_offsets = arrays["bond_offsets"]
        self._formal_charge = arrays["formal_charge"]
        self.report = report
        self.table = self._make_table(arrays)
        self.usable: pd.Series = (self.table["excluded_reason"] == "").rename("usable")

    def _make_table(self, arrays: dict[str, object]) -> pd.DataFrame:
        columns: dict[str, object] = {"n_atoms": np.diff(self.offsets)}
        for key in ("smiles", "smiles_relaxed", "inchi"):
            columns[key] = arrays[key]
        columns.update({k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("scalar/")})
        for name in _EV_COLUMNS:
            columns[f"{name}_eV"] = columns[f"{name}_Ha"] * HARTREE_TO_EV
        reference = np.zeros(256)
        for z, energy in FREE_ATOM_ENERGY_HA.items():
            reference[z] = energy
        molecule_of_atom = np.repeat(np.arange(len(self.index)), np.diff(self.offsets))
        atoms_energy = np.bincount(molecule_of_atom, weights=reference[self.Z], minlength=len(self.index))
        columns["U0_atom_Ha"] = columns["U0_Ha"] - atoms_energy
        columns["U0_atom_eV"] = columns["U0_atom_Ha"] * HARTREE_TO_EV
        columns["n_freq_sets"] = columns["n_freq_sets"].astype(np.int8)
        columns["smiles_check"] = arrays["smiles_check"]
        columns["excluded_reason"] = arrays["excluded_reason"]
        return pd.DataFrame(columns, index=pd.Index(self.index, name="index"))

    def __len__(self) -> int:
        return len(self.index)

    def __repr__(self) -> str:
        return f"QM9({len(self)} molecules, {int(self.usable.sum())} usable)"

    def row(self, idx: int) -> int:
        """Row number of QM9 index ``idx``; ``KeyError`` if QM9 has no such molecule. Example::

            data.row(1)   # 0
        """
        return int(self.rows([idx])[0])

    def rows(self, indices: np.ndarray) -> np.ndarray:
        """Row numbers of many QM9 indices at once; ``KeyError`` naming any that QM9 lacks. Example::

            data.rows([1, 2, 5])   # array([0, 1, 4])
        """
        return positions(self.index, indices, "QM9 (indices run 1..133885 with 3,054 gaps)")

    def atomic_numbers(self, idx: int) -> np.ndarray:
        """Atomic numbers of molecule ``idx`` in file order. Example::

            data.atomic_numbers(1)   # array([6, 1, 1, 1, 1]): methane, C first
        """
        i = self.row(idx)
        return self.Z[self.offsets[i]:self.offsets[i + 1]]

    def coordinates(self, idx: int) -> np.ndarray:
        """Cartesian coordinates (Å), shape (n_atoms, 3), of molecule ``idx``. Example::

            data.coordinates(1).shape   # (5, 3)
        """
        i = self.row(idx)
        return self.R[self.offsets[i]:self.offsets[i + 1]]

    def mulliken(self, idx: int) -> np.ndarray:
        """Mulliken partial charges (e) of the atoms of molecule ``idx``. Example::

            data.mulliken(1).round(3)   # array([-0.536, 0.134, 0.134, 0.134, 0.134])
        """
        i = self.row(idx)
        return self.q_mulliken[self.offsets[i]:self.offsets[i + 1]]

    def frequencies(self, idx: int) -> np.ndarray:
        """Harmonic frequencies (cm⁻¹) of molecule ``idx``: 3N-6 values (3N-5 if linear). Example::

            len(data.frequencies(1))   # 9 = 3 * 5 - 6 for methane
        """
        i = self.row(idx)
        return self.freqs[self.freq_offsets[i]:self.freq_offsets[i + 1]]

    def polarizability(self, idx: int) -> np.ndarray:
        """Symmetric 3×3 static polarizability tensor (bohr³) of molecule ``idx``. Example::

            data.polarizability(1).round(2)   # 13.21 times the identity: methane is isotropic
        """
        t = self.table.loc[idx]
        xx, xy, yy, xz, yz, zz = (t[f"alpha_{c}_bohr3"] for c in ("xx", "xy", "yy", "xz", "yz", "zz"))
        return np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])

    def mol(self, idx: int) -> Chem.Mol:
        """RDKit molecule of ``idx``: explicit H, perceived bonds, 3-D conformer, file atom order.

        Rebuilt from the bonds stored at cache build time (fast); raises ``ValueError`` naming
        the reason for an excluded molecule. Example::

            Chem.MolToSmiles(Chem.RemoveHs(data.mol(1)))   # 'C'
            data.mol(133831)   # ValueError: QM9 molecule 133831 (CC12C3N1C1CC2C=C31) is excluded: ...
        """
        i = self.row(idx)
        reason = self.table["excluded_reason"].iat[i]
        if reason:
            raise ValueError(f"QM9 molecule {idx} ({self.table['smiles'].iat[i]}) is excluded: {reason}")
        start, stop = self.offsets[i], self.offsets[i + 1]
        rw = Chem.RWMol()
        conf = Chem.Conformer(int(stop - start))
        for k in range(start, stop):
            atom = Chem.Atom(int(self.Z[k]))
            atom.SetFormalCharge(int(self._formal_charge[k]))
            atom.SetNoImplicit(True)
            rw.AddAtom(atom)
            conf.SetAtomPosition(int(k - start), Point3D(*self.R[k]))
        order = {1: Chem.BondType.SINGLE, 2: Chem.BondType.DOUBLE, 3: Chem.BondType.TRIPLE}
        for b in range(self._bond_offsets[i], self._bond_offsets[i + 1]):
            a1, a2 = self._bond_atoms[b]
            rw.AddBond(int(a1), int(a2), order[int(self._bond_order[b])])
        rw.AddConformer(conf, assignId=True)
        mol = rw.GetMol()
        Chem.SanitizeMol(mol)
        Chem.AssignStereochemistryFrom3D(mol)
        return mol

    def excluded(self) -> pd.DataFrame:
        """Excluded molecules: QM9 index, GDB-17 SMILES, reason and reason category. Example::

            data.excluded()["category"].value_counts()   # counted in benchmarks/results/qm9_load.json
        """
        rows = self.table.loc[~self.usable, ["smiles", "excluded_reason"]].rename(columns={"excluded_reason": "reason"})
        rows["category"] = rows["reason"].str.split(":", n=1).str[0]
        return rows

    def fold(self, k: int) -> np.ndarray:
        """QM9 indices in fold ``k`` (0..9) of the canonical split (``course/data/qm9_folds.npz``). Example::

            len(data.fold(0))   # 13084, a tenth of QM9
        """
        index, fold = load_folds()
        if not 0 <= k < int(fold.max()) + 1:
            raise ValueError(f"fold must be 0..{int(fold.max())}, got {k}")
        return index[fold == k]

    def usable_of(self, indices: np.ndarray) -> np.ndarray:
        """The usable molecules among the QM9 ``indices``, in their order: the filter that models
        built on RDKit molecules need (excluded molecules have none). Example::

            train, test = data.split(test_fold=0)
            usable_train = data.usable_of(train)
        """
        indices = np.asarray(indices, dtype=np.int64)
        return indices[self.usable.loc[indices].to_numpy()]

    def split(self, test_fold: int = 0, usable_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(train, test) QM9 indices: fold ``test_fold`` is the test set, the other nine train.

        ``usable_only`` drops excluded molecules from both (needed by models built on RDKit
        molecules); the default keeps all 130,831, as in the literature protocol. Example::

            train, test = data.split(test_fold=0)
            len(train), len(test)   # (117747, 13084)
        """
        index, fold = load_folds()
        if not 0 <= test_fold < int(fold.max()) + 1:
            raise ValueError(f"test_fold must be 0..{int(fold.max())}, got {test_fold}")
        keep = np.isin(index, self.index[self.usable.to_numpy()]) if usable_only else np.isin(index, self.index)
        return index[keep & (fold != test_fold)], index[keep & (fold == test_fold)]


def _report(arrays: dict[str, object], seconds: float) -> dict:
    reasons = [r for r in arrays["excluded_reason"] if r]
    return {
        "n_molecules": int(len(arrays["index"])),
        "n_excluded": len(reasons),
        "excluded_by_category": dict(Counter(r.split(":", 1)[0] for r in reasons).most_common()),
        "smiles_check": dict(Counter(arrays["smiles_check"]).most_common()),
        "n_freq_listed_twice": int((np.asarray(arrays["scalar/n_freq_sets"]) == 2).sum()),
        "build_seconds": round(seconds, 1),
    }


def load(cache_dir: str | Path | None = None, rebuild: bool = False, verbose: bool = True,
         *, source_dir: str | Path | None = None, workers: int = 2) -> QM9:
    """Load QM9, building the local cache on first use (minutes) and reading it afterwards (seconds).

    The cache lives in ``cache_dir``, else ``$COURSE_CACHE_DIR``, else the user cache folder of
    ``platformdirs.user_cache_dir("mlchem-course")``. A stale or damaged cache is reported and
    rebuilt, never used. ``source_dir`` (for tests) replaces the qm9pack data folder with one
    holding CSV files of the same layout; ``workers`` processes perceive bonds during a build.

    Needs the QM9 cache (or builds it), so the example is not run::

        data = load(verbose=False)
        data.table.loc[1, ["smiles", "U0_Ha"]]   # methane: 'C', -40.47893
    """
    source = Path(source_dir) if source_dir is not None else default_source_dir()
    folder = resolve_cache_dir(cache_dir)
    with building(folder):  # the lock sits beside the cache folder, which stays empty until built
        return _read_or_build(folder, source, rebuild, verbose, workers, test_source=source_dir is not None)


def _read_or_build(folder: Path, source: Path, rebuild: bool, verbose: bool, workers: int,
                   test_source: bool) -> QM9:
    fingerprint = source_fingerprint(source)
    if not rebuild:
        try:
            arrays, report = read_cache(folder, fingerprint)
            return QM9(arrays, report)
        except StaleCache as exc:
            if not folder.is_dir() or not any(folder.iterdir()):
                if verbose:
                    print(f"QM9: first use, building the local cache in {folder} (about 5 minutes on 2 cores; "
                          "later loads take seconds) ...", flush=True)
            else:  # a cache is there but stale or damaged: always say why it is rebuilt
                print(f"QM9: cache in {folder} not used ({exc}); building it again.", flush=True)
    start = time.perf_counter()
    arrays = build_arrays(source, workers=workers, verbose=verbose)
    if not test_source and len(arrays["index"]) != N_MOLECULES:
        raise ValueError(f"qm9pack holds {len(arrays['index'])} molecules, expected {N_MOLECULES}")
    report = _report(arrays, time.perf_counter() - start)
    path = write_cache(folder, arrays, fingerprint, report)
    if verbose:
        print(f"QM9: {report['n_molecules']} molecules, {report['n_excluded']} excluded "
              f"{report['excluded_by_category']}; cache written to {path}", flush=True)
    arrays, report = read_cache(folder, fingerprint)
    return QM9(arrays, report)
