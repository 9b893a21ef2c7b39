"""LRP through the weave model: conservation in float64, padding, atom order, the LRP-0 = gradient × input
identity of bias-free ReLU networks, the per-type aggregation against a hand computation, and the committed
quick model on a few QM9 molecules."""
from dataclasses import replace

import numpy as np
import pytest
from keras import ops

from course.explain import (TYPES, LRP0, AlphaBeta, Composite, Epsilon, Gamma, TypeRelevance, WeaveRelevance, ZPlus,
                            dense_names, explain_rows, explain_weave, feature_type_relevance)
from course.models.autodiff import gradients
from course.models.weave import GaussianDistances, build_weave_model
from weave_cases import SMALL, random_batch, small_model

COMPOSITE = Composite({0: Gamma(0.5), "weave_0/pair_to_atom": ZPlus(), -1: LRP0()}, default=Epsilon(0.2))
RULES = [LRP0(), Epsilon(0.1), COMPOSITE, AlphaBeta(2, 1)]


@pytest.fixture(scope="module")
def case():
    return small_model(0), random_batch(np.random.default_rng(1), [6, 4, 2], pad_to=6)


@pytest.mark.parametrize("start", ["output", "network"])
@pytest.mark.parametrize("rule", RULES, ids=lambda r: type(r).__name__)
def test_relevance_is_conserved_in_float64(case, rule, start):
    model, x = case
    result = explain_weave(model, x, rule, start=start)
    inputs = result.atoms.sum(axis=(1, 2)) + result.pairs.sum(axis=(1, 2, 3))
    absorbed = sum(result.bias.values()) + sum(result.stabilizer.values())
    np.testing.assert_allclose(inputs + absorbed, result.start, rtol=1e-6)
    np.testing.assert_allclose(result.completeness_gap(), result.start - inputs - absorbed, atol=1e-9)
    expected = model.trace(x)["output"][:, 0] - (0 if start == "output" else model.trace(x)["baseline"][:, 0])
    np.testing.assert_allclose(result.start, ops.convert_to_numpy(expected), rtol=1e-12)
    assert list(result.bias)[:len(dense_names(model))] == dense_names(model)
    assert ("target_scale/offset" in result.bias) == (start == "output")
    np.testing.assert_allclose(result.pairs[..., -1], result.distance_channels.sum(-1), rtol=1e-12)


@pytest.mark.parametrize("start", ["output", "network"])
def test_a_chosen_output_or_a_weighted_sum_of_outputs_is_explained_and_conserved(start):
    # LRP-ε and z⁺ are linear in the relevance they start from (the activations are fixed), so the
    # relevance of Σ_k w_k y_k must be Σ_k w_k × the relevance of y_k, each explained on its own.
    model = small_model(6, n_outputs=4)
    x = random_batch(np.random.default_rng(7), [5, 3, 4], pad_to=5)
    trace = model.trace(x)
    part = trace["output"] - (0 if start == "output" else trace["baseline"])
    part, output = ops.convert_to_numpy(part), ops.convert_to_numpy(trace["output"])
    weights = np.array([[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 1.0, 0.0], [0.5, 0.0, 2.0, -1.0]])
    each = [explain_weave(model, x, COMPOSITE, start=start, outputs=k) for k in range(4)]
    both = explain_weave(model, x, COMPOSITE, start=start, outputs=weights)
    for k, one in enumerate(each):
        np.testing.assert_allclose(one.start, part[:, k], rtol=1e-12)
        np.testing.assert_allclose(one.prediction, output[:, k], rtol=1e-12)
        np.testing.assert_allclose(one.completeness_gap(), 0, atol=1e-9 * np.abs(one.start).max())
    np.testing.assert_allclose(explain_weave(model, x, COMPOSITE, start=start, outputs=-1).atoms, each[3].atoms)
    np.testing.assert_allclose(both.start, (weights * part).sum(1), rtol=1e-12)
    np.testing.assert_allclose(both.completeness_gap(), 0, atol=1e-9 * np.abs(both.start).max())
    for field in ("atoms", "pairs"):
        combined = sum(w.reshape(-1, *[1] * (getattr(e, field).ndim - 1)) * getattr(e, field)
                       for w, e in zip(weights.T, each))
        np.testing.assert_allclose(getattr(both, field), combined, rtol=1e-9, atol=1e-12)
    for name in both.bias:
        np.testing.assert_allclose(both.bias[name], sum(w * e.bias[name] for w, e in zip(weights.T, each)),
                                   rtol=1e-9, atol=1e-12)
    same = explain_weave(model, x, COMPOSITE, start=start, outputs=np.ones(4))
    np.testing.assert_allclose(same.start, part.sum(1), rtol=1e-12)


def test_output_weights_are_checked():
    model = small_model(6, n_outputs=4)
    x = random_batch(np.random.default_rng(7), [5, 3], pad_to=5)
    with pytest.raises(ValueError, match="4 outputs: choose one"):
        explain_weave(model, x, LRP0())
    with pytest.raises(ValueError, match="output 4 does not exist"):
        explain_weave(model, x, LRP0(), outputs=4)
    with pytest.raises(ValueError, match="need \\(4,\\) or \\(2, 4\\)"):
        explain_weave(model, x, LRP0(), outputs=np.ones((3, 4)))


def test_padding_gets_nothing_and_garbage_in_it_changes_nothing(case):
    model, x = case
    rng = np.random.default_rng(2)
    wide = {"atoms": np.zeros((3, 9, 21)), "pairs": np.zeros((3, 9, 9, 13)), "atom_mask": np.zeros((3, 9)),
            "pair_mask": np.zeros((3, 9, 9))}
    for k, v in x.items():
        wide[k][tuple(slice(0, s) for s in v.shape)] = v
    garbage = 1 - np.concatenate([x["atom_mask"], np.zeros((3, 3))], axis=1)
    wide["atoms"] += 5 * rng.normal(size=wide["atoms"].shape) * garbage[..., None]
    wide["pairs"] += 5 * np.abs(rng.normal(size=wide["pairs"].shape)) * (1 - wide["pair_mask"])[..., None]
    narrow, padded = explain_weave(model, x, Epsilon(0.1)), explain_weave(model, wide, Epsilon(0.1))
    np.testing.assert_allclose(padded.atoms[:, :6], narrow.atoms, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(padded.pairs[:, :6, :6], narrow.pairs, rtol=1e-10, atol=1e-13)
    assert np.all(padded.atoms[garbage.astype(bool)] == 0)
    assert np.all(padded.pairs[wide["pair_mask"] == 0] == 0)  # padding and the diagonal i = i
    np.testing.assert_allclose(padded.start, narrow.start, rtol=1e-12)


def test_permuting_atoms_permutes_relevances(case):
    model, x = case
    perm = np.random.default_rng(3).permutation(6)
    shuffled = {"atoms": x["atoms"][:, perm], "pairs": x["pairs"][:, perm][:, :, perm],
                "atom_mask": x["atom_mask"][:, perm], "pair_mask": x["pair_mask"][:, perm][:, :, perm]}
    original, permuted = explain_weave(model, x, COMPOSITE), explain_weave(model, shuffled, COMPOSITE)
    np.testing.assert_allclose(permuted.atoms, original.atoms[:, perm], rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(permuted.pairs, original.pairs[:, perm][:, :, perm], rtol=1e-9, atol=1e-13)


def test_lrp0_is_gradient_times_input_without_biases(monkeypatch):
    # Without biases the network is a ReLU network of the atom features and the *expanded* pair
    # features (the Gaussians are not linear in the distance), so LRP-0 must equal x ⊙ ∂y/∂x there.
    model = small_model(4, zero_bias=True)
    x = random_batch(np.random.default_rng(5), [5, 3], pad_to=5)
    result = explain_weave(model, x, LRP0())
    assert np.abs(result.pairs).sum() > 1  # relevance reaches the pairs: the network is not dead
    expanded = ops.convert_to_numpy(model.distances(x["pairs"]))
    monkeypatch.setattr(GaussianDistances, "call", lambda self, pairs: pairs)  # feed the expanded features

    def output(atoms, pairs_expanded):
        return ops.sum(model({**x, "atoms": atoms, "pairs": pairs_expanded}))

    grad_atoms, grad_pairs = gradients(output, x["atoms"], expanded)
    np.testing.assert_allclose(result.atoms, x["atoms"] * grad_atoms, rtol=1e-9, atol=1e-12)
    reference = expanded * grad_pairs
    np.testing.assert_allclose(result.pairs[..., :-1], reference[..., :12], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(result.distance_channels, reference[..., 12:], rtol=1e-9, atol=1e-12)
    absorbed = {k: v for k, v in {**result.bias, **result.stabilizer}.items() if np.any(v != 0)}
    assert list(absorbed) == ["target_scale/offset"]  # the only constant left


def test_type_relevance_by_hand():
    # One molecule, 2 atoms: atom relevances in 'partial_charge' (0.5 and −1.5) and 'type_C' (1.0);
    # pair (0, 1) has 2.0 in 'bond_single' and −0.5 in the distance, pair (1, 0) 2.0 and 0.5.
    atoms, pairs = np.zeros((1, 3, 21)), np.zeros((1, 3, 3, 13))
    atoms[0, 0, 8], atoms[0, 1, 8], atoms[0, 1, 1] = 0.5, -1.5, 1.0
    pairs[0, 0, 1, 0], pairs[0, 1, 0, 0], pairs[0, 0, 1, 12], pairs[0, 1, 0, 12] = 2.0, 2.0, -0.5, 0.5
    result = WeaveRelevance(atoms=atoms, pairs=pairs, distance_channels=np.zeros((1, 3, 3, 2)), start=np.array([5.0]),
                            prediction=np.array([5.0]), n_atoms=np.array([2]), bias={"b": np.array([1.0])},
                            stabilizer={})
    types = feature_type_relevance(result)
    expected_signed = dict.fromkeys(TYPES, 0.0) | {"partial charge": -0.5, "atom type": 0.5, "bond type": 2.0}
    expected_absolute = dict.fromkeys(TYPES, 0.0) | {"partial charge": 1.0, "atom type": 0.5, "bond type": 2.0,
                                                     "spatial distance": 0.5}
    np.testing.assert_allclose(types.signed[0], list(expected_signed.values()))
    np.testing.assert_allclose(types.absolute[0], list(expected_absolute.values()))
    assert len(TYPES) == 12 and types.signed.sum() * 2 + types.absorbed()[0] == types.start[0]
    assert types.completeness_gap()[0] == 0
    np.testing.assert_allclose(replace(types, start=np.array([6.5])).completeness_gap(), [1.5])
    both = TypeRelevance.concatenate([types, types[[0]]])
    both = replace(both, signed=both.signed * [[1], [-4]]).normalized()
    np.testing.assert_allclose(both.signed[:, TYPES.index("bond type")], [2 / 8, -1])  # 2 and −8, scaled by 8
    np.testing.assert_allclose(both.absolute.max(), 1.0)
    np.testing.assert_allclose(both.start, [5.0, 5.0])


def test_unsupported_models_and_arguments_are_refused(case):
    model, x = case
    with pytest.raises(ValueError, match="histogram"):
        explain_weave(build_weave_model(**SMALL, readout="histogram", dtype="float64"), x, LRP0())
    with pytest.raises(ValueError, match="start must be"):
        explain_weave(model, x, LRP0(), start="logit")
    with pytest.raises(ValueError, match="no layer that takes a rule is named 'atom_to_atom'"):
        explain_weave(model, x, Composite({"atom_to_atom": LRP0()}, default=LRP0()))


def test_committed_quick_model_on_qm9_molecules():
    # float32 model: conservation holds to float32 rounding. Batches sorted by size give the molecules
    # back in order.
    from course.data import qm9
    from course.features import qm9_graphs
    from course.models import weave_predict
    from course.models.weave_data import WeaveData

    data = qm9.load(verbose=False)
    _, test = data.split(test_fold=0)
    picked = test[data.usable.loc[test].to_numpy()][:6]
    weave = WeaveData.from_qm9(qm9_graphs.for_indices(data, picked), data, picked)
    model, _ = weave_predict.load_model(weave_predict.model_record("alpha"))
    rows = np.array([4, 0, 5, 2])
    one = explain_weave(model, weave.padded(rows[:1]), Epsilon(0.25))
    scale = np.abs(one.atoms).sum() + np.abs(one.pairs).sum() + np.abs(one.start) + np.abs(one.absorbed())
    assert np.all(np.abs(one.completeness_gap()) < 1e-5 * scale)
    types = explain_rows(model, weave, rows, Epsilon(0.25), start="network", batch_size=2)
    np.testing.assert_array_equal(types.n_atoms, weave.n_atoms[rows])
    one = explain_weave(model, weave.padded(rows[:1]), Epsilon(0.25), start="network")
    np.testing.assert_allclose(types.signed[0], feature_type_relevance(one).signed[0], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(types.signed.sum(1) * types.n_atoms + types.absorbed(), types.start, rtol=1e-4)
    # The same float32 rounding moves the prediction itself by up to ~0.03 bohr³ with the padding.
    np.testing.assert_allclose(types.prediction, ops.convert_to_numpy(model(weave.padded(rows)))[:, 0], atol=0.1)
