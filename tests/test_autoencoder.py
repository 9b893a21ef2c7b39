"""The tied-weight denoising autoencoder against numpy, its noise, the per-type reconstruction error,
and a short training run on the flat MG vectors of QM9 molecules."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from course.explain import Composite, Epsilon, LRP0, explain
from course.models.resumable import TrainConfig
from course.models.autoencoder import (SEED_CODE, SEED_HIDDEN, build_autoencoder, column_scale, column_type_sums,
                                       encoder_network, fit_autoencoder, mg_column_types, mg_vectors,
                                       reconstruction_error_per_type)


@pytest.fixture(autouse=True)
def seeded():
    keras.utils.set_random_seed(0)


def relu(x):
    return np.maximum(x, 0)


def random_model(rng, n_inputs=9, **kwargs):
    model = build_autoencoder(n_inputs, n_hidden=5, n_code=3, dtype="float64", **kwargs)
    for w in model.trainable_weights:  # random biases too, so that a missing one would show
        w.assign(0.5 * rng.normal(size=w.shape))
    return model


def test_weights_are_tied_and_the_network_matches_numpy():
    rng = np.random.default_rng(0)
    model = random_model(rng)
    kernels = [w for w in model.trainable_weights if len(w.shape) == 2]
    assert [tuple(w.shape) for w in kernels] == [(9, 5), (5, 3)] and len(model.trainable_weights) == 6
    W1, W2 = (w.numpy() for w in kernels)
    b1, b2, b3, b4 = (b.numpy() for b in model.biases)
    x = rng.normal(size=(4, 9))
    code = relu(relu(x @ W1 + b1) @ W2 + b2)
    expected = relu(code @ W2.T + b3) @ W1.T + b4
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model.encode(x)), code, rtol=1e-12)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(x)), expected, rtol=1e-12)
    # One variable per kernel: changing it changes the encoder and the decoder alike.
    kernels[0].assign(W1 * 2)
    code2 = relu(relu(x @ (2 * W1) + b1) @ W2 + b2)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(x)), relu(code2 @ W2.T + b3) @ (2 * W1).T + b4,
                               rtol=1e-12)
    relu_out = random_model(rng, output_activation="relu")
    assert keras.ops.convert_to_numpy(relu_out(x)).min() >= 0


def test_seed_sizes_by_default():
    model = build_autoencoder(5887)
    assert (SEED_HIDDEN, SEED_CODE) == (136, 68)
    assert [tuple(w.shape) for w in model.trainable_weights][:2] == [(5887, 136), (136, 68)]


def test_noise_only_in_training():
    rng = np.random.default_rng(1)
    model = random_model(rng, n_inputs=400, noise=0.3)
    x = rng.normal(size=(50, 400))
    inference = keras.ops.convert_to_numpy(model(x))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(x, training=False)), inference)
    predicted = model.predict(x, verbose=0)  # Keras hands predict float32 inputs: equal to round-off
    np.testing.assert_array_equal(model.predict(x, verbose=0), predicted)
    np.testing.assert_allclose(predicted, inference, rtol=1e-5, atol=1e-5)
    noisy = [keras.ops.convert_to_numpy(model(x, training=True)) for _ in range(2)]
    assert not np.allclose(noisy[0], inference) and not np.allclose(noisy[0], noisy[1])
    corrupted = keras.ops.convert_to_numpy(model.corrupt(x, training=True)) - x
    assert corrupted.std() == pytest.approx(0.3, rel=0.02) and abs(corrupted.mean()) < 0.01


def test_reconstruction_error_per_type_sums_to_the_total_by_hand():
    rng = np.random.default_rng(2)
    x, xhat = rng.normal(size=(6, 7)), rng.normal(size=(6, 7))
    types = np.array(["b", "a", "b", "c", "a", "a", "b"])
    errors = reconstruction_error_per_type(x, xhat, types)
    assert list(errors) == ["b", "a", "c"]  # in order of first appearance
    for name in "abc":
        by_hand = np.mean([sum((x[m, k] - xhat[m, k]) ** 2 for k in range(7) if types[k] == name) for m in range(6)])
        assert errors[name] == pytest.approx(by_hand, rel=1e-12)
    assert sum(errors.values()) == pytest.approx(np.mean(np.sum((x - xhat) ** 2, axis=1)), rel=1e-12)


def low_rank_data(rng, n=240, d=30, rank=3):
    """Non-negative inputs on a 3-dimensional surface: a code of 3 can hold them."""
    return np.maximum(rng.normal(size=(n, rank)) @ rng.normal(size=(rank, d)), 0).astype(np.float32)


def config(epochs, learning_rate):
    return TrainConfig(epochs=epochs, batch_size=32, learning_rate=learning_rate, patience=epochs, loss="mse")


def numpy_reconstruction(model, x):
    W1, W2 = (w.numpy() for w in (model.w1, model.w2))
    b1, b2, b3, b4 = (b.numpy() for b in model.biases)
    return relu(relu(relu(x @ W1 + b1) @ W2 + b2) @ W2.T + b3) @ W1.T + b4


def test_fit_autoencoder_lowers_the_loss_and_the_weights_stay_tied():
    rng = np.random.default_rng(3)
    x = low_rank_data(rng)
    model = build_autoencoder(x.shape[1], n_hidden=12, n_code=4, noise=0.05, seed=0)
    initial = [w.numpy().copy() for w in model.trainable_weights]
    before = float(np.mean((model.predict(x, verbose=0) - x) ** 2))
    losses = [row["loss"] for row in fit_autoencoder(model, x, x[:50], config(40, 3e-3))["curve"]]
    assert len(losses) == 40 and losses[-1] < 0.5 * losses[0]
    after = float(np.mean((model.predict(x, verbose=0) - x) ** 2))
    assert after < 0.5 * before
    # still two kernels and four biases, all trained, and the decoder is the encoder's kernels transposed
    assert [w.shape for w in model.trainable_weights] == [w.shape for w in initial]
    assert all(not np.array_equal(w.numpy(), w0) for w, w0 in zip(model.trainable_weights, initial))
    np.testing.assert_allclose(model.predict(x, verbose=0), numpy_reconstruction(model, x), rtol=1e-4, atol=1e-4)
    # same seed, same model: same losses
    again = build_autoencoder(x.shape[1], n_hidden=12, n_code=4, noise=0.05, seed=0)
    first = fit_autoencoder(again, x, x[:50], config(3, 3e-3))["curve"]
    second = fit_autoencoder(build_autoencoder(x.shape[1], n_hidden=12, n_code=4, noise=0.05, seed=0), x, x[:50],
                             config(3, 3e-3))["curve"]
    assert [r["loss"] for r in first] == pytest.approx([r["loss"] for r in second], rel=1e-5)


def test_fit_autoencoder_keeps_the_best_validation_epoch():
    rng = np.random.default_rng(4)
    x = low_rank_data(rng)
    train, val = x[:200], x[200:]
    model = build_autoencoder(x.shape[1], n_hidden=12, n_code=4, noise=0.05, seed=0)
    # a learning rate this large makes the validation loss jump about; the best epoch must win
    history = fit_autoencoder(model, train, val, config(15, 0.05))
    kept = float(np.mean((model.predict(val, verbose=0) - val) ** 2))
    assert kept == pytest.approx(min(r["val_mae"] for r in history["curve"]), rel=1e-4)
    with pytest.raises(ValueError, match="shape"):
        fit_autoencoder(model, x[:, :5], val, config(1, 0.05))


def test_encoder_network_with_a_head_is_the_stacked_model_and_lrp_conserves():
    rng = np.random.default_rng(5)
    model = random_model(rng)
    head = keras.Sequential([keras.Input((3,), dtype="float64"),
                             keras.layers.Dense(4, activation="relu", dtype="float64"),
                             keras.layers.Dense(1, dtype="float64")])
    head.set_weights([rng.normal(size=w.shape) for w in head.get_weights()])
    net = encoder_network(model, head)
    assert [layer.name for layer in net.layers] == ["encoder_1", "encoder_2", "head_1", "head_2"]
    x = rng.normal(size=(6, 9))
    code = keras.ops.convert_to_numpy(model.encode(x))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(net(x)), keras.ops.convert_to_numpy(head(code)), rtol=1e-12)
    result = explain(net, x, Composite({-1: LRP0()}, default=Epsilon(0.1)), start="output")
    np.testing.assert_allclose(result.start, keras.ops.convert_to_numpy(head(code))[:, 0], rtol=1e-12)
    np.testing.assert_allclose(result.completeness_gap(), 0, atol=1e-10)
    # LRP-0 on a bias-free chain is gradient × input, by finite differences
    for w in model.biases + [layer.bias for layer in head.layers]:
        w.assign(np.zeros(w.shape))
    bare = encoder_network(model, head)
    R = explain(bare, x[:1], LRP0(), start="output").relevance[0]
    f = lambda v: float(keras.ops.convert_to_numpy(bare(v[None]))[0, 0])
    h = 1e-6
    grad = np.array([(f(x[0] + h * e) - f(x[0] - h * e)) / (2 * h) for e in np.eye(9)])
    np.testing.assert_allclose(R, grad * x[0], rtol=1e-5, atol=1e-8)
    with pytest.raises(ValueError, match="inputs"):
        encoder_network(model, keras.Sequential([keras.Input((5,)), keras.layers.Dense(1)]))


def test_column_type_sums_by_hand():
    rng = np.random.default_rng(6)
    values, types = rng.normal(size=(4, 5)), np.array(["x", "y", "x", "z", "y"])
    sums = column_type_sums(values, types)
    assert list(sums) == ["x", "y", "z"]
    for m in range(4):
        assert sums["x"][m] == pytest.approx(values[m, 0] + values[m, 2])
        assert sums["y"][m] == pytest.approx(values[m, 1] + values[m, 4])
        assert sums["z"][m] == pytest.approx(values[m, 3])
    with pytest.raises(ValueError, match="column types"):
        column_type_sums(values, types[:3])


@pytest.fixture(scope="module")
def mg():
    """240 QM9 molecules: their WeaveData and their cached (RDKit-made) padded MG features."""
    from course.data import qm9
    from course.features import qm9_graphs
    from course.models.weave_data import WeaveData

    table = qm9.load(verbose=False)
    usable = table.table.index[table.usable.to_numpy()].to_numpy()
    wanted = np.sort(np.random.default_rng(0).choice(usable, size=240, replace=False))
    graphs = qm9_graphs.for_indices(table, wanted)
    return WeaveData.from_qm9(graphs, table, wanted), graphs.batch.padded(graphs.rows(wanted))


def test_flat_mg_vector_holds_every_atom_and_unordered_pair_feature(mg):
    from course.features.graph import ATOM_FEATURES, FEATURE_TYPES, PAIR_FEATURES

    data, padded = mg
    rows = np.arange(7)
    x = mg_vectors(data, rows, chunk=3)  # chunks must not matter
    assert x.shape == (7, 29 * 21 + 406 * 13) == (7, 5887)
    types = mg_column_types(data.atom_features, data.pair_features)
    assert len(types) == x.shape[1]
    for m in rows:  # every entry at its place, by brute force against the cached features
        atoms, pairs = padded["atoms"][m], padded["pairs"][m]
        k = 0
        for a in range(29):
            np.testing.assert_array_equal(x[m, k:k + 21], atoms[a])
            assert [types[k + f] for f in range(21)] == [FEATURE_TYPES[n] for n in ATOM_FEATURES]
            k += 21
        for i in range(29):
            for j in range(i + 1, 29):
                np.testing.assert_allclose(x[m, k:k + 13], pairs[i, j], atol=1e-5)
                k += 13
    assert set(types) == set(FEATURE_TYPES.values()) and types[-1] == FEATURE_TYPES[PAIR_FEATURES[-1]]


def test_a_short_training_run_lowers_the_reconstruction_error(mg):
    data, _ = mg
    x = mg_vectors(data, np.arange(len(data)))
    x = (x / column_scale(x[:200])).astype(np.float32)
    train, test = x[:200], x[200:]
    model = build_autoencoder(x.shape[1], n_hidden=32, n_code=16, noise=0.05, seed=0)
    types = mg_column_types(data.atom_features, data.pair_features)
    before = reconstruction_error_per_type(test, model.predict(test, verbose=0), types)
    fit_autoencoder(model, train, test[:20], TrainConfig(epochs=30, batch_size=20, learning_rate=3e-3, patience=30,
                                                          loss="mse"))
    after = reconstruction_error_per_type(test, model.predict(test, verbose=0), types)
    assert sum(after.values()) < 0.5 * sum(before.values()), (before, after)
    # Better than reconstructing every molecule as the mean training vector (seeds 0-2: 0.45-0.47 of it).
    mean_vector = reconstruction_error_per_type(test, np.broadcast_to(train.mean(0), test.shape), types)
    assert sum(after.values()) < 0.75 * sum(mean_vector.values()), (mean_vector, after)
    # The code is not dead: molecules get different codes.
    code = keras.ops.convert_to_numpy(model.encode(test))
    assert np.ptp(code, axis=0).max() > 0
