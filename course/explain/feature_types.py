"""Relevance per feature *type*: the 12 numbers per molecule that seed 001 (Aim 2) compares.

The seed asks which kinds of input (atom type, partial charge, bond type, spatial distance, ...)
a model relies on, across molecules of different sizes. Per molecule, the LRP relevances of
:func:`course.explain.lrp_weave.explain_weave` are summed over the features of each of the 12
types of ``course.features.graph.FEATURE_TYPES`` and over all real atoms (atom types) or all real
ordered pairs (pair types), then divided by the number of atoms. Dividing atom and pair types by
the same count keeps them comparable (a pair's relevance counts as half for each of its atoms)
and keeps conservation: a molecule's 12 signed values sum to (start − absorbed) / n_atoms.
"Absolute" takes |R| of every input feature of every atom or pair before those sums, as the seed
does "prior to reduction over features".

**Normalization (our reading of the seed).** The seed scales relevances "so that [they] have zero
mean with a minimum and maximum corresponding to the largest absolute values in the QM9 dataset,
placing all relevances on the same relative scale". Taken literally per feature type, centring
would make every type's mean over molecules zero, and the seed's bar charts of mean relevance per
type would show nothing. We keep the part that puts properties with different units (bohr³, eV)
on one scale: :meth:`TypeRelevance.normalized` divides the signed table by its largest |value| over
the molecules and types it holds (values in [−1, 1], signs and ratios between types kept) and the
absolute table by its own largest value (values in [0, 1]); nothing is centred. Normalize after
choosing the molecules (e.g. without prediction outliers), since the scale depends on them.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import numpy as np

from course.explain.attribution import Attribution
from course.explain.composites import Composite
from course.explain.lrp_weave import WeaveRelevance, explain_weave
from course.explain.rules import Rule
from course.features.graph import ATOM_FEATURES, FEATURE_TYPES, PAIR_FEATURES
from course.models.weave import WeaveModel
from course.models.weave_data import WeaveData

#: The 12 feature types in the order of the MG tables: 8 atom types, then 4 pair types.
TYPES: tuple[str, ...] = tuple(dict.fromkeys(FEATURE_TYPES.values()))


def _membership(names: Sequence[str]) -> np.ndarray:
    """(len(names), 12) 0/1: which type each feature belongs to."""
    return np.array([[FEATURE_TYPES[n] == t for t in TYPES] for n in names], dtype=float)


#: (21, 12) and (13, 12) 0/1 tables: the type of every atom feature and of every pair feature.
ATOM_TYPE_MEMBERSHIP, PAIR_TYPE_MEMBERSHIP = _membership(ATOM_FEATURES), _membership(PAIR_FEATURES)


def sum_per_type(atoms: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """(B, 12) sums of per-feature values ``atoms`` (B, A, 21) and ``pairs`` (B, A, A, 13) over each
    type's features, all atoms and all pairs (padding must hold zeros)."""
    return atoms.sum(axis=1) @ ATOM_TYPE_MEMBERSHIP + pairs.sum(axis=(1, 2)) @ PAIR_TYPE_MEMBERSHIP


@dataclass(frozen=True)
class TypeRelevance(Attribution):
    """Per molecule: ``signed`` and ``absolute`` (M, 12) relevance per type and atom (columns in the
    order of :data:`TYPES`), ``start`` the explained value, ``prediction``, ``absorbed_relevance``
    (what reached no input, also :meth:`absorbed`) and ``n_atoms``, all (M,). Index it with rows to
    keep some molecules."""

    signed: np.ndarray
    absolute: np.ndarray
    start: np.ndarray
    prediction: np.ndarray
    absorbed_relevance: np.ndarray
    n_atoms: np.ndarray

    def __getitem__(self, rows) -> TypeRelevance:
        return TypeRelevance(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})

    def __len__(self) -> int:
        return len(self.start)

    @classmethod
    def concatenate(cls, parts: Sequence[TypeRelevance]) -> TypeRelevance:
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)})

    def attributed(self) -> np.ndarray:
        """(M,) Σ_types signed · n_atoms: the relevance that reached the molecule's features."""
        return self.signed.sum(1) * self.n_atoms

    def absorbed(self) -> np.ndarray:
        """(M,) the relevance that reached no input feature (biases, stabilizers, the offset)."""
        return self.absorbed_relevance

    def normalized(self) -> TypeRelevance:
        """``signed`` / max |signed| and ``absolute`` / max ``absolute`` over these molecules (see the
        module docstring); the other fields stay in property units."""
        def scaled(table: np.ndarray) -> np.ndarray:
            largest = np.abs(table).max(initial=0)
            return table / largest if largest > 0 else table
        return replace(self, signed=scaled(self.signed), absolute=scaled(self.absolute))


def feature_type_relevance(result: WeaveRelevance) -> TypeRelevance:
    """Relevance per feature type and atom of every molecule of one explained batch (not normalized)."""
    n = result.n_atoms[:, None].astype(float)
    return TypeRelevance(signed=sum_per_type(result.atoms, result.pairs) / n,
                         absolute=sum_per_type(np.abs(result.atoms), np.abs(result.pairs)) / n,
                         start=result.start, prediction=result.prediction, absorbed_relevance=result.absorbed(),
                         n_atoms=result.n_atoms)


def explain_rows(model: WeaveModel, data: WeaveData, rows: np.ndarray, rule: Rule | Composite,
                 start: str = "output", batch_size: int = 128,
                 outputs: int | np.ndarray | None = None) -> TypeRelevance:
    """:func:`feature_type_relevance` of the molecules ``rows`` of ``data``, in that order.

    ``outputs``: which output, or weights of the outputs, to explain (see
    :func:`course.explain.lrp_weave.output_weights`); weights per molecule are (len(rows), n_outputs)
    in the order of ``rows``. Molecules go through in batches of similar size, each padded only to its
    largest molecule, which roughly halves the work on QM9 compared with padding every batch to 29 atoms."""
    rows = np.asarray(rows, dtype=np.int64)
    if not len(rows):
        raise ValueError("no molecules to explain")
    per_molecule = outputs is not None and np.ndim(outputs) == 2
    if per_molecule and len(outputs) != len(rows):
        raise ValueError(f"{len(outputs)} rows of output weights for {len(rows)} molecules")
    by_size = np.argsort(data.n_atoms[rows], kind="stable")
    parts = []
    for chunk in np.array_split(by_size, max(1, -(-len(rows) // batch_size))):
        batch = rows[chunk]
        inputs = data.padded(batch, max_atoms=int(data.n_atoms[batch].max()))
        chosen = np.asarray(outputs)[chunk] if per_molecule else outputs
        parts.append(feature_type_relevance(explain_weave(model, inputs, rule, start, chosen)))
    return TypeRelevance.concatenate(parts)[np.argsort(by_size)]
