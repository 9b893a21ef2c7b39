"""The CMB classifier of Modules 3 and 5: a small dense network on binned TT and EE band powers.

Module 3 has students build and train it; Module 5 explains it. Both need the same split, the
same architecture and the same seeded training, so they live here once (the split itself is
:func:`course.data.cmb.split`, which the sklearn baselines of ``course cmb-baselines`` share). The architecture is the
one of the lecture's exercise: Dense(64, relu) → Dense(64, relu) → Dense(1, sigmoid), Adam,
binary cross-entropy, 40 epochs.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from course.data.cmb import VALIDATION_FRACTION, split  # the split of Modules 3 and 5

__all__ = ["VALIDATION_FRACTION", "split", "build", "TrainedClassifier", "train"]


def build(n_inputs: int, hidden: Sequence[int] = (64, 64), learning_rate: float = 1e-3,
          optimizer: keras.optimizers.Optimizer | None = None, seed: int = 0) -> keras.Model:
    """The compiled classifier (Adam unless ``optimizer`` is given; Module 3 compares optimizers on a
    toy problem with it). ``seed`` fixes the initial weights and Keras' other random state."""
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((n_inputs,))]
    layers += [keras.layers.Dense(width, activation="relu") for width in hidden]
    layers += [keras.layers.Dense(1, activation="sigmoid")]
    model = keras.Sequential(layers)
    model.compile(optimizer=optimizer or keras.optimizers.Adam(learning_rate), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model


@dataclass
class TrainedClassifier:
    """A trained network, the scaler its inputs need (``None``: raw inputs) and its history."""

    model: keras.Model
    scaler: StandardScaler | None
    history: dict[str, list[float]]

    def scores(self, X: np.ndarray) -> np.ndarray:
        """Predicted probability that each spectrum is not ΛCDM.

        A direct call, not ``model.predict``: predict compiles a graph per model and input shape,
        and occlusion loops would make TensorFlow retrace (and warn) over and over."""
        X = self.scaler.transform(X) if self.scaler is not None else X
        return keras.ops.convert_to_numpy(self.model(np.asarray(X, dtype="float32"), training=False)).ravel()

    def auc(self, X: np.ndarray, y: np.ndarray) -> float:
        return float(roc_auc_score(y, self.scores(X)))


def train(X_train: np.ndarray, y_train: np.ndarray, X_val: np.ndarray | None = None,
          y_val: np.ndarray | None = None, *, scale: bool = True, epochs: int = 40, batch_size: int = 32,
          hidden: Sequence[int] = (64, 64), seed: int = 0) -> TrainedClassifier:
    """Fit the (optional) StandardScaler on the training spectra only, then train the network."""
    scaler = StandardScaler().fit(X_train) if scale else None
    prepare = (lambda X: scaler.transform(X)) if scale else (lambda X: X)
    model = build(X_train.shape[1], hidden=hidden, seed=seed)
    validation = None if X_val is None else (np.asarray(prepare(X_val), "float32"), np.asarray(y_val, "float32"))
    fit = model.fit(np.asarray(prepare(X_train), "float32"), np.asarray(y_train, "float32"), epochs=epochs,
                    batch_size=batch_size, validation_data=validation, verbose=0)
    return TrainedClassifier(model, scaler, {k: [float(v) for v in vs] for k, vs in fit.history.items()})
