"""MG features of QM9 in a compact, RDKit-free form that pads itself into weave-model batches.

Training reads every usable QM9 molecule many times, and a machine without RDKit (a JAX-only
accelerator) must be able to train too, so :func:`WeaveData.from_qm9` repacks the cached ``GraphBatch`` of
``course.features.qm9_graphs``, and :meth:`WeaveData.save` writes one compressed ``.npz``
(35 MiB for all 130,827 usable molecules: ``weave_fold.all_molecules``). Every array is
exact except the distances, which are recomputed from float32 coordinates (|Δ| < 1e-5 Å, checked
at export):

* ``atom_code`` (uint16, one per atom) indexes ``atom_vocab``, the few hundred distinct rows of
  the 20 integer-valued atom features; ``partial_charge`` (float32) is the 21st, kept apart.
* ``xyz`` (float32, Å, one row per atom): the spatial distances are computed per batch from them
  instead of storing n² of them.
* ``pair_code`` (uint8, one per unordered pair i < j) indexes ``pair_vocab``, the few distinct
  rows of the 12 0/1 pair features. The features are symmetric and the diagonal is zero, so
  C(n, 2) codes per molecule say everything. Within a molecule the pairs run column by column,
  (0,1), (0,2), (1,2), (0,3), ..., an order that does not depend on n.
* ``n_atoms``, ``qm9_index``, ``fold`` (canonical split) per molecule and ``target/<column>``
  (float64) for the properties the course trains on.

Batches come out in either layout of the weave model: :meth:`WeaveData.padded` (29 atoms and
29² pairs per molecule) or :meth:`WeaveData.sparse` (real atoms and unordered pairs only, packed
to a fixed :class:`Capacity` by :func:`pack`).

This module imports neither RDKit nor pandas.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from course.features.layout import MAX_ATOMS, ragged_positions

if TYPE_CHECKING:  # built from the RDKit-made caches; never needed to train
    from course.data.qm9 import QM9
    from course.features.qm9_graphs import QM9Graphs

FORMAT_VERSION = 1
#: QM9 table columns exported with the features.
TARGET_COLUMNS = ("alpha_bohr3", "zpve_eV")
_ARRAYS = ("n_atoms", "qm9_index", "fold", "atom_code", "atom_vocab", "partial_charge", "xyz", "pair_code",
           "pair_vocab")


def _pair_order(max_atoms: int = MAX_ATOMS) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) of the k-th stored pair for every k: j = 1, 2, ... and i = 0..j-1 within each j."""
    j = np.concatenate([np.full(jj, jj) for jj in range(1, max_atoms)])
    i = np.concatenate([np.arange(jj) for jj in range(1, max_atoms)])
    return i, j


_PAIR_I, _PAIR_J = _pair_order()


@dataclass(frozen=True)
class Capacity:
    """Fixed sizes of a sparse batch: at most ``molecules`` molecules, ``atoms`` atoms and
    ``pairs`` unordered pairs. One capacity for every batch means one compiled shape."""

    molecules: int
    atoms: int
    pairs: int

    def holds(self, n_atoms: np.ndarray) -> bool:
        n = np.asarray(n_atoms, dtype=np.int64)
        return len(n) <= self.molecules and n.sum() <= self.atoms and (n * (n - 1) // 2).sum() <= self.pairs

    @classmethod
    def for_batches_of(cls, batch_size: int, n_atoms: np.ndarray, margin: float = 1.25) -> Capacity:
        """Room for ``batch_size`` molecules of the mean size of ``n_atoms`` times ``margin`` (and
        at least the largest molecule), rounded up to multiples of 64: most batches are then
        limited by the molecule count. Example: ``Capacity.for_batches_of(64, data.n_atoms)``."""
        n = np.asarray(n_atoms, dtype=np.int64)
        def room(per_molecule: np.ndarray) -> int:
            return int(64 * np.ceil(max(batch_size * margin * per_molecule.mean(), per_molecule.max()) / 64))
        return cls(batch_size, room(n), room(n * (n - 1) // 2))


def pack(n_atoms: np.ndarray, capacity: Capacity) -> list[np.ndarray]:
    """Split positions 0..len(n_atoms)-1, in order, into consecutive batches that fit ``capacity``
    (a batch closes when the next molecule would not fit). Example: ``pack(data.n_atoms[order], cap)``."""
    n = np.asarray(n_atoms, dtype=np.int64)
    if len(n) and not capacity.holds(n[[np.argmax(n)]]):
        raise ValueError(f"a molecule of {n.max()} atoms does not fit {capacity}")
    batches, start, atoms, pairs = [], 0, 0, 0
    for k, size in enumerate(n.tolist()):
        grown = (k - start + 1, atoms + size, pairs + size * (size - 1) // 2)
        if grown[0] > capacity.molecules or grown[1] > capacity.atoms or grown[2] > capacity.pairs:
            batches.append(np.arange(start, k))
            start, atoms, pairs = k, 0, 0
            grown = (1, size, size * (size - 1) // 2)
        atoms, pairs = grown[1], grown[2]
    if start < len(n):
        batches.append(np.arange(start, len(n)))
    return batches


@dataclass(frozen=True)
class WeaveData:
    """QM9 molecules in compact form (see the module docstring); row k is ``qm9_index[k]``."""

    n_atoms: np.ndarray
    qm9_index: np.ndarray
    fold: np.ndarray
    atom_code: np.ndarray
    atom_vocab: np.ndarray
    partial_charge: np.ndarray
    xyz: np.ndarray
    pair_code: np.ndarray
    pair_vocab: np.ndarray
    targets: dict[str, np.ndarray]
    atom_features: tuple[str, ...]
    pair_features: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.n_atoms)

    @cached_property
    def atom_offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.n_atoms, dtype=np.int64)])

    @cached_property
    def pair_offsets(self) -> np.ndarray:
        n = self.n_atoms.astype(np.int64)
        return np.concatenate([[0], np.cumsum(n * (n - 1) // 2)])

    @cached_property
    def _pair_table(self) -> np.ndarray:
        """``pair_vocab`` as float32 with an all-zero row appended."""
        return np.vstack([self.pair_vocab, np.zeros((1, self.pair_vocab.shape[1]), np.uint8)]).astype(np.float32)

    @cached_property
    def _charge_column(self) -> int:
        return self.atom_features.index("partial_charge")

    def rows(self, qm9_indices: np.ndarray) -> np.ndarray:
        """Row numbers of QM9 indices; ``KeyError`` if one is not here."""
        wanted = np.asarray(qm9_indices, dtype=np.int64)
        pos = np.clip(np.searchsorted(self.qm9_index, wanted), 0, len(self) - 1)
        missing = wanted[self.qm9_index[pos] != wanted]
        if len(missing):
            raise KeyError(f"{len(missing)} QM9 indices are not in the weave data, e.g. {missing[:5].tolist()}")
        return pos

    def _atom_rows(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = self.n_atoms[rows].astype(np.int64)
        block, local = ragged_positions(n)
        return block, local, np.repeat(self.atom_offsets[rows], n) + local

    def _atom_features(self, source: np.ndarray) -> np.ndarray:
        features = self.atom_vocab[self.atom_code[source]].astype(np.float32)
        features[:, self._charge_column] = self.partial_charge[source]
        return features

    def atom_feature_sums(self, rows: np.ndarray) -> np.ndarray:
        """(len(rows), 21) sums of the atom features over each molecule (element counts, ...)."""
        rows = np.asarray(rows, dtype=np.int64)
        block, _, source = self._atom_rows(rows)
        sums = np.zeros((len(rows), len(self.atom_features)))
        np.add.at(sums, block, self._atom_features(source))
        return sums

    def pair_feature_sums(self, rows: np.ndarray) -> np.ndarray:
        """(len(rows), 12) counts of each 0/1 pair feature over each molecule's unordered pairs
        (bonds by type, pairs within k bonds, pairs in one ring)."""
        rows = np.asarray(rows, dtype=np.int64)
        n_pairs = self.n_atoms[rows].astype(np.int64) * (self.n_atoms[rows].astype(np.int64) - 1) // 2
        block, k = ragged_positions(n_pairs)
        sums = np.zeros((len(rows), self.pair_vocab.shape[1]))
        np.add.at(sums, block, self.pair_vocab[self.pair_code[np.repeat(self.pair_offsets[rows], n_pairs) + k]])
        return sums

    def padded(self, rows: np.ndarray, max_atoms: int = MAX_ATOMS) -> dict[str, np.ndarray]:
        """The arrays of ``GraphBatch.padded`` for molecules ``rows``: ``atoms`` (B, A, 21),
        ``pairs`` (B, A, A, 13), ``atom_mask`` (B, A), ``pair_mask`` (B, A, A), float32."""
        rows = np.asarray(rows, dtype=np.int64).ravel()
        n = self.n_atoms[rows].astype(np.int64)
        if len(n) and n.max() > max_atoms:
            raise ValueError(f"a molecule has {n.max()} atoms > max_atoms={max_atoms}")
        b, n_bits = len(rows), self.pair_vocab.shape[1]
        atoms = np.zeros((b, max_atoms, len(self.atom_features)), np.float32)
        xyz = np.zeros((b, max_atoms, 3), np.float32)
        block, local, source = self._atom_rows(rows)
        atoms[block, local] = self._atom_features(source)
        xyz[block, local] = self.xyz[source]
        # Scatter one-byte codes, then look the bits up: cheaper than scattering 12 floats per pair.
        # Code len(pair_vocab) is an extra all-zero row, for the diagonal and padding.
        codes = np.full((b, max_atoms, max_atoms), len(self.pair_vocab), np.uint8 if len(self.pair_vocab) < 255 else np.uint16)
        block, k = ragged_positions(n * (n - 1) // 2)
        stored = self.pair_code[np.repeat(self.pair_offsets[rows], n * (n - 1) // 2) + k]
        codes[block, _PAIR_I[k], _PAIR_J[k]] = stored
        codes[block, _PAIR_J[k], _PAIR_I[k]] = stored
        pairs = np.empty((b, max_atoms, max_atoms, n_bits + 1), np.float32)
        pairs[..., :n_bits] = self._pair_table[codes]
        real = np.arange(max_atoms) < n[:, None]
        pair_mask = real[:, :, None] & real[:, None, :]
        squared = sum(np.square(x[:, :, None] - x[:, None, :]) for x in xyz.transpose(2, 0, 1))
        pairs[..., n_bits] = np.sqrt(squared) * pair_mask
        pair_mask &= ~np.eye(max_atoms, dtype=bool)
        return {"atoms": atoms, "pairs": pairs, "atom_mask": real.astype(np.float32),
                "pair_mask": pair_mask.astype(np.float32)}

    def sparse(self, rows: np.ndarray, capacity: Capacity | None = None) -> dict[str, np.ndarray]:
        """The sparse layout of :mod:`course.models.weave` for molecules ``rows``, padded to
        ``capacity`` (default: exactly their size) so that every batch has the same shapes.

        ``atoms`` (N, 21), ``pairs`` (P, 13) for each unordered pair i < j of a molecule, with
        ``pair_atoms`` (P, 2) its batch-wide atom numbers, ``atom_molecule`` (N,), and the masks
        ``atom_mask`` (N,), ``pair_mask`` (P,), ``molecule_mask`` (M,); padding is all zeros.
        Predictions of the padding molecules M > len(rows) are meaningless: drop them.

        Example::

            x = data.sparse(rows[:3])
            x["molecule_mask"].shape, int(x["atom_mask"].sum()) == data.n_atoms[rows[:3]].sum()
        """
        rows = np.asarray(rows, dtype=np.int64).ravel()
        n = self.n_atoms[rows].astype(np.int64)
        n_pairs = n * (n - 1) // 2
        capacity = capacity or Capacity(len(rows), int(n.sum()), int(n_pairs.sum()))
        if not capacity.holds(n):
            raise ValueError(f"{len(rows)} molecules with {n.sum()} atoms and {n_pairs.sum()} pairs exceed {capacity}")
        n_real, p_real = int(n.sum()), int(n_pairs.sum())
        atoms = np.zeros((capacity.atoms, len(self.atom_features)), np.float32)
        xyz = np.zeros((capacity.atoms, 3), np.float32)
        molecule = np.zeros(capacity.atoms, np.int32)
        block, _, source = self._atom_rows(rows)
        atoms[:n_real] = self._atom_features(source)
        xyz[:n_real] = self.xyz[source]
        molecule[:n_real] = block
        pair_block, k = ragged_positions(n_pairs)
        first_atom = (np.cumsum(n) - n)[pair_block]
        pair_atoms = np.zeros((capacity.pairs, 2), np.int32)
        pair_atoms[:p_real, 0] = first_atom + _PAIR_I[k]
        pair_atoms[:p_real, 1] = first_atom + _PAIR_J[k]
        n_bits = self.pair_vocab.shape[1]
        pairs = np.zeros((capacity.pairs, n_bits + 1), np.float32)
        pairs[:p_real, :n_bits] = self._pair_table[self.pair_code[np.repeat(self.pair_offsets[rows], n_pairs) + k]]
        i, j = pair_atoms[:p_real].T
        pairs[:p_real, n_bits] = np.sqrt(np.square(xyz[i] - xyz[j]).sum(-1))
        return {"atoms": atoms, "pairs": pairs, "pair_atoms": pair_atoms, "atom_molecule": molecule,
                "atom_mask": (np.arange(capacity.atoms) < n_real).astype(np.float32),
                "pair_mask": (np.arange(capacity.pairs) < p_real).astype(np.float32),
                "molecule_mask": (np.arange(capacity.molecules) < len(rows)).astype(np.float32)}

    def save(self, path: str | Path) -> Path:
        """One compressed ``.npz`` readable by :meth:`load` with numpy alone."""
        path = Path(path)
        np.savez_compressed(path, format_version=FORMAT_VERSION, atom_features=np.array(self.atom_features),
                            pair_features=np.array(self.pair_features), **{k: getattr(self, k) for k in _ARRAYS},
                            **{f"target/{k}": v for k, v in self.targets.items()})
        return path

    @classmethod
    def load(cls, path: str | Path) -> WeaveData:
        with np.load(path, allow_pickle=False) as f:
            if int(f["format_version"]) != FORMAT_VERSION:
                raise ValueError(f"{path}: format {int(f['format_version'])}, this code reads {FORMAT_VERSION}")
            return cls(**{k: f[k] for k in _ARRAYS},
                       targets={k.split("/", 1)[1]: f[k] for k in f.files if k.startswith("target/")},
                       atom_features=tuple(str(s) for s in f["atom_features"]),
                       pair_features=tuple(str(s) for s in f["pair_features"]))

    @classmethod
    def for_molecules(cls, data: QM9, qm9_indices: np.ndarray) -> WeaveData:
        """The weave inputs of the QM9 molecules ``qm9_indices``, read from the cached MG features:
        what a notebook calls to get its molecules. Example (``data = qm9.load()``)::

            weave_data = WeaveData.for_molecules(data, data.fold(0)[:100])
        """
        from course.features import qm9_graphs

        return cls.from_qm9(qm9_graphs.for_indices(data, qm9_indices), data, qm9_indices)

    @classmethod
    def from_qm9(cls, graphs: QM9Graphs, data: QM9, qm9_indices: np.ndarray | None = None) -> WeaveData:
        """Repack the cached MG features of ``qm9_indices`` (default: all usable molecules).

        Checks that the pair features are symmetric with a zero diagonal, that every vocabulary
        fits its code type, and that distances from the float32 coordinates match the cached
        ones within 1e-5 Å (which also proves the atoms are in the same order).
        """
        from course.data.splits import load_folds
        from course.features.graph import ATOM_FEATURES, PAIR_FEATURES  # here only: imports RDKit

        qm9_index = np.sort(graphs.indices if qm9_indices is None else np.asarray(qm9_indices, dtype=np.int64))
        batch, rows = graphs.batch, graphs.rows(qm9_index)
        n = batch.n_atoms[rows].astype(np.int64)
        atom_block, local = ragged_positions(n)
        atoms = batch.atoms[np.repeat(batch.atom_offsets[rows], n) + local]
        charge_column = ATOM_FEATURES.index("partial_charge")
        integer_part = atoms.copy()
        integer_part[:, charge_column] = 0
        atom_vocab, atom_code = np.unique(integer_part, axis=0, return_inverse=True)
        if not np.array_equal(atom_vocab, atom_vocab.astype(np.int8)):
            raise ValueError("atom features other than the partial charge are not small integers")

        qm9_rows = data.rows(qm9_index)
        if not np.array_equal(np.diff(data.offsets)[qm9_rows], n):
            raise ValueError("atom counts of the MG features and of QM9 differ")
        xyz = data.R[np.repeat(data.offsets[qm9_rows], n) + local].astype(np.float32)

        diagonal = np.repeat(batch.pair_offsets[rows], n) + local * (n[atom_block] + 1)
        if batch.pair_bits[diagonal].any():
            raise ValueError("pair features of an atom with itself are not zero")
        block, k = ragged_positions(n * (n - 1) // 2)
        i, j, n_of_pair = _PAIR_I[k], _PAIR_J[k], n[block]
        start = np.repeat(batch.pair_offsets[rows], n * (n - 1) // 2)
        upper, lower = batch.pair_bits[start + i * n_of_pair + j], batch.pair_bits[start + j * n_of_pair + i]
        if not np.array_equal(upper, lower):
            raise ValueError("pair features are not symmetric")
        if upper.max(initial=0) > 1:
            raise ValueError("pair bits are not 0/1")
        keys = upper.astype(np.uint16) @ (1 << np.arange(upper.shape[1], dtype=np.uint16))
        key_vocab, pair_code = np.unique(keys, return_inverse=True)
        if len(key_vocab) > 256 or len(atom_vocab) > 2 ** 16:
            raise ValueError(f"{len(key_vocab)} pair or {len(atom_vocab)} atom feature rows do not fit the codes")
        pair_vocab = ((key_vocab[:, None] >> np.arange(upper.shape[1])) & 1).astype(np.uint8)

        atom_start = np.repeat(np.cumsum(n) - n, n * (n - 1) // 2)
        recomputed = np.sqrt(np.square(xyz[atom_start + i] - xyz[atom_start + j]).sum(-1))
        error = np.abs(recomputed - batch.distances[start + i * n_of_pair + j]).max(initial=0)
        if error > 1e-5:
            raise ValueError(f"distances from the QM9 coordinates differ from the MG features by {error:.3g} Å")

        index, fold = load_folds()
        return cls(n_atoms=n.astype(np.uint8), qm9_index=qm9_index, fold=fold[np.searchsorted(index, qm9_index)],
                   atom_code=atom_code.ravel().astype(np.uint16), atom_vocab=atom_vocab.astype(np.int8),
                   partial_charge=atoms[:, charge_column].copy(), xyz=xyz, pair_code=pair_code.ravel().astype(np.uint8),
                   pair_vocab=pair_vocab,
                   targets={c: data.table[c].to_numpy(np.float64)[qm9_rows] for c in TARGET_COLUMNS},
                   atom_features=ATOM_FEATURES, pair_features=PAIR_FEATURES)
