"""Shattered gradients: the centred networks and the autocorrelation (Module 5, section 3)."""
import numpy as np
import pytest

from course.explain.gradients import gradient
from course.explain.shattering import autocorrelation, centred_relu_network


def test_every_hidden_unit_is_centred_and_scaled_on_its_inputs():
    x = np.random.default_rng(0).uniform(-2, 2, (300, 2))
    net = centred_relu_network(x, depth=4, width=16, seed=3)
    a = x
    for W, b in (layer.get_weights() for layer in net.layers[:-1]):
        z = a @ W + b
        np.testing.assert_allclose(z.mean(0), 0, atol=1e-9)
        np.testing.assert_allclose(z.std(0), 1, rtol=1e-9)
        a = np.maximum(z, 0)
    np.testing.assert_allclose(net(x).numpy(), a @ net.layers[-1].get_weights()[0], rtol=1e-12)


def test_autocorrelation_matches_numpy_correlate():
    s = np.random.default_rng(1).normal(size=200).cumsum()
    c = s - s.mean()
    full = np.correlate(c, c, mode="full")[len(c) - 1:]
    np.testing.assert_allclose(autocorrelation(s, 30), full[:31] / full[0], rtol=1e-12)


def test_autocorrelation_rejects_constant_and_short_signals():
    with pytest.raises(ValueError, match="constant"):
        autocorrelation(np.ones(5), 2)
    with pytest.raises(ValueError, match="max_lag=5"):
        autocorrelation(np.arange(5.0), 5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_derivative_loses_its_neighbour_correlation_with_depth(seed):
    t = np.linspace(-2, 2, 1000)[:, None]
    lag1 = [autocorrelation(gradient(centred_relu_network(t, depth, seed=seed), t, start="output")[:, 0], 1)[1]
            for depth in (2, 12, 48)]
    assert lag1[0] > lag1[1] > lag1[2]
    assert lag1[0] > 0.9 and abs(lag1[2]) < 0.3
