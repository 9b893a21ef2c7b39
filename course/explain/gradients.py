"""Gradient-based explanations, the methods LRP is compared with in Module 5.

- ``gradient``: ∂f/∂x_i, how sensitive the output is to each input; it says nothing about how much
  an input actually contributed, and it is noisy in ReLU networks (it is piecewise constant).
- ``gradient_times_input``: x_i ∂f/∂x_i, a first-order contribution; for ReLU networks without biases
  it sums to f(x) and equals LRP-0.
- ``integrated_gradients``: (x_i − x̄_i) ∫₀¹ ∂f/∂x_i(x̄ + t(x − x̄)) dt (Sundararajan et al. 2017), the
  contribution relative to a baseline x̄; it is complete: Σ_i IG_i = f(x) − f(x̄).

``f`` is the same start value as LRP's (``course.explain.lrp``): the logit of the explained unit by
default, or the model's output with ``start="output"``. Gradients come from
``course.models.autodiff``, so these run on any Keras backend.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
from keras import ops

from course.explain.network import input_dtype, select_output, start_values
from course.models.autodiff import gradients


def _one_hot(model: keras.Model, X: np.ndarray, output: int | np.ndarray | None, start: str) -> np.ndarray:
    """(n, units) weights picking each sample's explained unit, chosen at X."""
    top = ops.convert_to_numpy(start_values(model, X, start))
    return np.eye(top.shape[1], dtype=X.dtype)[select_output(top, output)]


def _weighted_start(model: keras.Model, weights: np.ndarray, start: str) -> Callable[[Any], Any]:
    """Σ over samples of the explained units' start values, as a function of the inputs.

    Samples do not interact in the networks explained here, so its gradient is every sample's own."""
    return lambda inputs: ops.sum(start_values(model, inputs, start) * weights)


def gradient(model: keras.Model, X: np.ndarray, output: int | np.ndarray | None = None,
             start: str = "logit") -> np.ndarray:
    """∂f/∂x (n, d) for the explained unit of every sample, in the model's dtype."""
    X = np.asarray(X, dtype=input_dtype(model))
    return gradients(_weighted_start(model, _one_hot(model, X, output, start), start), X)[0]


def gradient_times_input(model: keras.Model, X: np.ndarray, output: int | np.ndarray | None = None,
                         start: str = "logit") -> np.ndarray:
    """x ⊙ ∂f/∂x (n, d)."""
    X = np.asarray(X, dtype=input_dtype(model))
    return X * gradient(model, X, output, start)


def integrated_gradients(model: keras.Model, X: np.ndarray, baseline: np.ndarray | float, steps: int = 64,
                         output: int | np.ndarray | None = None, start: str = "logit") -> np.ndarray:
    """Integrated gradients (n, d) from ``baseline`` (a scalar, one value per feature, or one row per sample).

    The path integral uses the trapezoidal rule on ``steps`` equal intervals, so completeness holds up
    to its error, O(1/steps²) for smooth networks and O(1/steps) where a ReLU switches along the path.
    All steps go through the network in one batch of (steps + 1)·n rows. The explained unit is chosen
    at X, not along the path.
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    X = np.asarray(X, dtype=input_dtype(model))
    base = np.broadcast_to(np.asarray(baseline, dtype=X.dtype), X.shape)
    t = np.linspace(0.0, 1.0, steps + 1, dtype=X.dtype)
    trapezoid = np.full(steps + 1, 1.0 / steps, dtype=X.dtype)
    trapezoid[[0, -1]] /= 2
    path = (base[None] + t[:, None, None] * (X - base)[None]).reshape(-1, X.shape[1])
    one_hot = np.tile(_one_hot(model, X, output, start), (steps + 1, 1))
    grads = gradients(_weighted_start(model, one_hot, start), path)[0]
    return (X - base) * np.tensordot(trapezoid, grads.reshape(steps + 1, *X.shape), axes=1)
