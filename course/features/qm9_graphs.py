"""Molecular Graph features of every usable QM9 molecule, built once and cached beside QM9.

``course featurize`` (or :func:`load`) builds them from a fresh clone: QM9 from the qm9pack
wheel, bonds perceived by ``course.data.qm9``, features by ``course.features.graph``. The file is
keyed to the QM9 cache it came from and to the feature definitions, so a changed QM9 cache or a
new feature version triggers a rebuild instead of silently serving old features.
"""
from __future__ import annotations

import json
import multiprocessing
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from course.data import qm9
from course.data.cache_lock import building
from course.data.qm9_cache import cache_checksum, resolve_cache_dir
from course.features.graph import ATOM_FEATURES, PAIR_FEATURES, GraphBatch, MolGraph, featurize
from tqdm.auto import tqdm

#: Bump when the meaning of any feature changes.
FEATURE_VERSION = 1


@dataclass(frozen=True)
class QM9Graphs:
    """``batch`` row k holds the molecule with QM9 index ``indices[k]`` (usable molecules only)."""

    indices: np.ndarray
    batch: GraphBatch

    def rows(self, qm9_indices: np.ndarray) -> np.ndarray:
        """Batch rows of the given QM9 indices; an excluded or unknown index is an error."""
        return qm9.positions(self.indices, qm9_indices, "the MG features (excluded or unknown molecules; "
                                                         "see course.data.qm9.load().excluded())")


def _key(cache_dir: str | Path | None) -> dict:
    return {"qm9_npz_sha256": cache_checksum(cache_dir), "feature_version": FEATURE_VERSION,
            "atom_features": list(ATOM_FEATURES), "pair_features": list(PAIR_FEATURES)}


_DATA: qm9.QM9 | None = None  # the loaded QM9, inherited by forked workers


def _featurize_index(idx: int) -> MolGraph:
    return featurize(_DATA.mol(int(idx)), name=f"QM9 {idx}")


def _featurize_all(data: qm9.QM9, indices: np.ndarray, n_jobs: int, progress: bool) -> GraphBatch:
    """Featurize QM9 molecules by index. Forked workers share the loaded data and build the RDKit
    molecules themselves, so molecule construction runs in parallel too (it costs as much as the
    features); where fork is unavailable this runs in one process."""
    global _DATA
    _DATA = data
    bar = dict(total=len(indices), disable=not progress, desc="MG features", unit="mol")
    try:
        if n_jobs > 1 and "fork" in multiprocessing.get_all_start_methods():
            with multiprocessing.get_context("fork").Pool(n_jobs) as pool:
                graphs = list(tqdm(pool.imap(_featurize_index, indices, chunksize=256), **bar))
        else:
            graphs = [_featurize_index(i) for i in tqdm(indices, **bar)]
    finally:
        _DATA = None
    return GraphBatch.from_graphs(graphs)


def graphs_path(cache_dir: str | Path | None = None) -> Path:
    return resolve_cache_dir(cache_dir) / f"mg_v{FEATURE_VERSION}.npz"


def for_indices(data: qm9.QM9, qm9_indices: np.ndarray, n_jobs: int = 1) -> QM9Graphs:
    """MG features of a few thousand molecules, built now and not cached: what a notebook or a test
    needs, without the minutes that the cache of all QM9 costs on a fresh machine. Excluded or
    unknown molecules are an error naming them."""
    indices = np.sort(np.asarray(qm9_indices, dtype=np.int64))
    usable = data.usable.reindex(indices)
    if usable.isna().any() or not usable.all():
        bad = indices[~usable.fillna(False).to_numpy(dtype=bool)]
        raise ValueError(f"QM9 indices {bad[:5].tolist()} are excluded or unknown; see `course qm9 --excluded`")
    return QM9Graphs(indices, _featurize_all(data, indices, n_jobs, progress=False))


def build(cache_dir: str | Path | None = None, n_jobs: int = 2, verbose: bool = True) -> QM9Graphs:
    """Featurize every usable QM9 molecule (a few minutes on 2 cores) and write the cache."""
    data = qm9.load(cache_dir, verbose=verbose)
    indices = data.table.index[data.usable.to_numpy()].to_numpy()
    started = time.perf_counter()
    batch = _featurize_all(data, indices, n_jobs, verbose)
    path = graphs_path(cache_dir)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, indices=indices, key=json.dumps(_key(cache_dir)), atoms=batch.atoms,
                        pair_bits=batch.pair_bits, distances=batch.distances, n_atoms=batch.n_atoms)
    tmp.replace(path)
    if verbose:
        print(f"MG features of {len(indices)} molecules in {time.perf_counter() - started:.0f} s; "
              f"{len(data) - len(indices)} excluded molecules skipped (see `course qm9 --excluded`); {path}")
    return QM9Graphs(indices, batch)


def load(cache_dir: str | Path | None = None, rebuild: bool = False, n_jobs: int = 2,
         verbose: bool = True) -> QM9Graphs:
    """The cached MG features, (re)built when missing, stale or unreadable."""
    path = graphs_path(cache_dir)
    with building(path):
        return _read_or_build(path, cache_dir, rebuild, n_jobs, verbose)


def _read_or_build(path: Path, cache_dir: str | Path | None, rebuild: bool, n_jobs: int, verbose: bool) -> QM9Graphs:
    if path.is_file() and not rebuild:
        try:
            with np.load(path) as f:
                if json.loads(str(f["key"])) == _key(cache_dir):
                    return QM9Graphs(f["indices"], GraphBatch(atoms=f["atoms"], pair_bits=f["pair_bits"],
                                                              distances=f["distances"], n_atoms=f["n_atoms"]))
                reason = "it was built from another QM9 cache or feature version"
        except (OSError, ValueError, KeyError) as error:
            reason = f"it cannot be read ({error})"
        if verbose:
            print(f"MG features in {path} not used: {reason}; building them again.")
    return build(cache_dir, n_jobs=n_jobs, verbose=verbose)
