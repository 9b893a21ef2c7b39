"""The resumable training loop on a model that is not the weave model (course.models.resumable)."""
import keras
import numpy as np
import pytest

from course.models.resumable import ArrayBatches, TrainConfig, fit_resumable

CONFIG = TrainConfig(epochs=3, batch_size=16, learning_rate=1e-2, patience=3, seed=1)


def problem():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5]) + 0.3 * np.sin(3 * x[:, 0])).astype("float32")[:, None]
    return x, y


def network():
    keras.utils.set_random_seed(5)
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])


def batches(x, y):
    def error(model, rows):
        return float(np.mean(np.abs(keras.ops.convert_to_numpy(model(x[rows])) - y[rows])))
    return ArrayBatches(x, y, CONFIG.batch_size, error)


def fit(x, y, model, **kwargs):
    return fit_resumable(model, batches(x, y), np.arange(80), np.arange(80, 100), CONFIG, "mae", {"run": "test"},
                         progress=False, **kwargs)


def test_a_run_stopped_and_resumed_ends_where_an_uninterrupted_one_does(tmp_path):
    x, y = problem()
    straight = network()
    whole = fit(x, y, straight)
    resumed = network()
    state = tmp_path / "run.state.npz"
    first = fit(x, y, resumed, state=state, max_minutes=0.0)  # stops after the first batch
    assert not first["finished"] and state.is_file()
    again = fit(x, y, resumed, state=state)
    assert again["finished"] and again["epochs_run"] == whole["epochs_run"] == 3
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose([r["val_mae"] for r in whole["curve"]], [r["val_mae"] for r in again["curve"]],
                               rtol=1e-5)


def test_a_finished_run_is_loaded_not_trained_again(tmp_path):
    """What a notebook's full budget relies on (course.full_runs): running it again after a model
    finished gives that model's best weights, without a training step."""
    x, y = problem()
    state = tmp_path / "run.state.npz"
    trained = network()
    first = fit(x, y, trained, state=state)
    assert first["finished"]
    fresh = network()  # other weights than the trained model's
    assert any(not np.array_equal(a, b) for a, b in zip(fresh.get_weights(), trained.get_weights()))
    calls = []
    fresh.train_on_batch = lambda *args, **kwargs: calls.append(args)  # any training step would show here
    again = fit(x, y, fresh, state=state)
    assert calls == [] and again["finished"] and again["curve"] == first["curve"]
    for a, b in zip(trained.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_the_model_ends_with_its_best_validation_weights():
    x, y = problem()
    model = network()
    history = fit(x, y, model)
    error = batches(x, y).validate(model, np.arange(80, 100))
    assert error == pytest.approx(history["best_val_mae"], rel=1e-6)
    assert history["best_val_mae"] == min(r["val_mae"] for r in history["curve"])


def test_a_state_of_another_run_is_refused(tmp_path):
    x, y = problem()
    state = tmp_path / "run.state.npz"
    fit(x, y, network(), state=state, max_minutes=0.0)
    with pytest.raises(ValueError, match="run.state.npz is the state of another run"):
        fit_resumable(network(), batches(x, y), np.arange(80), np.arange(80, 100), CONFIG, "mae", {"run": "other"},
                      state=state, progress=False)


def test_inputs_and_targets_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="one row per molecule"):
        ArrayBatches({"a": np.zeros((4, 2)), "b": np.zeros((3, 2))}, np.zeros(4), 2, error=lambda m, r: 0.0)
