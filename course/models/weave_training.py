"""Training and evaluating a weave model on QM9 from :class:`~course.models.weave_data.WeaveData`.

Batches are padded on the fly from the compact store (all of QM9 padded would take 6 GB), targets
are standardised inside the model (:class:`~course.models.weave.TargetScale`: a least-squares
"bag of atom features" baseline plus the spread of its residual), and training is ``model.fit``
with Adam on a cosine-decayed learning rate (decayed over the time budget when there is one),
early stopping on a validation part of the training folds, a best-weights checkpoint, a tqdm bar
and a per-epoch learning curve. No RDKit, pandas or
TensorFlow here: this runs on the JAX-only GPU machine too.
"""
from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
from keras import ops
from tqdm.auto import tqdm

from course.models.weave import WeaveModel
from course.models.weave_data import WeaveData

#: property name -> (WeaveData target column, unit)
PROPERTIES = {"alpha": ("alpha_bohr3", "bohr³"), "zpve": ("zpve_eV", "eV")}


@dataclass(frozen=True)
class TrainConfig:
    """How to train. ``patience`` counts epochs without a better validation MAE; ``max_minutes``
    stops between epochs before it would be exceeded (see :class:`LearningCurve`)."""

    epochs: int = 100
    batch_size: int = 64
    learning_rate: float = 1e-3
    final_lr_fraction: float = 0.01
    patience: int = 30
    loss: str = "mae"
    seed: int = 0
    max_minutes: float | None = None


class Batches(keras.utils.PyDataset):
    """(padded inputs, targets (B, 1)) for ``rows`` of ``data``, reshuffled every epoch when
    ``shuffle``; the last batch may be smaller."""

    def __init__(self, data: WeaveData, rows: np.ndarray, target: np.ndarray, batch_size: int,
                 shuffle: bool = False, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.data, self.rows, self.batch_size = data, np.asarray(rows), batch_size
        self.target = np.asarray(target, dtype=np.float32).reshape(-1, 1)
        self.shuffle, self.rng = shuffle, np.random.default_rng(seed)
        self.order = self.rng.permutation(len(self.rows)) if shuffle else np.arange(len(self.rows))

    def __len__(self) -> int:
        return math.ceil(len(self.rows) / self.batch_size)

    def __getitem__(self, k: int):
        pick = self.order[k * self.batch_size:(k + 1) * self.batch_size]
        return self.data.padded(self.rows[pick]), self.target[pick]

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.order = self.rng.permutation(len(self.rows))


def split_molecules(train_pool: np.ndarray, test_pool: np.ndarray, n_train: int | None, n_val: int,
                    n_test: int | None, seed: int) -> dict[str, np.ndarray]:
    """Sorted QM9 indices of the training, validation and test molecules of one fold, drawn with
    ``seed``: validation first from a shuffle of the training pool, then the training molecules
    (``None``: all the rest), and a random subset of the test pool (``None``: all of it)."""
    shuffled = np.random.default_rng(seed).permutation(np.sort(train_pool))
    val, train = shuffled[:n_val], shuffled[n_val:]
    train = train if n_train is None else train[:n_train]
    test = np.sort(test_pool)
    if n_test is not None and n_test < len(test):
        test = np.random.default_rng(seed + 1).choice(test, size=n_test, replace=False)
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


#: Atom features left out of the linear baseline: summed over a molecule they give its net charge,
#: 0 for QM9's neutral molecules up to float32 rounding, so least squares would fit rounding noise
#: with enormous weights (it did: −1.5e6 bohr³ per unit of partial charge, and α = −380,029 bohr³
#: for the one molecule whose Gasteiger charges do not sum to 0).
NOT_IN_BASELINE = ("formal_charge", "partial_charge")


def fit_reference(data: WeaveData, rows: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(w, b, s): least squares y ≈ w · Σ_i a_i + b over the molecules ``rows`` and the standard
    deviation s of the residual, for :meth:`~course.models.weave.TargetScale.set_reference`.
    The charge features get weight 0 (see :data:`NOT_IN_BASELINE`)."""
    used = np.array([name not in NOT_IN_BASELINE for name in data.atom_features])
    X = np.column_stack([data.atom_feature_sums(rows)[:, used], np.ones(len(rows))])
    coef, *_ = np.linalg.lstsq(X, target, rcond=None)
    residual = target - X @ coef
    weights = np.zeros(len(used))
    weights[used] = coef[:-1]
    return weights, float(coef[-1]), float(residual.std())


def _scaled_loss(kind: str, scale: float):
    """MAE or MSE of the error divided by ``scale``: the loss of the standardised target."""
    if kind not in ("mae", "mse"):
        raise ValueError(f"loss must be 'mae' or 'mse', not {kind!r}")

    def loss(y_true, y_pred):
        error = (y_true - y_pred) / scale
        return ops.mean(ops.abs(error)) if kind == "mae" else ops.mean(ops.square(error))

    loss.__name__ = f"scaled_{kind}"
    return loss


class LearningCurve(keras.callbacks.Callback):
    """Per-epoch metrics, learning rate and seconds; a tqdm bar over epochs (``progress``) or one
    printed line per epoch (``log``); stops training between epochs as soon as one more epoch as
    long as the last one would end after ``max_minutes`` (the GPU machine kills a command after 10
    minutes, so the budget must hold, not merely be checked once it is spent)."""

    def __init__(self, epochs: int, max_minutes: float | None = None, progress: bool = True, log: bool = False):
        super().__init__()
        self.epochs, self.max_minutes, self.progress, self.log = epochs, max_minutes, progress, log
        self.rows: list[dict] = []
        self.stopped_by_time = False

    def on_train_begin(self, logs=None) -> None:
        self.started = time.perf_counter()
        self.bar = tqdm(total=self.epochs, desc="epochs", unit="epoch", disable=not self.progress)

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self.epoch_started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None) -> None:
        now = time.perf_counter()
        lr = float(ops.convert_to_numpy(self.model.optimizer.learning_rate))
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items() if k != "learning_rate"},
               "lr": lr, "seconds": round(now - self.epoch_started, 2)}
        self.rows.append(row)
        shown = {k: f"{v:.4g}" for k, v in row.items() if k in ("loss", "mae", "val_mae")}
        self.bar.set_postfix(shown)
        self.bar.update()
        if self.log:
            print(f"epoch {epoch + 1}/{self.epochs}: " + ", ".join(f"{k} {v}" for k, v in shown.items())
                  + f", {row['seconds']:.1f} s ({(now - self.started) / 60:.1f} min)", flush=True)
        if self.max_minutes is not None and now - self.started + (now - self.epoch_started) > 60 * self.max_minutes:
            self.stopped_by_time = True
            self.model.stop_training = True

    def on_train_end(self, logs=None) -> None:
        self.bar.close()


class TimedCosine(keras.callbacks.Callback):
    """Cosine decay from ``learning_rate`` to ``final_fraction`` of it, set at the start of every epoch
    from the progress max(epochs done / ``epochs``, time spent / ``max_minutes``).

    A run that ``max_minutes`` will stop early (the GPU machine's 10-minute calls) then still ends
    with a small learning rate, instead of being cut off while the rate planned for ``epochs`` epochs
    is high. Only the time budget is unknown in advance; without it the per-step schedule is used."""

    def __init__(self, learning_rate: float, final_fraction: float, epochs: int, max_minutes: float):
        super().__init__()
        self.learning_rate, self.final_fraction = learning_rate, final_fraction
        self.epochs, self.max_seconds = epochs, 60 * max_minutes

    def on_train_begin(self, logs=None) -> None:
        self.started = time.perf_counter()

    def rate(self, epoch: int, elapsed: float) -> float:
        progress = min(1.0, max(epoch / self.epochs, elapsed / self.max_seconds))
        cosine = 0.5 * (1 + math.cos(math.pi * progress))
        return self.learning_rate * (self.final_fraction + (1 - self.final_fraction) * cosine)

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self.model.optimizer.learning_rate = self.rate(epoch, time.perf_counter() - self.started)


def train(model: WeaveModel, data: WeaveData, train_rows: np.ndarray, val_rows: np.ndarray, column: str,
          config: TrainConfig, checkpoint: str | Path | None = None, progress: bool = True, workers: int = 1,
          log: bool = False) -> dict:
    """Fit ``model`` on ``train_rows`` to ``data.targets[column]``; returns the learning curve.

    Sets the model's target scaling from the training molecules, trains with early stopping on
    the validation MAE, and ends with the best validation weights in the model (and in
    ``checkpoint``, a ``.weights.h5`` path, written whenever the validation MAE improves).
    ``workers`` > 1 pads batches in that many threads; ``log`` prints one line per epoch.
    """
    keras.utils.set_random_seed(config.seed)
    y = data.targets[column]
    reference, offset, scale = fit_reference(data, train_rows, y[train_rows])
    model.target_scale.set_reference(reference, offset, scale)
    loader = dict(workers=workers, use_multiprocessing=False)
    batches = Batches(data, train_rows, y[train_rows], config.batch_size, shuffle=True, seed=config.seed, **loader)
    validation = Batches(data, val_rows, y[val_rows], config.batch_size, **loader)
    curve = LearningCurve(config.epochs, config.max_minutes, progress, log)
    callbacks = [curve, keras.callbacks.EarlyStopping(monitor="val_mae", patience=config.patience,
                                                      restore_best_weights=True)]
    if config.max_minutes is None:
        rate = keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=config.epochs * len(batches),
                                                      alpha=config.final_lr_fraction)
    else:
        rate = config.learning_rate
        callbacks.insert(0, TimedCosine(config.learning_rate, config.final_lr_fraction, config.epochs,
                                        config.max_minutes))
    model.compile(optimizer=keras.optimizers.Adam(rate), loss=_scaled_loss(config.loss, scale), metrics=["mae"])
    if checkpoint is not None:
        callbacks.append(keras.callbacks.ModelCheckpoint(str(checkpoint), monitor="val_mae", save_best_only=True,
                                                         save_weights_only=True))
    started = time.perf_counter()
    model.fit(batches, validation_data=validation, epochs=config.epochs, callbacks=callbacks, verbose=0)
    best = min(curve.rows, key=lambda r: r["val_mae"])
    return {"config": asdict(config), "reference": {"coefficients": reference.tolist(), "offset": offset,
                                                    "residual_std": scale},
            "curve": curve.rows, "epochs_run": len(curve.rows), "best_epoch": best["epoch"],
            "best_val_mae": best["val_mae"], "stopped_by_time": curve.stopped_by_time,
            "train_seconds": round(time.perf_counter() - started, 1),
            "seconds_per_epoch": round(float(np.median([r["seconds"] for r in curve.rows])), 2)}


def predict(model: WeaveModel, data: WeaveData, rows: Sequence[int], batch_size: int = 256) -> np.ndarray:
    """Predictions in the property's units for molecules ``rows`` (compiled, like training)."""
    rows = np.asarray(rows)
    batches = Batches(data, rows, np.zeros(len(rows)), batch_size)
    return model.predict(batches, verbose=0)[:, 0]


def evaluate(model: WeaveModel, data: WeaveData, rows: Sequence[int], column: str, batch_size: int = 256) -> float:
    """Mean absolute error on ``rows`` in the property's units."""
    return float(np.mean(np.abs(predict(model, data, rows, batch_size) - data.targets[column][np.asarray(rows)])))
