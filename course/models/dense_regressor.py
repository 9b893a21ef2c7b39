"""A small dense network for one property from a fixed-length vector per molecule.

Module 8 compares the code of the denoising autoencoder (``course.models.autoencoder``) with the
vector it compresses as inputs of the same property model, and explains that model with LRP: a
chain of ``Dense`` layers, ReLU in the hidden ones and a linear output, the kind
``course.explain.explain`` walks. The network learns the standardized target (y − mean) / std of
the training molecules, on the MAE; :meth:`DenseRegressor.predict` converts back to the
property's units, so that LRP on ``model`` explains the standardized prediction.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from course.models.resumable import TrainConfig, fit_arrays


@dataclass
class DenseRegressor:
    """A trained network on standardized targets, the training mean and standard deviation of y,
    and its learning curve (``course.models.resumable.fit_resumable``'s record)."""

    model: keras.Sequential
    mean: float
    std: float
    history: dict

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predictions (n,) in the property's units."""
        z = keras.ops.convert_to_numpy(self.model(np.asarray(x, dtype="float32"), training=False))[:, 0]
        return self.mean + self.std * z


def fit_dense_regressor(train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray], config: TrainConfig,
                        *, hidden: Sequence[int] = (32,), state: str | Path | None = None,
                        max_minutes: float | None = None) -> DenseRegressor:
    """Dense(relu) layers of widths ``hidden``, then Dense(1), trained on the MAE of the standardized
    target with the course's resumable loop (``course.models.resumable``: Adam, cosine learning
    rate, the weights of the best validation MAE kept); ``config.seed`` fixes the initial weights
    and the shuffling. ``train`` and ``val`` are (x, y) with x (n, features), y (n,).

    >>> x = np.random.default_rng(0).normal(size=(200, 3))
    >>> y = 10 + x @ [1.0, -2.0, 0.5]
    >>> fitted = fit_dense_regressor((x[:150], y[:150]), (x[150:], y[150:]), TrainConfig(epochs=5), hidden=(8,))
    >>> fitted.predict(x[:4]).shape, len(fitted.history["curve"])
    ((4,), 5)
    """
    (x, y), (x_val, y_val) = ((np.asarray(a, dtype="float32"), np.asarray(b, dtype=float)) for a, b in (train, val))
    for name, (a, b) in (("train", (x, y)), ("val", (x_val, y_val))):
        if a.ndim != 2 or b.shape != (len(a),):
            raise ValueError(f"{name}: x must be (n, features) and y (n,), got {a.shape} and {b.shape}")
    mean, std = float(y.mean()), float(y.std())
    if not std > 0:
        raise ValueError("y is constant on the training molecules: nothing to learn")
    keras.utils.set_random_seed(config.seed)
    layers = [keras.Input((x.shape[1],))] + [keras.layers.Dense(width, activation="relu") for width in hidden]
    model = keras.Sequential(layers + [keras.layers.Dense(1)])
    standardized = (lambda v: ((v - mean) / std).astype("float32")[:, None])

    def mae(model: keras.Sequential, x: np.ndarray, z: np.ndarray) -> float:  # in the property's units
        return float(np.mean(np.abs(model.predict(x, batch_size=256, verbose=0) - z))) * std

    history = fit_arrays(model, (x, standardized(y)), (x_val, standardized(y_val)), config, "mae", mae,
                         f"dense regressor {tuple(hidden)}", state=state, max_minutes=max_minutes)
    return DenseRegressor(model, mean, std, history)
