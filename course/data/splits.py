"""The one canonical QM9 split of the course: 10 folds of a seeded shuffle of all 130,831 indices.

Fold 0 is the default 10 % test set. The folds live in ``course/data/qm9_folds.npz`` inside the
repository, so they never change with numpy's random streams; ``python -m course.data.splits``
regenerates the file (a test checks that regeneration gives the committed folds).
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

FOLDS_FILE = Path(__file__).with_name("qm9_folds.npz")
N_FOLDS = 10
SEED = 20140805  # publication date of the QM9 paper (Sci. Data 1, 140022)


def make_folds(indices: np.ndarray, n_folds: int = N_FOLDS, seed: int = SEED) -> np.ndarray:
    """Fold number (0..n_folds-1) of each of ``indices`` (sorted first) after a seeded shuffle.

    The shuffled order is cut into ``n_folds`` nearly equal consecutive pieces (sizes differ by
    at most one). Returns an int8 array aligned with ``np.sort(indices)``.

    >>> fold = make_folds(np.arange(1, 24), n_folds=5)
    >>> np.bincount(fold).tolist(), fold.dtype.name
    ([5, 5, 5, 4, 4], 'int8')
    >>> bool((make_folds(np.arange(23, 0, -1), n_folds=5) == fold).all())  # input order does not matter
    True
    """
    ordered = np.sort(np.asarray(indices, dtype=np.int64))
    if len(np.unique(ordered)) != len(ordered):
        raise ValueError("indices must be unique")
    permutation = np.random.default_rng(seed).permutation(len(ordered))
    fold = np.empty(len(ordered), dtype=np.int8)
    for k, positions in enumerate(np.array_split(permutation, n_folds)):
        fold[positions] = k
    return fold


def qm9_indices_from_source(source_dir: Path | None = None) -> np.ndarray:
    """All QM9 indices in the qm9pack CSV files (only the ``Index`` column is read).

    Needs the QM9 source files, so the example is not run::

        qm9_indices_from_source()[:3]  # array([1, 2, 3])
    """
    from course.data.qm9_source import PART_FILES, default_source_dir

    folder = Path(source_dir) if source_dir is not None else default_source_dir()
    found: list[int] = []
    for name in PART_FILES:
        with open(folder / name, newline="") as handle:
            reader = csv.reader(handle)
            column = next(reader).index("Index")
            found.extend(int(row[column]) for row in reader)
    return np.sort(np.asarray(found, dtype=np.int64))


def load_folds(path: Path = FOLDS_FILE) -> tuple[np.ndarray, np.ndarray]:
    """The committed split: (sorted QM9 indices, fold number of each).

    >>> index, fold = load_folds()
    >>> len(index), sorted(set(fold.tolist())) == list(range(N_FOLDS)), bool((np.diff(index) > 0).all())
    (130831, True, True)
    """
    with np.load(path, allow_pickle=False) as data:
        return data["index"], data["fold"]


def write_folds(path: Path = FOLDS_FILE, source_dir: Path | None = None) -> None:
    """Regenerate the split file from the qm9pack CSV files (``python -m course.data.splits``).

    Needs the QM9 source files, so the example is not run::

        write_folds(Path("qm9_folds.npz"))
        bool((load_folds(Path("qm9_folds.npz"))[1] == load_folds()[1]).all())  # True
    """
    index = qm9_indices_from_source(source_dir)
    np.savez_compressed(path, index=index, fold=make_folds(index))


if __name__ == "__main__":
    write_folds()
    print(f"wrote {FOLDS_FILE}")
