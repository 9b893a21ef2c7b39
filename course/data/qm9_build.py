"""Turn the raw QM9 CSV content into cache arrays: perceive bonds for every molecule and check
them against the file's SMILES, recording a reason for each molecule that fails."""
from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from rdkit import Chem
from tqdm.auto import tqdm

from course.data.perceive import PerceptionError, compare_with_smiles, mol_from_xyz, quiet_native_output
from course.data.qm9_source import RawQM9, read_source

_CHUNK = 500
_BOND_CODE = {Chem.BondType.SINGLE: 1, Chem.BondType.DOUBLE: 2, Chem.BondType.TRIPLE: 3}


def _hueckel_if_it_matches(z: np.ndarray, r: np.ndarray, smiles: str, mol: Chem.Mol, comparison: str):
    """Hückel-connectivity molecule and its comparison if it matches ``smiles``, else the inputs."""
    try:
        hueckel = mol_from_xyz(z.tolist(), r, "hueckel")
    except PerceptionError:
        return mol, comparison
    hueckel_comparison = compare_with_smiles(hueckel, smiles)
    return (hueckel, hueckel_comparison) if hueckel_comparison != "different" else (mol, comparison)


def _check_one(z: np.ndarray, r: np.ndarray, smiles: str):
    """(relaxed SMILES, comparison, reason, bonds, formal charges) for one molecule."""
    try:
        mol = mol_from_xyz(z.tolist(), r)
        comparison = compare_with_smiles(mol, smiles)
        if comparison == "different":  # radii may give a valid but wrong graph: ask Hückel too
            mol, comparison = _hueckel_if_it_matches(z, r, smiles, mol, comparison)
    except PerceptionError as exc:
        return "", "", str(exc), [], [0] * len(z)
    except ValueError as exc:
        return "", "", f"file SMILES unreadable: {exc}", [], [0] * len(z)
    relaxed = Chem.MolToSmiles(Chem.RemoveHs(mol))
    reason = "" if comparison != "different" else (
        f"SMILES mismatch: 3-D structure gives {relaxed} but the file has {smiles}"
    )
    kekule = Chem.Mol(mol)
    Chem.Kekulize(kekule, clearAromaticFlags=True)
    bonds = [(b.GetBeginAtomIdx(), b.GetEndAtomIdx(), _BOND_CODE[b.GetBondType()]) for b in kekule.GetBonds()]
    charges = [a.GetFormalCharge() for a in mol.GetAtoms()]
    return relaxed, comparison, reason, bonds, charges


def _check_chunk(items: list[tuple[np.ndarray, np.ndarray, str]]) -> list[tuple]:
    with quiet_native_output():
        return [_check_one(z, r, s) for z, r, s in items]


def _chunks(raw: RawQM9):
    off = raw.offsets
    for start in range(0, len(raw.index), _CHUNK):
        stop = min(start + _CHUNK, len(raw.index))
        yield [(raw.Z[off[i]:off[i + 1]], raw.R[off[i]:off[i + 1]], raw.smiles[i]) for i in range(start, stop)]


def perceive_all(raw: RawQM9, workers: int = 2, verbose: bool = True) -> dict[str, object]:
    """Bond perception and SMILES check for every molecule, in ``workers`` processes.

    Example (not run: it perceives all of QM9, the slow part of a cache build)::

        perceived = perceive_all(read_source(), workers=2)
        perceived["excluded_reason"][:1]   # [''], methane is usable
    """
    results: list[tuple] = []
    bar = tqdm(total=len(raw.index), desc="QM9: perceiving bonds", unit="mol", disable=not verbose)
    if workers > 1 and len(raw.index) > 4 * _CHUNK:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for chunk in pool.map(_check_chunk, _chunks(raw)):
                results.extend(chunk)
                bar.update(len(chunk))
    else:
        for items in _chunks(raw):
            results.extend(_check_chunk(items))
            bar.update(len(items))
    bar.close()
    n_bonds = np.array([len(res[3]) for res in results], dtype=np.int64)
    flat = [bond for res in results for bond in res[3]]
    bond_array = np.asarray(flat, dtype=np.uint8).reshape(-1, 3)
    return {
        "smiles_relaxed": [res[0] for res in results],
        "smiles_check": [res[1] for res in results],
        "excluded_reason": [res[2] for res in results],
        "bond_atoms": bond_array[:, :2].copy(),
        "bond_order": bond_array[:, 2].copy(),
        "bond_offsets": np.concatenate([[0], np.cumsum(n_bonds)]).astype(np.int64),
        "formal_charge": np.asarray([q for res in results for q in res[4]], dtype=np.int8),
    }


def build_arrays(source_dir: Path | None = None, workers: int = 2, verbose: bool = True) -> dict[str, object]:
    """Everything the cache holds: raw CSV content plus perceived bonds and exclusion reasons.

    ``course.data.qm9.load`` calls it when the cache is missing or stale. Example (not run: minutes)::

        arrays = build_arrays(workers=2, verbose=False)
        sorted(arrays)[:3]   # ['R', 'Z', 'bond_atoms']
    """
    if verbose:
        print("QM9: reading the qm9pack CSV files ...", flush=True)
    raw = read_source(source_dir)
    arrays: dict[str, object] = {
        "index": raw.index, "smiles": raw.smiles, "inchi": raw.inchi,
        "Z": raw.Z, "R": raw.R, "mulliken": raw.mulliken, "offsets": raw.offsets,
        "freqs": raw.freqs, "freq_offsets": raw.freq_offsets,
    }
    arrays.update({f"scalar/{name}": values for name, values in raw.scalars.items()})
    arrays.update(perceive_all(raw, workers=workers, verbose=verbose))
    return arrays
