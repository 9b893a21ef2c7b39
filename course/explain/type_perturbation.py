"""Perturbation by feature type: does removing the types an explanation ranks first move a QM9 model most?

The perturbation test of :mod:`course.explain.perturbation` needs the same features in every sample.
Molecules differ in their atoms and pairs, but every molecule has the 12 feature types of
:data:`course.explain.feature_types.TYPES`, so the test removes whole types: all features of a type,
on every real atom or pair of the molecule, are replaced by their mean over reference molecules (the
training set). That is the value that tells the model least about this molecule, and the same for
every molecule; padding stays zero. Ranking the types of each molecule by LRP
(:attr:`TypeRelevance.signed <course.explain.feature_types.TypeRelevance>`), by
:meth:`TypeRemoval.gradient_relevance` or at random then gives curves that can be compared.

A one-hot feature replaced by its mean becomes a fraction (0.3 of a carbon): the model is asked about
inputs it never saw, as with a blurred image in pixel flipping. The curves compare rankings on the
same model and molecules; they do not say what the model "would" predict without a feature type.
"""
from __future__ import annotations

import numpy as np
from keras import ops

from course.explain.feature_types import ATOM_TYPE_MEMBERSHIP, PAIR_TYPE_MEMBERSHIP, TYPES, sum_per_type
from course.explain.lrp_weave import explained_value
from course.explain.network import check_start
from course.models.autodiff import gradients
from course.models.weave import WeaveModel
from course.models.weave_data import WeaveData


def feature_means(data: WeaveData, rows: np.ndarray, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Mean of every atom feature (21,) over the real atoms and of every pair feature (13,), the spatial
    distance included, over the real ordered pairs i ≠ j of molecules ``rows``."""
    rows = np.asarray(rows, dtype=np.int64)
    if not len(rows):
        raise ValueError("no molecules to average over")
    atom_sum = pair_sum = 0.0
    n_atoms = n_pairs = 0.0
    for chunk in np.array_split(rows, -(-len(rows) // batch_size)):
        x = data.padded(chunk, max_atoms=int(data.n_atoms[chunk].max()))
        atom_sum = atom_sum + np.einsum("baf,ba->f", x["atoms"], x["atom_mask"], dtype=float)
        pair_sum = pair_sum + np.einsum("bijf,bij->f", x["pairs"], x["pair_mask"], dtype=float)
        n_atoms += x["atom_mask"].sum(dtype=float)
        n_pairs += x["pair_mask"].sum(dtype=float)
    return atom_sum / n_atoms, pair_sum / n_pairs


class TypeRemoval:
    """The explained value of molecules ``rows`` as a function of which feature types they keep.

    Call it with ``keep`` (len(rows), 12), 1 to keep a type and 0 to replace it by ``means`` (from
    :func:`feature_means`); it is the ``predict`` of :func:`course.explain.perturbation.perturbation_curves`
    with ``X = ones`` and ``baseline = 0``. The molecules are padded once, in batches of similar
    size, and kept: one call costs one forward pass over them.
    """

    def __init__(self, model: WeaveModel, data: WeaveData, rows: np.ndarray, means: tuple[np.ndarray, np.ndarray],
                 start: str = "output", batch_size: int = 128) -> None:
        check_start(start, "weave")
        rows = np.asarray(rows, dtype=np.int64)
        if not len(rows):
            raise ValueError("no molecules to perturb")
        self.model, self.start, self.n = model, start, len(rows)
        atom_means, pair_means = (np.asarray(m, dtype=model.compute_dtype) for m in means)
        if atom_means.shape != (len(data.atom_features),) or pair_means.shape != (len(data.pair_features),):
            raise ValueError(f"means must have {len(data.atom_features)} atom and {len(data.pair_features)} pair "
                             f"values, got {atom_means.shape} and {pair_means.shape}")
        self.atom_means, self.pair_means = atom_means, pair_means
        by_size = np.argsort(data.n_atoms[rows], kind="stable")
        dtype = model.compute_dtype
        self.batches = []
        for chunk in np.array_split(by_size, -(-len(rows) // batch_size)):
            x = data.padded(rows[chunk], max_atoms=int(data.n_atoms[rows[chunk]].max()))
            self.batches.append((chunk, {k: v.astype(dtype) for k, v in x.items()}))

    def inputs(self, x: dict, keep: np.ndarray) -> dict:
        """A copy of the padded batch ``x`` with the features of every type that ``keep`` (B, 12) drops
        replaced by the means on real atoms and real pairs."""
        dtype = x["atoms"].dtype
        atom_keep = (np.asarray(keep) @ ATOM_TYPE_MEMBERSHIP.T).astype(dtype)[:, None, :]
        pair_keep = (np.asarray(keep) @ PAIR_TYPE_MEMBERSHIP.T).astype(dtype)[:, None, None, :]
        atom_fill = (1 - atom_keep) * self.atom_means * x["atom_mask"][..., None]
        pair_fill = (1 - pair_keep) * self.pair_means * x["pair_mask"][..., None]
        return {**x, "atoms": x["atoms"] * atom_keep + atom_fill, "pairs": x["pairs"] * pair_keep + pair_fill}

    def __call__(self, keep: np.ndarray) -> np.ndarray:
        keep = np.asarray(keep)
        if keep.shape != (self.n, len(TYPES)):
            raise ValueError(f"keep must have shape ({self.n}, {len(TYPES)}), got {keep.shape}")
        values = np.empty(self.n)
        for chunk, x in self.batches:
            trace = self.model.trace(self.inputs(x, keep[chunk]))
            values[chunk] = ops.convert_to_numpy(explained_value(self.model, trace, self.start))
        return values

    def gradient_relevance(self) -> tuple[np.ndarray, np.ndarray]:
        """Per molecule and type (len(rows), 12): gradient × input and the sensitivity Σ (∂f/∂x)², each
        summed over the type's features on real atoms and pairs, at the unperturbed molecules."""
        times_input, sensitivity = np.empty((self.n, len(TYPES))), np.empty((self.n, len(TYPES)))
        for chunk, x in self.batches:
            def total(atoms, pairs):
                trace = self.model.trace({**x, "atoms": atoms, "pairs": pairs})
                return ops.sum(explained_value(self.model, trace, self.start))

            g_atoms, g_pairs = gradients(total, x["atoms"], x["pairs"])
            g_atoms, g_pairs = g_atoms * x["atom_mask"][..., None], g_pairs * x["pair_mask"][..., None]
            times_input[chunk] = sum_per_type(g_atoms * x["atoms"], g_pairs * x["pairs"])
            sensitivity[chunk] = sum_per_type(g_atoms ** 2, g_pairs ** 2)
        return times_input, sensitivity
