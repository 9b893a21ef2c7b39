"""Training and evaluating a weave model on QM9 from :class:`~course.models.weave_data.WeaveData`.

Batches are built on the fly from the compact store in the sparse layout (real atoms and pairs
only, packed to one fixed :class:`~course.models.weave_data.Capacity`, so the XLA-compiled train
step compiles once). Targets are standardised inside the model
(:class:`~course.models.weave.TargetScale`: a least-squares "bag of atom features" baseline plus
the spread of its residual). The loop itself (Adam on a cosine-decayed learning rate, early
stopping, and the state that lets a run stopped at any point continue exactly, ``state=PATH`` and
``max_minutes``) is :func:`course.models.resumable.fit_resumable`; :class:`WeaveBatches` is what
it needs to know about weave batches. No RDKit, pandas or TensorFlow here: this runs on a JAX-only
machine too.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
from keras import ops

from course.models.resumable import TrainConfig, fingerprint, fit_resumable
from course.models.weave import WeaveModel
from course.models.weave_data import Capacity, WeaveData, pack
from course.stats import masked_mae

#: property name -> (WeaveData target column, unit)
PROPERTIES = {"alpha": ("alpha_bohr3", "bohr³"), "zpve": ("zpve_eV", "eV")}
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


@dataclass(frozen=True)
class SetTarget:
    """A target with several values per molecule, for every row of a :class:`WeaveData`.

    ``values`` (rows, n) and ``weights`` (rows, n): 1 for a real value, 0 for a padded slot (a
    molecule with fewer vibrational modes than n). Pass it to :func:`train`, :func:`predict` and
    :func:`evaluate` where a scalar property passes its column name; ``name`` stands for it in the
    training record. With the padded frequencies of ``course.features.frequencies``, in row order::

        values, mask = padded_frequencies(*frequencies_of(qm9_data, weave_data.qm9_index))
        target = SetTarget("frequencies_cm", values, mask)
    """

    name: str
    values: np.ndarray
    weights: np.ndarray

    def __post_init__(self):
        if self.values.ndim != 2 or self.values.shape != self.weights.shape:
            raise ValueError(f"SetTarget {self.name!r}: values and weights must be (rows, n) of one shape, got "
                             f"{self.values.shape} and {self.weights.shape}")
        if not np.all(np.isfinite(self.values[self.weights > 0])):
            raise ValueError(f"SetTarget {self.name!r}: a real (weight > 0) value is NaN or infinite")


def _fit_set_reference(data: WeaveData, rows: np.ndarray, target: SetTarget) -> tuple[np.ndarray, float, float]:
    """(w, b, s) of :func:`fit_reference` for a :class:`SetTarget`: one baseline for all its
    outputs, fitted to each molecule's mean real value, and s the spread of every real value
    around it (the output layer's biases learn how the slots differ)."""
    weights = target.weights[rows]
    means = (target.values[rows] * weights).sum(1) / np.maximum(weights.sum(1), 1e-12)
    reference, offset, _ = fit_reference(data, rows, means)
    used = np.array([name not in NOT_IN_BASELINE for name in data.atom_features])
    baseline = data.atom_feature_sums(rows)[:, used] @ reference[used] + offset
    residual = (target.values[rows] - baseline[:, None])[weights > 0]
    return reference, offset, float(residual.std())


def masked_loss(kind: str, scale: float):
    """MAE or MSE of the standardised error over the real outputs of a batch.

    For a model with n outputs per molecule (``y_pred`` (M, n)), ``y_true`` is (M, 2n): the n
    targets, then n weights, 1 for a real output and 0 for padding. With n = 1 that is (target,
    1 for a real molecule, 0 for a padding molecule). With the padded frequencies of
    ``course.features.frequencies`` it is ``np.hstack([values, mask])``: the loss then averages
    over every real mode of the batch, and padded slots, whatever the model puts there, neither
    change it nor get a gradient.

    >>> loss = masked_loss("mae", scale=2.0)
    >>> y_true = np.array([[1.0, 5.0, 1.0, 0.0], [3.0, 0.0, 1.0, 0.0]])  # 2 molecules, 1 real mode each
    >>> float(loss(y_true, np.array([[0.0, 123.0], [4.0, -7.0]])))      # (|1 - 0| + |3 - 4|) / 2 / 2
    0.5
    """
    if kind not in ("mae", "mse"):
        raise ValueError(f"loss must be 'mae' or 'mse', not {kind!r}")

    def loss(y_true, y_pred):
        n = y_pred.shape[-1]
        target, real = y_true[:, :n], y_true[:, n:]
        error = (target - y_pred) / scale
        per_output = ops.abs(error) if kind == "mae" else ops.square(error)
        # where(real, ...) rather than a product: a padded slot holding inf or NaN stays out too.
        return ops.sum(ops.where(real > 0, per_output * real, 0.0)) / ops.maximum(ops.sum(real), 1.0)

    loss.__name__ = f"scaled_{kind}"
    return loss


class WeaveBatches:
    """Sparse weave batches of one fixed :class:`Capacity` (one XLA compilation), for
    :func:`~course.models.resumable.fit_resumable`: targets ``y`` (molecules, n) with ``weights``
    (1 real, 0 padding; all real for a scalar property) as :func:`masked_loss` reads them."""

    def __init__(self, data: WeaveData, y: np.ndarray, weights: np.ndarray | None, capacity: Capacity,
                 column: str | SetTarget):
        self.data, self.y, self.weights, self.capacity, self.column = data, y, weights, capacity, column

    def epoch(self, order: np.ndarray) -> list[np.ndarray]:
        return pack(self.data.n_atoms[order], self.capacity)

    def step(self, picked: np.ndarray) -> tuple[dict, np.ndarray]:
        n_outputs = self.y.shape[1]
        target = np.zeros((self.capacity.molecules, 2 * n_outputs), np.float32)
        target[:len(picked), :n_outputs] = self.y[picked]
        target[:len(picked), n_outputs:] = 1.0 if self.weights is None else self.weights[picked]
        return self.data.sparse(picked, self.capacity), target

    def validate(self, model: keras.Model, rows: np.ndarray) -> float:
        return evaluate(model, self.data, rows, self.column, self.capacity)


def train(model: WeaveModel, data: WeaveData, train_rows: np.ndarray, val_rows: np.ndarray, column: str | SetTarget,
          config: TrainConfig, checkpoint: str | Path | None = None, state: str | Path | None = None,
          max_minutes: float | None = None, save_minutes: float = 5.0, progress: bool = True,
          log: bool = False) -> dict:
    """Fit ``model`` on ``train_rows`` to ``data.targets[column]`` (or to a :class:`SetTarget`, for a
    model with as many outputs); returns the learning curve.

    Sets the model's target scaling from the training molecules, trains with early stopping on
    the validation MAE, and ends with the best validation weights in the model (and in
    ``checkpoint``, a ``.weights.h5`` path, written whenever the validation MAE improves).
    ``state``: a ``.npz`` path to save after every epoch and every ``save_minutes`` within one,
    and to resume from if it exists. ``max_minutes``: stop once this stretch has run that long
    (after one batch at least, inside an epoch if need be; ``finished`` is then false and calling
    again resumes). ``progress`` shows a bar over batches, ``log`` a line per epoch.

    Example::

        history = train(build_weave_model(), data, rows["train"], rows["val"], "alpha_bohr3",
                        TrainConfig(epochs=10), state="alpha.state.npz", max_minutes=30)
        history["finished"], history["curve"][-1]["val_mae"]
    """
    train_rows, val_rows = np.asarray(train_rows), np.asarray(val_rows)
    if isinstance(column, SetTarget):
        y, y_weights = column.values, column.weights
        reference, offset, scale = _fit_set_reference(data, train_rows, column)
        named = {"column": column.name, "targets": fingerprint(column.values, column.weights)}
    else:
        y, y_weights = data.targets[column][:, None], None
        reference, offset, scale = fit_reference(data, train_rows, y[train_rows, 0])
        named = {"column": column}
    model.target_scale.set_reference(reference, offset, scale)
    capacity = Capacity.for_batches_of(config.batch_size, data.n_atoms[train_rows])
    identity = {**named, "config": asdict(config), "model": model.config,
                "molecules": fingerprint(data.qm9_index[train_rows], data.qm9_index[val_rows])}
    result = fit_resumable(model, WeaveBatches(data, y, y_weights, capacity, column), train_rows, val_rows, config,
                           masked_loss(config.loss, scale), identity, error_scale=scale, checkpoint=checkpoint,
                           state=state, max_minutes=max_minutes, save_minutes=save_minutes, progress=progress,
                           log=log)
    return {"config": result.pop("config"), "reference": {"coefficients": reference.tolist(), "offset": offset,
                                                          "residual_std": scale},
            "capacity": asdict(capacity), **result}


def predict(model: WeaveModel, data: WeaveData, rows: Sequence[int], capacity: Capacity | None = None) -> np.ndarray:
    """Predictions in the property's units for molecules ``rows``, in sparse batches of
    ``capacity`` (default: room for 256 molecules of these sizes): (rows,) for a scalar model,
    (rows, n) for a model of n outputs."""
    rows = np.asarray(rows, dtype=np.int64)
    capacity = capacity or Capacity.for_batches_of(256, data.n_atoms[rows])
    n_outputs = model.head[-1].units
    out = np.empty((len(rows), n_outputs))
    for batch in pack(data.n_atoms[rows], capacity):
        x = data.sparse(rows[batch], capacity)
        out[batch] = ops.convert_to_numpy(model.predict_on_batch(x))[:len(batch)]
    return out[:, 0] if n_outputs == 1 else out


def evaluate(model: WeaveModel, data: WeaveData, rows: Sequence[int], column: str | SetTarget,
             capacity: Capacity | None = None) -> float:
    """Mean absolute error on ``rows`` in the property's units (over the real values of a
    :class:`SetTarget`)."""
    rows = np.asarray(rows, dtype=np.int64)
    predicted = predict(model, data, rows, capacity)
    if isinstance(column, SetTarget):
        true = column.values[rows]
        return masked_mae(true, np.reshape(predicted, true.shape), column.weights[rows])
    return float(np.mean(np.abs(predicted - data.targets[column][rows])))
