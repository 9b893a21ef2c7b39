"""The weave model: one layer against numpy, invariances, training, and the compact QM9 export."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from conftest import ROOT
from course.models.weave import HISTOGRAM_BINS, AtomReadout, PaddedGraph, WeaveLayer, build_weave_model
from course.models.weave_data import Capacity, WeaveData, pack
from course.models.weave_training import SetTarget, TrainConfig, evaluate, predict, train

SMALL = dict(width=6, n_layers=3, readout_width=5, head=(7,), distance_centers=(0.0, 1.5, 3.0), distance_width=0.7)


@pytest.fixture(autouse=True)
def seeded():
    """Same initial weights whatever ran before."""
    keras.utils.set_random_seed(0)


def relu(x):
    return np.maximum(x, 0)


def small_model(rng, readout="sum"):
    """A float64 model with random weights everywhere (its zero-initialised output layer too)."""
    model = build_weave_model(**SMALL, readout=readout, dtype="float64")
    for w in model.trainable_weights:
        w.assign(0.5 * rng.normal(size=w.shape))
    return model


def random_graph(rng, n, n_atom=21, n_pair=13, pad_to=None):
    """One molecule's padded inputs: symmetric pair features, positive distances, zero diagonal."""
    a = pad_to or n
    atoms = np.zeros((1, a, n_atom))
    atoms[0, :n] = rng.normal(size=(n, n_atom))
    pairs = np.zeros((1, a, a, n_pair))
    upper = rng.normal(size=(n, n, n_pair))
    upper[..., -1] = rng.uniform(0.9, 4.0, size=(n, n))
    pairs[0, :n, :n] = np.triu(upper.transpose(2, 0, 1), 1).transpose(1, 2, 0)
    pairs[0] += pairs[0].transpose(1, 0, 2)
    atom_mask = (np.arange(a) < n)[None].astype(float)
    pair_mask = atom_mask[:, :, None] * atom_mask[:, None, :] * (1 - np.eye(a))
    return {"atoms": atoms, "pairs": pairs, "atom_mask": atom_mask, "pair_mask": pair_mask}


def numpy_weave(layer, atoms, pairs, atom_mask, pair_mask):
    """The equations of the WeaveLayer docstring with explicit loops over atom pairs."""
    W = {name: (getattr(layer, name).kernel.numpy(), getattr(layer, name).bias.numpy()) for name in layer.dense_names}
    a, p, m, mm = atoms[0], pairs[0], atom_mask[0], pair_mask[0]
    n = len(a)
    AA = relu(a @ W["atom_to_atom"][0] + W["atom_to_atom"][1])
    PA = np.array([sum(mm[i, j] * relu(p[i, j] @ W["pair_to_atom"][0] + W["pair_to_atom"][1]) for j in range(n))
                   for i in range(n)])
    new_atoms = m[:, None] * relu(np.concatenate([AA, PA], 1) @ W["atom_update"][0] + W["atom_update"][1])
    new_pairs = np.zeros((n, n, layer.width))
    for i in range(n):
        for j in range(n):
            f = lambda x, y: relu(np.concatenate([x, y]) @ W["atom_to_pair"][0] + W["atom_to_pair"][1])
            AP = f(a[i], a[j]) + f(a[j], a[i])
            PP = relu(p[i, j] @ W["pair_to_pair"][0] + W["pair_to_pair"][1])
            new_pairs[i, j] = mm[i, j] * relu(np.concatenate([AP, PP]) @ W["pair_update"][0] + W["pair_update"][1])
    return new_atoms, new_pairs


def test_weave_layer_matches_numpy_equations():
    rng = np.random.default_rng(1)
    x = random_graph(rng, 5, n_atom=4, n_pair=3, pad_to=7)
    x["pairs"] = rng.normal(size=x["pairs"].shape)  # also asymmetric pairs and garbage in padding
    layer = WeaveLayer(width=6, dtype="float64")
    atoms, pairs = (keras.ops.convert_to_numpy(t) for t in layer(x["atoms"], x["pairs"], graph=PaddedGraph(x)))
    for w in layer.weights:  # random biases too, so that a missing bias would show
        w.assign(rng.normal(size=w.shape))
    atoms, pairs = (keras.ops.convert_to_numpy(t) for t in layer(x["atoms"], x["pairs"], graph=PaddedGraph(x)))
    ref_atoms, ref_pairs = numpy_weave(layer, **x)
    assert atoms.dtype == np.float64 and np.abs(atoms).max() > 1
    np.testing.assert_allclose(atoms[0], ref_atoms, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(pairs[0], ref_pairs, rtol=1e-10, atol=1e-10)


def test_histogram_readout_is_normalised_gaussian_membership():
    rng = np.random.default_rng(2)
    atoms, mask = rng.normal(size=(2, 4, 3)), np.array([[1, 1, 1, 0], [1, 1, 0, 0]], float)
    readout = AtomReadout(width=5, mode="histogram", dtype="float64")
    out = keras.ops.convert_to_numpy(readout(atoms, graph=PaddedGraph({"atom_mask": mask})))
    h = atoms @ readout.project.kernel.numpy() + readout.project.bias.numpy()
    mu, s = np.array(HISTOGRAM_BINS).T
    density = np.exp(-(h[..., None] - mu) ** 2 / (2 * s ** 2)) / (s * np.sqrt(2 * np.pi))
    expected = ((density / density.sum(-1, keepdims=True)).reshape(2, 4, -1) * mask[..., None]).sum(1)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("readout", ["sum", "histogram"])
def test_prediction_is_invariant_to_atom_order(readout):
    rng = np.random.default_rng(3)
    model = small_model(rng, readout)
    x = random_graph(rng, 8)
    order = rng.permutation(8)
    permuted = {"atoms": x["atoms"][:, order], "pairs": x["pairs"][:, order][:, :, order],
                "atom_mask": x["atom_mask"][:, order], "pair_mask": x["pair_mask"][:, order][:, :, order]}
    y, y_perm = (keras.ops.convert_to_numpy(model(v)) for v in (x, permuted))
    np.testing.assert_allclose(y_perm, y, rtol=1e-10)
    pairs_only = dict(x, pairs=x["pairs"][:, order][:, :, order])  # permuting one stream alone must matter
    first, mixed = (keras.ops.convert_to_numpy(model.trace(v)["weave"][0]["atoms"]) for v in (x, pairs_only))
    assert np.abs(first - mixed).max() > 1e-3


@pytest.mark.parametrize("readout", ["sum", "histogram"])
def test_padding_and_its_contents_do_not_change_the_prediction(readout):
    rng = np.random.default_rng(4)
    model = small_model(rng, readout)
    model.target_scale.set_reference(rng.normal(size=21), 0.3, 2.0)  # the baseline must ignore padding too
    tight = random_graph(rng, 6)
    padded = random_graph(rng, 6, pad_to=29)
    for key, atom_axes in (("atoms", 1), ("pairs", 2), ("atom_mask", 1), ("pair_mask", 2)):
        padded[key][(0,) + (slice(0, 6),) * atom_axes] = tight[key][0]
    padded["atoms"][0, 6:] = 10 * rng.normal(size=(23, 21))  # garbage where the masks are zero
    padded["pairs"][0, 6:, :] = 10 * rng.normal(size=(23, 29, 13))
    padded["pairs"][0, :, 6:] = 10 * rng.normal(size=(29, 23, 13))
    y_tight, y_padded = (keras.ops.convert_to_numpy(model(v)) for v in (tight, padded))
    np.testing.assert_allclose(y_padded, y_tight, rtol=1e-10)


def test_pair_states_stay_symmetric():
    rng = np.random.default_rng(5)
    model = small_model(rng)
    trace = model.trace(random_graph(rng, 7, pad_to=9))
    for step in trace["weave"][:-1]:
        atom_to_pair, pairs = (keras.ops.convert_to_numpy(step[k])[0] for k in ("atom_to_pair", "pairs"))
        np.testing.assert_array_equal(atom_to_pair, atom_to_pair.transpose(1, 0, 2))
        np.testing.assert_allclose(pairs, pairs.transpose(1, 0, 2), rtol=1e-12)
        assert np.abs(pairs).max() > 0 and not np.diagonal(pairs, axis1=0, axis2=1).any()
    assert "pairs" not in trace["weave"][-1]  # the last layer updates atoms only


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """300 QM9 molecules through WeaveData.from_qm9 -> save -> load, with their MG features."""
    from course.data import qm9
    from course.features import qm9_graphs

    table = qm9.load(verbose=False)
    usable = table.table.index[table.usable.to_numpy()].to_numpy()
    wanted = np.random.default_rng(0).choice(usable, size=300, replace=False)
    graphs = qm9_graphs.for_indices(table, wanted)  # not the all-QM9 cache: minutes to build on a new machine
    path = WeaveData.from_qm9(graphs, table, wanted).save(tmp_path_factory.mktemp("weave") / "qm9.npz")
    return WeaveData.load(path), graphs, table


def test_export_round_trips_to_the_cached_padded_features(exported):
    data, graphs, table = exported
    rows = np.arange(len(data))
    ours, cached = data.padded(rows), graphs.batch.padded(graphs.rows(data.qm9_index))
    for key in ("atoms", "atom_mask", "pair_mask"):
        np.testing.assert_array_equal(ours[key], cached[key], err_msg=key)
    np.testing.assert_array_equal(ours["pairs"][..., :-1], cached["pairs"][..., :-1])
    np.testing.assert_allclose(ours["pairs"][..., -1], cached["pairs"][..., -1], rtol=0, atol=1e-5)
    assert ours["pairs"][..., -1].max() > 5  # real distances, not zeros
    train, test = table.split(test_fold=0, usable_only=True)
    assert set(data.qm9_index[data.fold == 0]) == set(test) & set(data.qm9_index)
    assert set(data.qm9_index[data.fold != 0]) == set(train) & set(data.qm9_index)
    np.testing.assert_array_equal(data.targets["alpha_bohr3"], table.table.loc[data.qm9_index, "alpha_bohr3"])


def test_training_lowers_the_loss_and_the_checkpoint_restores_the_model(exported, tmp_path):
    data, _, _ = exported
    model = build_weave_model(width=16, n_layers=2, readout_width=16, head=(16,))
    # Start away from the least-squares baseline (the output layer starts at zero, which 200
    # molecules and a few dozen steps barely move off), so that the loss has somewhere to go.
    model.head[-1].kernel.assign(np.random.default_rng(7).normal(size=(16, 1)))
    first_kernel = model.weave[0].pair_to_pair.kernel.numpy().copy()
    checkpoint = tmp_path / "best.weights.h5"
    history = train(model, data, np.arange(200), np.arange(200, 250), "alpha_bohr3",
                    TrainConfig(epochs=6, batch_size=32, learning_rate=3e-3), checkpoint=checkpoint, progress=False)
    losses = [row["loss"] for row in history["curve"]]
    assert len(losses) == 6 and losses[-1] < 0.8 * losses[0]
    assert not np.allclose(model.weave[0].pair_to_pair.kernel.numpy(), first_kernel)  # gradients reach the bottom
    assert history["best_val_mae"] == min(row["val_mae"] for row in history["curve"])
    mae = evaluate(model, data, np.arange(250, 300), "alpha_bohr3")
    spread = np.abs(data.targets["alpha_bohr3"][250:] - data.targets["alpha_bohr3"][:250].mean()).mean()
    assert mae < spread  # better than predicting the mean
    fresh = build_weave_model(width=16, n_layers=2, readout_width=16, head=(16,))
    fresh.load_weights(checkpoint)
    np.testing.assert_allclose(predict(fresh, data, np.arange(250, 300)), predict(model, data, np.arange(250, 300)),
                               rtol=1e-6)


def test_two_epochs_straight_equal_a_stretch_resumed_on_a_fresh_model(exported, tmp_path):
    """Stop inside the first epoch, rebuild everything, resume across the epoch boundary: the same
    weights as an uninterrupted run."""
    data, _, _ = exported
    config = TrainConfig(epochs=2, batch_size=16, learning_rate=3e-3)
    args = (data, np.arange(120), np.arange(120, 160), "alpha_bohr3", config)

    def fresh():
        keras.utils.set_random_seed(0)
        return build_weave_model(width=8, n_layers=2, readout_width=8, head=(8,))

    straight = fresh()
    train(straight, *args, progress=False)
    state = tmp_path / "run.state.npz"
    first = fresh()
    stretch = train(first, *args, state=state, max_minutes=1e-9, progress=False)  # one batch, then out of time
    assert not stretch["finished"] and stretch["epochs_run"] == 0 and state.is_file()
    with np.load(state) as saved:
        assert '"batch": 1' in str(saved["meta"])  # stopped after the first of 8 batches of epoch 1
    resumed = fresh()  # as on a new machine: new weights, new optimizer, only the state file kept
    done = train(resumed, *args, state=state, progress=False)
    assert done["finished"] and [r["epoch"] for r in done["curve"]] == [1, 2]
    for a, b in zip(straight.weights, resumed.weights):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(b), keras.ops.convert_to_numpy(a), rtol=1e-5, atol=1e-7)
    assert int(resumed.optimizer.iterations.numpy()) == int(straight.optimizer.iterations.numpy()) > 0
    other = TrainConfig(epochs=3, batch_size=16, learning_rate=3e-3)
    with pytest.raises(ValueError, match="state of another run.*config"):
        train(fresh(), data, np.arange(120), np.arange(120, 160), "alpha_bohr3", other, state=state, progress=False)


def test_a_set_target_of_one_column_trains_as_the_column_does(exported):
    data, _, _ = exported
    config = TrainConfig(epochs=2, batch_size=16, learning_rate=3e-3)
    column = data.targets["alpha_bohr3"]
    models = []
    for target in ("alpha_bohr3", SetTarget("alpha", column[:, None].copy(), np.ones((len(column), 1)))):
        keras.utils.set_random_seed(0)
        models.append(build_weave_model(width=8, n_layers=2, readout_width=8, head=(8,)))
        train(models[-1], data, np.arange(120), np.arange(120, 160), target, config, progress=False)
    for a, b in zip(*(model.weights for model in models)):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(b), keras.ops.convert_to_numpy(a), rtol=1e-5, atol=1e-7)


def test_padded_slots_change_neither_training_nor_the_error_of_a_set_target(exported):
    from course.features.frequencies import frequencies_of, padded_frequencies

    data, _, table = exported
    values, mask = padded_frequencies(*frequencies_of(table, data.qm9_index))
    assert 0 < mask.mean() < 1  # molecules of different sizes: real padding
    garbage = np.where(mask > 0, values, 1e6)  # what a padded slot holds must not matter
    config = TrainConfig(epochs=2, batch_size=16, learning_rate=3e-3)
    trained = []
    for padded in (values, garbage):
        keras.utils.set_random_seed(0)
        model = build_weave_model(width=8, n_layers=2, readout_width=8, head=(8,), n_outputs=mask.shape[1])
        history = train(model, data, np.arange(120), np.arange(120, 160), SetTarget("freqs", padded, mask), config,
                        progress=False)
        trained.append((model, history))
    for a, b in zip(*(model.weights for model, _ in trained)):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    model, history = trained[0]
    rows = np.arange(160, 200)
    predicted = predict(model, data, rows)
    assert predicted.shape == (40, mask.shape[1])
    real = mask[rows] > 0
    by_hand = np.abs(predicted - values[rows])[real].mean()
    assert evaluate(model, data, rows, SetTarget("freqs", garbage, mask)) == pytest.approx(by_hand, rel=1e-12)
    # The shared baseline and scale put the outputs in cm⁻¹: better than one mean for every slot.
    assert by_hand < np.abs(values[rows] - values[:120][mask[:120] > 0].mean())[real].mean()

def test_sparse_and_padded_batches_give_the_same_predictions_and_gradients(exported):
    """Real QM9 molecules, one float64 model with random weights: both layouts, same numbers."""
    data, _, _ = exported
    rng = np.random.default_rng(8)
    model = small_model(rng)
    model.target_scale.set_reference(rng.normal(size=21), 0.3, 2.0)
    rows = np.arange(40)
    capacity = Capacity.for_batches_of(48, data.n_atoms)
    padded = {k: v.astype(np.float64) for k, v in data.padded(rows).items()}
    sparse = {k: (v.astype(np.float64) if v.dtype == np.float32 else v) for k, v in data.sparse(rows, capacity).items()}
    assert sparse["pairs"].shape[0] == capacity.pairs > (data.n_atoms[rows] * (data.n_atoms[rows] - 1) // 2).sum()
    y_padded = keras.ops.convert_to_numpy(model(padded))[:, 0]
    y_sparse = keras.ops.convert_to_numpy(model(sparse))[:, 0]
    np.testing.assert_allclose(y_sparse[:40], y_padded, rtol=1e-11)
    from course.models.autodiff import gradients

    fixed = [keras.ops.convert_to_numpy(w) for w in model.non_trainable_weights]
    def loss(inputs):
        return lambda *values: keras.ops.sum(model.stateless_call(list(values), fixed, inputs)[0][:40] ** 2)
    start = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    g_padded, g_sparse = gradients(loss(padded), *start), gradients(loss(sparse), *start)
    assert len(g_padded) == len(start) and min(np.abs(g).max() for g in g_padded) > 0  # every weight is reached
    for a, b in zip(g_padded, g_sparse):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-9 * np.abs(a).max())


def test_packing_fills_batches_in_order_without_passing_the_capacity():
    n = np.array([5, 9, 3, 8, 8, 2, 4])  # pairs 10, 36, 3, 28, 28, 1, 6
    capacity = Capacity(molecules=3, atoms=16, pairs=60)
    batches = pack(n, capacity)
    # By hand: 5+9+3 > 16 atoms; 3+8+8 > 16 atoms; then 8, 2, 4 (14 atoms, 35 pairs, 3 molecules).
    assert [b.tolist() for b in batches] == [[0, 1], [2, 3], [4, 5, 6]]
    assert [b.tolist() for b in pack(n, Capacity(molecules=3, atoms=20, pairs=40))] == [[0], [1, 2], [3], [4, 5, 6]]
    assert [b.tolist() for b in pack(n, Capacity(molecules=2, atoms=99, pairs=999))] == [[0, 1], [2, 3], [4, 5], [6]]
    with pytest.raises(ValueError, match="29 atoms"):
        pack(np.array([3, 29]), Capacity(molecules=4, atoms=20, pairs=500))


#: An interpreter with JAX and Keras but its own packages (the GPU machine's, or a venv that
#: emulates it): the JAX test runs there when JAX is not importable here.
JAX_PYTHON = os.environ.get("COURSE_JAX_PYTHON")
REPO = str(ROOT)


def run_python(code: str, backend: str, python: str | None = None) -> str:
    """Run ``code`` in a fresh interpreter with Keras on ``backend``; its standard output. With
    ``python`` (another environment), only the repository is added to its import path."""
    path = os.pathsep.join(sys.path) if python is None else REPO
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=path)
    out = subprocess.run([python or sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_weave_data_and_model_run_without_rdkit_and_pandas(exported, tmp_path):
    """The GPU machine has neither: hide them, then import, pad a batch and predict."""
    path = exported[0].save(tmp_path / "data.npz")
    code = ("import sys\n"
            "sys.modules['rdkit'] = sys.modules['pandas'] = None  # importing them now raises ImportError\n"
            "import numpy as np\n"
            "from course.models.weave import build_weave_model\n"
            "from course.models.weave_training import predict\n"
            "from course.models.weave_data import WeaveData\n"
            f"data = WeaveData.load({str(path)!r})\n"
            "m = build_weave_model(width=4, n_layers=2, readout_width=4, head=(4,))\n"
            "print(np.isfinite(predict(m, data, np.arange(3))).all())\n")
    assert run_python(code, "tensorflow").strip().splitlines()[-1] == "True"


@pytest.mark.skipif(importlib.util.find_spec("jax") is None and not JAX_PYTHON,
                    reason="JAX is not installed here (the GPU machine has it); COURSE_JAX_PYTHON names an "
                           "interpreter that has it")
def test_jax_backend_predicts_what_tensorflow_predicts(tmp_path):
    rng = np.random.default_rng(6)
    model = build_weave_model(**SMALL, readout="histogram")
    for w in model.trainable_weights:
        w.assign(0.5 * rng.normal(size=w.shape))
    model.target_scale.set_reference(rng.normal(size=21), 70.0, 3.0)
    graphs = [random_graph(rng, n, pad_to=12) for n in (9, 12, 4)]
    x = {k: np.concatenate([g[k] for g in graphs]).astype(np.float32) for k in graphs[0]}
    model.save_weights(tmp_path / "m.weights.h5")
    np.savez(tmp_path / "x.npz", **x)
    code = ("import sys\nsys.modules['tensorflow'] = sys.modules['rdkit'] = None  # as on the GPU machine\n"
            f"import numpy as np, keras\nfrom course.models.weave import build_weave_model\n"
            f"m = build_weave_model(**{SMALL!r}, readout='histogram')\n"
            f"m.load_weights({str(tmp_path / 'm.weights.h5')!r})\n"
            f"x = dict(np.load({str(tmp_path / 'x.npz')!r}))\n"
            f"print(keras.backend.backend(), *np.asarray(m(x))[:, 0].tolist())\n")
    backend, *values = run_python(code, "jax", JAX_PYTHON).strip().splitlines()[-1].split()
    assert backend == "jax"
    np.testing.assert_allclose(np.array(values, dtype=float), keras.ops.convert_to_numpy(model(x))[:, 0], rtol=1e-5)


def test_baseline_ignores_charges_whose_molecular_sums_are_rounding_noise():
    from types import SimpleNamespace

    from course.models.weave_training import NOT_IN_BASELINE, fit_reference

    rng = np.random.default_rng(0)
    counts = rng.integers(0, 9, size=(300, 3)).astype(float)            # e.g. numbers of H, C, O
    charge_sums = rng.normal(scale=1e-7, size=(300, 2))                # Σ formal and Σ partial charge
    sums = np.column_stack([counts[:, :2], charge_sums, counts[:, 2]])
    names = ("type_H", "type_C", *NOT_IN_BASELINE, "type_O")
    y = counts @ np.array([2.0, 10.0, 6.0]) + 1.0 + rng.normal(scale=0.1, size=300)
    data = SimpleNamespace(atom_features=names, atom_feature_sums=lambda rows: sums[rows])
    w, b, s = fit_reference(data, np.arange(300), y)
    assert w[2] == 0 and w[3] == 0
    np.testing.assert_allclose(w[[0, 1, 4]], [2.0, 10.0, 6.0], atol=0.05)
    assert abs(b - 1.0) < 0.2 and 0.05 < s < 0.2


def test_a_fold_runs_in_stretches_and_leaves_its_record_not_its_state(exported, tmp_path):
    """run_fold: a stretch that runs out leaves a state and no record; the next call finishes the
    fold, writes the record and the weights, and removes the state."""
    import dataclasses
    import json

    from course.models.weave_fold import PLANS, finished_folds, run_fold, runs_in_progress

    data, _, _ = exported
    plan = dataclasses.replace(PLANS["quick"], n_train=96, n_val=32, n_test=None, epochs={"zpve": 2, "alpha": 2},
                               model=dict(width=8, n_layers=2, readout_width=8, head=(8,)))
    assert run_fold("zpve", 0, "quick", tmp_path, max_minutes=1e-9, data=data, plan=plan, progress=False) is None
    (progress,) = runs_in_progress(tmp_path, "quick")
    assert progress["property"] == "zpve" and progress["epochs_done"] == 0 and progress["epochs_planned"] == 2
    record = run_fold("zpve", 0, "quick", tmp_path, data=data, plan=plan, progress=False)
    assert record["epochs_run"] == 2 and record["n_test"] == int((data.fold == 0).sum()) and record["test_is_whole_fold"]
    assert not list(tmp_path.glob("*.state.npz")) and runs_in_progress(tmp_path, "quick") == []
    assert finished_folds(tmp_path, "quick") == [json.loads((tmp_path / "weave_zpve_fold0_quick.json").read_text())]
    fresh = build_weave_model(**plan.model)
    fresh.load_weights(tmp_path / "weave_zpve_fold0_quick.weights.h5")
    rows = np.flatnonzero(data.fold == 0)
    assert evaluate(fresh, data, rows, "zpve_eV") == pytest.approx(record["test_mae"], rel=1e-5)
    # The same command run again returns the finished record instead of training the fold anew.
    weights = (tmp_path / "weave_zpve_fold0_quick.weights.h5").stat().st_mtime_ns
    assert run_fold("zpve", 0, "quick", tmp_path, data=data, plan=plan, progress=False) == record
    assert (tmp_path / "weave_zpve_fold0_quick.weights.h5").stat().st_mtime_ns == weights
    assert not list(tmp_path.glob("*.state.npz"))


def test_committed_full_budget_folds_are_whole_folds_with_their_weights():
    """Every committed full-budget record tests on its whole fold and has loadable weights."""
    import json

    from course.data.splits import load_folds

    folder = Path(REPO) / "solutions" / "weave"
    _, fold_of = load_folds()
    for path in folder.glob("weave_*_fold*_full.json"):
        record = json.loads(path.read_text())
        assert record["test_is_whole_fold"] and record["budget"] == "full"
        assert record["n_test"] >= 0.99 * (fold_of == record["fold"]).sum()  # all its usable molecules
        assert record["epochs_run"] >= 1 and record["finished"]
        model = build_weave_model(**{k: v for k, v in record["model"].items() if k != "n_parameters"})
        model.load_weights(path.with_name(path.name.replace(".json", ".weights.h5")))
