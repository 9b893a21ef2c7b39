"""Layer-wise relevance propagation through the weave graph model of Module 4, with ``keras.ops`` only.

:func:`explain_weave` explains one value per molecule, batched over the molecules of a padded
input dict (``WeaveData.padded``), down to the 21 features of every atom and the 13 features of
every ordered atom pair. For a model with several outputs (one per slot of a set target) the value
is one output or a weighted sum of outputs, chosen by ``outputs`` (:func:`output_weights`). It walks the equations of ``course.models.weave`` backwards, reading every
activation from :meth:`WeaveModel.trace`; every ``Dense`` sublayer goes through
:func:`course.explain.backward.linear_relevance` with its rule, so the rules live in one place.

The weave-specific choices (concatenations, sums of ReLU outputs, the atom → pair map, distances,
TargetScale) are stated where they are made: :func:`_weave_layer`, :func:`_shares` and
:func:`explain_weave`. Conservation, exact up to rounding for every molecule:
Σ atoms + Σ pairs + absorbed() = start, i.e. ``completeness_gap()`` ≈ 0.

Rules: one rule for every Dense sublayer or a :class:`course.explain.composites.Composite` keyed by
the names of :func:`dense_names` (``"weave_0/atom_to_atom"``, ..., ``"readout/project"``,
``"head_0"``, ``"head_out"``) or by position in that list (0 the first, −1 the output layer).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
from keras import ops

from course.explain.attribution import AbsorbedShares
from course.explain.backward import linear_relevance
from course.explain.composites import Composite, as_composite
from course.explain.network import check_start
from course.explain.rules import Rule
from course.models.weave import WeaveLayer, WeaveModel

@dataclass
class WeaveRelevance(AbsorbedShares):
    """Relevances of one batch of B molecules padded to A atoms (numpy arrays).

    ``atoms`` (B, A, 21); ``pairs`` (B, A, A, 13) per ordered pair (i, j), the spatial distance
    holding the sum of ``distance_channels`` (B, A, A, K); ``start`` (B,) the explained value;
    ``prediction`` (B,) the model's output (the same weighted sum of its outputs); ``n_atoms`` (B,); ``bias`` and ``stabilizer``: per Dense
    sublayer (and the TargetScale offset) the relevance (B,) absorbed there.
    """

    atoms: np.ndarray
    pairs: np.ndarray
    distance_channels: np.ndarray
    start: np.ndarray
    prediction: np.ndarray
    n_atoms: np.ndarray

    def attributed(self) -> np.ndarray:
        """(B,) Σ of the relevances of all atom and pair features."""
        return self.atoms.sum(axis=(1, 2)) + self.pairs.sum(axis=(1, 2, 3))


def dense_names(model: WeaveModel) -> list[str]:
    """Names of the model's Dense sublayers from input to output: the keys of a Composite."""
    return [name for name, _ in _dense_layers(model)]


def _dense_layers(model: WeaveModel) -> list[tuple[str, keras.layers.Dense]]:
    layers = [(f"{w.name}/{n}", getattr(w, n)) for w in model.weave for n in w.dense_names]
    return layers + [(f"{model.readout.name}/project", model.readout.project)] + [(d.name, d) for d in model.head]


class _Ledger:
    """Applies each Dense's rule and books what its bias and stabilizer absorb, per molecule."""

    def __init__(self, model: WeaveModel, rule: Rule | Composite, batch: int) -> None:
        layers = _dense_layers(model)
        rules = as_composite(rule).rules_for([name for name, _ in layers])
        self.layers = {name: (dense, rule) for (name, dense), rule in zip(layers, rules)}
        self.batch = batch
        self.bias: dict[str, Any] = {}
        self.stabilizer: dict[str, Any] = {}

    def dense(self, name: str, x: Any, relevance: Any) -> Any:
        """Relevance of ``x`` (..., J) for the Dense ``name`` applied on its last axis, given that of its output."""
        dense, rule = self.layers[name]
        n_in, n_out = x.shape[-1], relevance.shape[-1]
        step = linear_relevance(ops.reshape(x, (-1, n_in)), dense.kernel, dense.bias,
                                ops.reshape(relevance, (-1, n_out)), rule)
        self.absorb(name, step.bias, step.stabilizer)
        return ops.reshape(step.relevance, (*x.shape[:-1], n_in))

    def absorb(self, name: str, bias: Any, stabilizer: Any = None) -> None:
        self.bias[name] = ops.sum(ops.reshape(bias, (self.batch, -1)), axis=1)
        if stabilizer is not None:
            self.stabilizer[name] = ops.sum(ops.reshape(stabilizer, (self.batch, -1)), axis=1)


def _shares(terms: Any, total: Any, relevance: Any) -> Any:
    """Relevance of each non-negative term of ``total`` in proportion to the term (0 where total is 0).

    Used for the sums of ReLU outputs (PA_i = Σ_j m_ij σ(z_ij), the readout g = Σ_i m_i σ(z_i),
    AP_ij = σ(z_ij) + σ(z_ji)): terms ≥ 0 with weight 1 and no bias, where LRP-0, γ, z⁺ and α1β0 all
    give this split, and ε and αβ with β > 0 would have nothing to act on. Masked terms are 0, so
    padding atoms and pairs and the diagonal i = j get exactly no relevance."""
    usable = total > 0
    return terms * ops.where(usable, relevance / ops.where(usable, total, ops.ones_like(total)), 0)


def _weave_layer(ledger: _Ledger, layer: WeaveLayer, t: dict, atoms: Any, pairs: Any, pair_mask: Any,
                 R_atoms: Any, R_pairs: Any | None) -> tuple[Any, Any]:
    """Relevance of a weave layer's inputs (atoms, pairs) from that of its outputs.

    A concatenation ``W [x ‖ y]`` is one Dense, so its rule splits a neuron's relevance over both
    streams at once. ``W_AP [a_i ‖ a_j]`` is evaluated for both orders of every pair: the relevance
    of AP_ij is split between the two ReLU terms, then each goes by the rule to the atom states of
    its order. ReLU passes relevance unchanged."""
    name, relu, width = layer.name, ops.relu, layer.width
    # atom half: a'_i = m_i σ(W_A [AA_i ‖ PA_i] + b_A)
    R_cat = ledger.dense(f"{name}/atom_update", ops.concatenate([t["atom_to_atom"], t["pair_to_atom"]], axis=-1),
                         R_atoms)
    R_AA, R_PA = ops.split(R_cat, [width], axis=-1)
    R_in_atoms = ledger.dense(f"{name}/atom_to_atom", atoms, R_AA)
    R_PA_z = _shares(relu(t["pair_to_atom_z"]) * pair_mask[..., None], t["pair_to_atom"][:, :, None, :],
                     R_PA[:, :, None, :])
    R_in_pairs = ledger.dense(f"{name}/pair_to_atom", pairs, R_PA_z)
    if R_pairs is None:
        return R_in_atoms, R_in_pairs
    # pair half: p'_ij = m_ij σ(W_P [AP_ij ‖ PP_ij] + b_P), AP_ij = σ(z_ij) + σ(z_ji)
    R_cat = ledger.dense(f"{name}/pair_update", ops.concatenate([t["atom_to_pair"], t["pair_to_pair"]], axis=-1),
                         R_pairs)
    R_AP, R_PP = ops.split(R_cat, [width], axis=-1)
    R_in_pairs = R_in_pairs + ledger.dense(f"{name}/pair_to_pair", pairs, R_PP)
    forward = relu(t["atom_to_pair_z"])
    swap = (0, 2, 1, 3)
    R_z = (_shares(forward, t["atom_to_pair"], R_AP)
           + ops.transpose(_shares(ops.transpose(forward, swap), t["atom_to_pair"], R_AP), swap))
    b, n, f = atoms.shape
    both = ops.concatenate([ops.broadcast_to(atoms[:, :, None, :], (b, n, n, f)),  # [a_i ‖ a_j] at (i, j)
                            ops.broadcast_to(atoms[:, None, :, :], (b, n, n, f))], axis=-1)
    R_first, R_second = ops.split(ledger.dense(f"{name}/atom_to_pair", both, R_z), [f], axis=-1)
    R_in_atoms = R_in_atoms + ops.sum(R_first, axis=2) + ops.sum(R_second, axis=1)
    return R_in_atoms, R_in_pairs


def output_weights(outputs: int | np.ndarray | None, batch: int, n_outputs: int) -> np.ndarray:
    """(batch, n_outputs) weights w of the outputs whose sum Σ_k w_k y_k is explained.

    ``outputs``: ``None`` (a model with one output), an output's index (negative counts from the
    end), or weights (n_outputs,) for every molecule or (batch, n_outputs) per molecule, e.g. the
    mask of a set target, which explains the sum of a molecule's real outputs.

    >>> output_weights(-1, 2, 3).tolist()
    [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]
    >>> output_weights(np.array([[1, 1, 0], [1, 0, 0]]), 2, 3).tolist()
    [[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    """
    if outputs is None:
        if n_outputs != 1:
            raise ValueError(f"the model has {n_outputs} outputs: choose one (an index) or weights of them (outputs=...)")
        return np.ones((batch, 1))
    if isinstance(outputs, (int, np.integer)):
        if not -n_outputs <= outputs < n_outputs:
            raise ValueError(f"output {outputs} does not exist: the model has {n_outputs} outputs")
        weights = np.zeros((batch, n_outputs))
        weights[:, outputs] = 1.0
        return weights
    weights = np.asarray(outputs, dtype=float)
    if weights.shape not in ((n_outputs,), (batch, n_outputs)):
        raise ValueError(f"output weights of shape {weights.shape}: need ({n_outputs},) or ({batch}, {n_outputs})")
    return np.broadcast_to(weights, (batch, n_outputs)).copy()


def explained_value(model: WeaveModel, trace: dict, start: str, outputs: int | np.ndarray | None = None) -> Any:
    """(B,) the value LRP explains, from :meth:`WeaveModel.trace`: Σ_k w_k of the predictions
    (``"output"``) or of the network's parts s·net_k of them (``"network"``), with the weights w of
    :func:`output_weights` (``outputs``)."""
    value = trace["output"] if start == "output" else model.target_scale.scale * trace["net"]
    weights = output_weights(outputs, value.shape[0], value.shape[1])
    return ops.sum(value * ops.convert_to_tensor(weights, dtype=value.dtype), axis=1)


def explain_weave(model: WeaveModel, inputs: dict[str, np.ndarray], rule: Rule | Composite,
                  start: str = "output", outputs: int | np.ndarray | None = None) -> WeaveRelevance:
    """LRP relevance of every atom and pair feature for each molecule's prediction.

    ``inputs``: the dict of ``WeaveData.padded`` / ``GraphBatch.padded``; ``rule``: one rule for
    every Dense sublayer or a Composite (see the module docstring); ``start``: ``"output"`` (the
    prediction) or ``"network"`` (s·net, the prediction minus the bag-of-atoms baseline). Computed
    in the model's dtype. Only the ``"sum"`` readout is supported.

    ``outputs`` (:func:`output_weights`) chooses what a model with several outputs explains: one
    output, or Σ_k w_k y_k. The output layer is linear, so that sum starts as relevance w_k s·net_k
    on output k, and the baseline and offset, which every output shares, count Σ_k w_k times.

    With ``"output"``, y = s·net + Σ_i m_i w·a_i + b is split exactly: the baseline w·a_i goes to
    the atom features (w_f a_if to feature f), the offset b is absorbed
    (``bias["target_scale/offset"]``) and s·net goes into the network. The K Gaussian channels of
    a distance (``distance_channels``) are summed onto the spatial distance they are functions of.
    """
    check_start(start, "weave")
    if model.readout.mode != "sum":
        raise ValueError(f"LRP through the {model.readout.mode!r} readout is not implemented: its Gaussian "
                         "memberships are not a weighted sum; explain a model with readout='sum'")
    dtype = model.compute_dtype
    x = {k: ops.convert_to_tensor(np.asarray(inputs[k]), dtype=dtype) for k in ("atoms", "pairs", "atom_mask",
                                                                               "pair_mask")}
    atoms, atom_mask, pair_mask = x["atoms"], x["atom_mask"], x["pair_mask"]
    batch = atoms.shape[0]
    t = model.trace(x)
    ledger = _Ledger(model, rule, batch)
    scale = model.target_scale
    weights = ops.convert_to_tensor(output_weights(outputs, batch, t["net"].shape[1]), dtype=dtype)
    R_net = scale.scale * t["net"] * weights
    R_baseline = ops.zeros_like(atoms)
    start_value = explained_value(model, t, start, outputs)
    if start == "output":
        times = ops.sum(weights, axis=1)  # how often the shared baseline and offset enter the sum
        R_baseline = atoms * scale.reference * atom_mask[..., None] * times[:, None, None]
        ledger.absorb("target_scale/offset", times * scale.offset)

    R = R_net
    head_inputs = [t["readout"]["molecule"]] + [step["a"] for step in t["head"][:-1]]
    for dense, x_in in reversed(list(zip(model.head, head_inputs))):
        R = ledger.dense(dense.name, x_in, R)
    R = _shares(t["readout"]["atom_terms"] * atom_mask[..., None], t["readout"]["molecule"][:, None, :], R[:, None, :])
    R_atoms = ledger.dense(f"{model.readout.name}/project", t["weave"][-1]["atoms"], R)
    R_pairs = None
    layer_inputs = [(atoms, t["pairs_expanded"])] + [(s["atoms"], s["pairs"]) for s in t["weave"][:-1]]
    for layer, step, (a_in, p_in) in reversed(list(zip(model.weave, t["weave"], layer_inputs))):
        R_atoms, R_pairs = _weave_layer(ledger, layer, step, a_in, p_in, pair_mask, R_atoms, R_pairs)

    n_bits = x["pairs"].shape[-1] - 1
    distance_channels = R_pairs[..., n_bits:]
    pairs = ops.concatenate([R_pairs[..., :n_bits], ops.sum(distance_channels, axis=-1, keepdims=True)], axis=-1)
    numpy = ops.convert_to_numpy
    order = [*dense_names(model), "target_scale/offset"]  # input side first, as in LRPResult
    return WeaveRelevance(
        atoms=numpy(R_atoms + R_baseline), pairs=numpy(pairs), distance_channels=numpy(distance_channels),
        start=numpy(start_value), prediction=numpy(explained_value(model, t, "output", outputs)),
        n_atoms=numpy(ops.sum(atom_mask, axis=1)).round().astype(int),
        bias={k: numpy(ledger.bias[k]) for k in order if k in ledger.bias},
        stabilizer={k: numpy(ledger.stabilizer[k]) for k in order if k in ledger.stabilizer})
