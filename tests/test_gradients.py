"""Gradient methods against closed forms on linear models, the chain rule through a sigmoid, and
completeness of integrated gradients on nonlinear networks."""
import keras
import numpy as np
import pytest

from course.explain.gradients import gradient, gradient_times_input, integrated_gradients


def linear_model(W, b, activation="linear"):
    model = keras.Sequential([keras.Input((W.shape[0],), dtype="float64"),
                              keras.layers.Dense(W.shape[1], activation=activation, dtype="float64")])
    model.layers[0].set_weights([W, b])
    return model


def random_net(seed, n_in, hidden, n_out, inner, last="linear"):
    rng = np.random.default_rng(seed)
    sizes = [n_in, *hidden, n_out]
    model = keras.Sequential([keras.Input((n_in,), dtype="float64")] +
                             [keras.layers.Dense(k, activation=inner if i < len(hidden) else last, dtype="float64")
                              for i, k in enumerate(sizes[1:])])
    for layer, (j, k) in zip(model.layers, zip(sizes[:-1], sizes[1:])):
        layer.set_weights([rng.normal(0, 1 / np.sqrt(j), (j, k)), rng.normal(0, 0.5, k)])
    return model


def test_linear_model_closed_forms():
    rng = np.random.default_rng(0)
    W, b = rng.normal(size=(5, 3)), rng.normal(size=3)
    model = linear_model(W, b)
    X, baseline = rng.normal(size=(4, 5)), rng.normal(size=5)
    for unit in range(3):
        np.testing.assert_allclose(gradient(model, X, output=unit), np.tile(W[:, unit], (4, 1)), rtol=1e-12)
        np.testing.assert_allclose(gradient_times_input(model, X, output=unit), X * W[:, unit], rtol=1e-12)
        for steps in (1, 7):
            np.testing.assert_allclose(integrated_gradients(model, X, baseline, steps, output=unit),
                                       (X - baseline) * W[:, unit], rtol=1e-12, atol=1e-14)


def test_default_output_is_the_largest_unit():
    rng = np.random.default_rng(1)
    W, b = rng.normal(size=(5, 3)), rng.normal(size=3)
    X = rng.normal(size=(6, 5))
    np.testing.assert_allclose(gradient(linear_model(W, b), X), W[:, (X @ W + b).argmax(axis=1)].T, rtol=1e-12)


def test_output_start_is_the_logit_gradient_times_the_sigmoid_slope():
    rng = np.random.default_rng(2)
    W, b = rng.normal(size=(4, 1)), rng.normal(size=1)
    model = linear_model(W, b, "sigmoid")
    X = rng.normal(size=(5, 4))
    p = 1 / (1 + np.exp(-(X @ W + b)))
    np.testing.assert_allclose(gradient(model, X), np.tile(W[:, 0], (5, 1)), rtol=1e-12)
    np.testing.assert_allclose(gradient(model, X, start="output"), p * (1 - p) * W[:, 0], rtol=1e-10)


NUMPY_ACTIVATIONS = {"linear": lambda z: z, "relu": lambda z: np.maximum(z, 0), "tanh": np.tanh,
                     "sigmoid": lambda z: 1 / (1 + np.exp(-z))}


def numpy_start(model, A, start):
    """The logit or output of the network, by numpy from its weights."""
    for i, layer in enumerate(model.layers):
        z = A @ layer.kernel.numpy() + layer.bias.numpy()
        A = z if start == "logit" and i == len(model.layers) - 1 else \
            NUMPY_ACTIVATIONS[keras.activations.serialize(layer.activation)](z)
    return A


@pytest.mark.parametrize("inner,last,tolerance", [("tanh", "linear", 1e-4), ("sigmoid", "linear", 1e-4),
                                                  ("relu", "sigmoid", 1e-2)])  # ReLU kinks: O(1/steps)
@pytest.mark.parametrize("start", ["logit", "output"])
def test_integrated_gradients_are_complete(inner, last, tolerance, start):
    model = random_net(3, 6, [8, 8], 2, inner, last)
    rng = np.random.default_rng(4)
    X, baseline = rng.normal(size=(5, 6)), rng.normal(size=(5, 6))
    attributions = integrated_gradients(model, X, baseline, steps=256, output=1, start=start)
    change = numpy_start(model, X, start)[:, 1] - numpy_start(model, baseline, start)[:, 1]
    np.testing.assert_allclose(attributions.sum(axis=1), change, rtol=tolerance,
                               atol=tolerance * np.abs(change).max())


def test_integrated_gradients_checks_steps():
    with pytest.raises(ValueError, match="steps"):
        integrated_gradients(linear_model(np.ones((2, 1)), np.zeros(1)), np.ones((1, 2)), 0.0, steps=0)
