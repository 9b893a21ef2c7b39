"""Shattered gradients (Balduzzi et al. 2017, "The shattered gradients problem"), Module 5 section 3.

The derivative of a deep ReLU network along one input direction jumps at every kink of every
neuron, and with depth the jumps become so many and so uncorrelated that the derivative looks like
white noise, while the output still looks like a gentle curve. Two tools show it:

* :func:`centred_relu_network` — a freshly initialized ReLU network whose every neuron is centred
  and scaled on the inputs it will be shown (batch normalization at initialization, folded into the
  weights and biases), the setting of Balduzzi et al. Without it, He-initialized layers with small
  biases put every kink of the first layer near 0 and leave deep neurons on or off over the whole
  interval; centred, each neuron switches somewhere inside the data.
* :func:`autocorrelation` — the normalized autocorrelation of a signal sampled on a grid, the
  paper's measure: 1 at lag 0, close to 1 at lag 1 for a smooth (brown-noise-like) derivative and
  close to 0 for white noise. Unlike counting kinks, it says how much the derivative at one point
  tells about the derivative a step away.
"""
from __future__ import annotations

import keras
import numpy as np


def centred_relu_network(x: np.ndarray, depth: int, width: int = 64, seed: int = 0) -> keras.Sequential:
    """A float64 ReLU network of ``depth`` hidden layers of ``width`` units, He-normal weights
    rescaled so that every hidden pre-activation has mean 0 and standard deviation 1 over the
    inputs ``x`` (n, d), and a linear output unit with Glorot weights and zero bias.

    >>> x = np.linspace(-2, 2, 50)[:, None]
    >>> net = centred_relu_network(x, depth=3, width=8)
    >>> z = net.layers[0](x).numpy()                      # after ReLU: about half the units are on
    >>> bool(0.3 < (z > 0).mean() < 0.7)
    True
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"centred_relu_network needs inputs of shape (n >= 2, d), got {x.shape}")
    rng = np.random.default_rng(seed)
    net = keras.Sequential([keras.Input((x.shape[1],), dtype="float64")]
                           + [keras.layers.Dense(width, activation="relu", dtype="float64") for _ in range(depth)]
                           + [keras.layers.Dense(1, dtype="float64")])
    a = x
    for layer in net.layers[:-1]:
        W = rng.normal(0.0, np.sqrt(2.0 / a.shape[1]), (a.shape[1], width))
        z = a @ W
        mean, spread = z.mean(0), z.std(0)
        spread[spread == 0] = 1.0                          # a unit blind to every input stays as it is
        W, b = W / spread, -mean / spread
        layer.set_weights([W, b])
        a = np.maximum(a @ W + b, 0.0)
    out = net.layers[-1]
    out.set_weights([rng.normal(0.0, np.sqrt(2.0 / (width + 1)), (width, 1)), np.zeros(1)])
    return net


def autocorrelation(signal: np.ndarray, max_lag: int) -> np.ndarray:
    """(max_lag + 1,) normalized autocorrelation ρ(k) = Σ_i s_i s_{i+k} / Σ_i s_i² of the centred
    signal s, for lags k = 0 … max_lag (grid steps).

    >>> autocorrelation(np.array([1.0, -1.0, 1.0, -1.0]), 2).tolist()
    [1.0, -0.75, 0.5]
    """
    s = np.asarray(signal, dtype=float)
    if s.ndim != 1 or not 0 <= max_lag < len(s):
        raise ValueError(f"autocorrelation needs a 1-d signal longer than max_lag={max_lag}, got shape {s.shape}")
    s = s - s.mean()
    power = float(s @ s)
    if power == 0:
        raise ValueError("autocorrelation of a constant signal is undefined")
    return np.array([1.0] + [float(s[:-k] @ s[k:]) / power for k in range(1, max_lag + 1)])
