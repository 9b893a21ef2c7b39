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

import keras
import numpy as np


@dataclass
class DenseRegressor:
    """A trained network on standardized targets, the training mean and standard deviation of y,
    and the training loss per epoch."""

    model: keras.Sequential
    mean: float
    std: float
    losses: list[float]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predictions (n,) in the property's units."""
        z = keras.ops.convert_to_numpy(self.model(np.asarray(x, dtype="float32"), training=False))[:, 0]
        return self.mean + self.std * z


def fit_dense_regressor(x: np.ndarray, y: np.ndarray, *, hidden: Sequence[int] = (32,), epochs: int = 100,
                        batch_size: int = 32, learning_rate: float = 1e-3, seed: int = 0,
                        x_val: np.ndarray | None = None, y_val: np.ndarray | None = None) -> DenseRegressor:
    """Dense(relu) layers of widths ``hidden``, then Dense(1), trained with Adam on the MAE of the
    standardized target; ``seed`` fixes the initial weights and the shuffling. With ``x_val`` and
    ``y_val`` the network ends with the weights of the epoch of lowest validation MAE.

    >>> x = np.random.default_rng(0).normal(size=(200, 3))
    >>> fitted = fit_dense_regressor(x, 10 + x @ [1.0, -2.0, 0.5], hidden=(8,), epochs=5)
    >>> fitted.predict(x[:4]).shape, len(fitted.losses)
    ((4,), 5)
    """
    x, y = np.asarray(x, dtype="float32"), np.asarray(y, dtype=float)
    if x.ndim != 2 or y.shape != (len(x),):
        raise ValueError(f"x must be (n, features) and y (n,), got {x.shape} and {y.shape}")
    mean, std = float(y.mean()), float(y.std())
    if not std > 0:
        raise ValueError("y is constant on the training molecules: nothing to learn")
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((x.shape[1],))] + [keras.layers.Dense(width, activation="relu") for width in hidden]
    model = keras.Sequential(layers + [keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mae")
    validation, callbacks = None, []
    if x_val is not None or y_val is not None:
        if x_val is None or y_val is None:
            raise ValueError("give both x_val and y_val, or neither")
        validation = (np.asarray(x_val, dtype="float32"), ((np.asarray(y_val, dtype=float) - mean) / std)[:, None])
        callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=epochs, restore_best_weights=True)]
    history = model.fit(x, ((y - mean) / std)[:, None].astype("float32"), epochs=epochs, batch_size=batch_size,
                        shuffle=True, validation_data=validation, callbacks=callbacks, verbose=0)
    return DenseRegressor(model, mean, std, [float(v) for v in history.history["loss"]])
