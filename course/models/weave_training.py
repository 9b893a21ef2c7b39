"""Training and evaluating a weave model on QM9 from :class:`~course.models.weave_data.WeaveData`.

Batches are built on the fly from the compact store in the sparse layout (real atoms and pairs
only, packed to one fixed :class:`~course.models.weave_data.Capacity`, so the XLA-compiled train
step compiles once). Targets are standardised inside the model
(:class:`~course.models.weave.TargetScale`: a least-squares "bag of atom features" baseline plus
the spread of its residual). Training is Adam on a cosine-decayed learning rate, one
``train_on_batch`` per batch, with the best validation weights kept (early stopping).

Training survives interruption: with ``state=PATH`` everything it needs (weights, optimizer
moments and step, epoch and position inside it, best weights, validation history, elapsed time)
is written to one small ``.npz`` after every epoch and every few minutes, and a later call with the
same arguments, on any machine, continues from it exactly: the shuffle of epoch e is drawn from
(seed, e) alone and the learning rate is a function of the optimizer step. ``max_minutes`` ends a
stretch. No RDKit, pandas or
TensorFlow here: this runs on a JAX-only machine too.
"""
from __future__ import annotations

import hashlib
import json
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
from course.models.weave_data import Capacity, WeaveData, pack
from course.stats import masked_mae

#: property name -> (WeaveData target column, unit)
PROPERTIES = {"alpha": ("alpha_bohr3", "bohr³"), "zpve": ("zpve_eV", "eV")}
#: Format of the resumable training state; a state of another format is refused, not misread.
STATE_VERSION = 1


@dataclass(frozen=True)
class TrainConfig:
    """How to train. ``batch_size`` is the molecule capacity of a batch (see
    :meth:`Capacity.for_batches_of`); ``patience`` counts epochs without a better validation MAE."""

    epochs: int = 100
    batch_size: int = 64
    learning_rate: float = 1e-3
    final_lr_fraction: float = 0.01
    patience: int = 30
    loss: str = "mae"
    seed: int = 0


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


def _epoch_order(rows: np.ndarray, seed: int, epoch: int) -> np.ndarray:
    """The training molecules of ``epoch`` in the order they are batched: from (seed, epoch) only."""
    return rows[np.random.default_rng([seed, epoch]).permutation(len(rows))]


def fingerprint(*arrays: np.ndarray) -> str:
    """A short hash of index arrays: a resumed run must train on the same molecules."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array, dtype=np.int64).tobytes())
    return digest.hexdigest()[:16]


@dataclass
class TrainingState:
    """What a run needs to continue exactly: see the module docstring. ``history`` has one row
    per epoch; ``best`` the weights of the best validation MAE so far."""

    epoch: int
    history: list[dict]
    best_val_mae: float
    best_epoch: int
    wait: int
    train_seconds: float
    batch: int  # batches of the current epoch done (a stretch may stop inside an epoch)
    epoch_loss: float  # Σ loss × molecules over those batches
    epoch_molecules: int
    epoch_seconds: float
    weights: list[np.ndarray]
    optimizer: list[np.ndarray]
    best: list[np.ndarray]
    identity: dict

    def save(self, path: str | Path) -> None:
        """Write atomically (a run killed while saving keeps its previous state)."""
        path = Path(path)
        meta = {k: v for k, v in asdict(self).items() if k not in ("weights", "optimizer", "best")}
        arrays = {f"{group}/{k:03d}": a for group in ("weights", "optimizer", "best")
                  for k, a in enumerate(getattr(self, group))}
        partial = path.with_name(path.name + ".partial.npz")
        np.savez_compressed(partial, meta=json.dumps({"version": STATE_VERSION, **meta}), **arrays)
        partial.replace(path)

    @classmethod
    def load(cls, path: str | Path, identity: dict) -> TrainingState:
        """The state in ``path``; ``ValueError`` naming the file if it belongs to another run."""
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            groups = {g: [f[k] for k in sorted(f.files) if k.startswith(g + "/")] for g in ("weights", "optimizer", "best")}
        if meta.pop("version") != STATE_VERSION:
            raise ValueError(f"{path}: training state of another format version; delete it to start afresh")
        if meta["identity"] != identity:
            differs = sorted(k for k in set(identity) | set(meta["identity"]) if identity.get(k) != meta["identity"].get(k))
            raise ValueError(f"{path} is the state of another run ({', '.join(differs)} differ); "
                             "delete it or use the same settings")
        return cls(**meta, **groups)


def _variables(model: WeaveModel) -> tuple[list, list]:
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    return model.weights, optimizer.variables


def _restore(model: WeaveModel, state: TrainingState) -> None:
    weights, optimizer = _variables(model)
    for group, variables, arrays in (("weights", weights, state.weights), ("optimizer", optimizer, state.optimizer)):
        if [tuple(v.shape) for v in variables] != [a.shape for a in arrays]:
            raise ValueError(f"the saved {group} do not fit this model")
        for variable, array in zip(variables, arrays):
            variable.assign(array)


def _snapshot(variables: list) -> list[np.ndarray]:
    return [np.array(ops.convert_to_numpy(v)) for v in variables]


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
    n_outputs = y.shape[1]
    model.target_scale.set_reference(reference, offset, scale)
    capacity = Capacity.for_batches_of(config.batch_size, data.n_atoms[train_rows])
    steps = math.ceil(len(train_rows) / config.batch_size)
    rate = keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=config.epochs * steps,
                                                  alpha=config.final_lr_fraction)
    # XLA: Keras's "auto" leaves TensorFlow on a CPU uncompiled, 3-4x slower for this model.
    model.compile(optimizer=keras.optimizers.Adam(rate), loss=masked_loss(config.loss, scale),
                  jit_compile=keras.backend.backend() != "torch")
    identity = {**named, "config": asdict(config), "model": model.config,
                "molecules": fingerprint(data.qm9_index[train_rows], data.qm9_index[val_rows])}
    if state is not None and Path(state).is_file():
        run = TrainingState.load(state, identity)
        _restore(model, run)
    else:
        run = TrainingState(epoch=0, history=[], best_val_mae=math.inf, best_epoch=0, wait=0, train_seconds=0.0,
                            batch=0, epoch_loss=0.0, epoch_molecules=0, epoch_seconds=0.0,
                            weights=[], optimizer=[], best=_snapshot(model.weights), identity=identity)

    def save() -> None:
        if state is not None:
            weights, optimizer = _variables(model)
            run.weights, run.optimizer = _snapshot(weights), _snapshot(optimizer)
            run.save(state)
            run.weights = run.optimizer = []

    started = saved = time.perf_counter()
    finished = run.epoch >= config.epochs or run.wait >= config.patience
    out_of_time = False
    while not (finished or out_of_time):
        order = _epoch_order(train_rows, config.seed, run.epoch)
        batches = pack(data.n_atoms[order], capacity)
        for batch in tqdm(batches[run.batch:], desc=f"epoch {run.epoch + 1}/{config.epochs}", unit="batch",
                          leave=False, disable=not progress, initial=run.batch, total=len(batches)):
            step_started = time.perf_counter()
            picked = order[batch]
            x = data.sparse(picked, capacity)
            target = np.zeros((capacity.molecules, 2 * n_outputs), np.float32)
            target[:len(picked), :n_outputs] = y[picked]
            target[:len(picked), n_outputs:] = 1.0 if y_weights is None else y_weights[picked]
            run.epoch_loss += float(model.train_on_batch(x, target)) * len(picked)
            run.epoch_molecules += len(picked)
            run.batch += 1
            now = time.perf_counter()
            run.epoch_seconds += now - step_started
            # Stop as soon as the stretch's budget is spent (after one batch at least), and save
            # every few minutes, so that no stretch's work is lost when it is killed.
            out_of_time = max_minutes is not None and now - started > 60 * max_minutes
            if out_of_time or now - saved > 60 * save_minutes:
                save()
                saved = now
            if out_of_time:
                break
        if run.batch < len(batches):
            break
        epoch_started = time.perf_counter()
        val_mae = evaluate(model, data, val_rows, column, capacity)
        seconds = run.epoch_seconds + time.perf_counter() - epoch_started
        loss = run.epoch_loss / run.epoch_molecules
        run.epoch += 1
        run.train_seconds += seconds
        row = {"epoch": run.epoch, "loss": loss, "mae": loss * scale if config.loss == "mae" else None,
               "val_mae": val_mae, "lr": float(ops.convert_to_numpy(model.optimizer.learning_rate)),
               "seconds": round(seconds, 2)}
        run.history.append(row)
        run.batch, run.epoch_loss, run.epoch_molecules, run.epoch_seconds = 0, 0.0, 0, 0.0
        if val_mae < run.best_val_mae:
            run.best_val_mae, run.best_epoch, run.wait = val_mae, run.epoch, 0
            run.best = _snapshot(model.weights)
            if checkpoint is not None:
                model.save_weights(str(checkpoint))
        else:
            run.wait += 1
        finished = run.epoch >= config.epochs or run.wait >= config.patience
        save()
        saved = time.perf_counter()
        if log:
            print(f"epoch {run.epoch}/{config.epochs}: loss {loss:.4g}, val_mae {val_mae:.4g}, lr {row['lr']:.3g}, "
                  f"{seconds:.0f} s ({run.train_seconds / 3600:.2f} h in all)", flush=True)
    if finished:
        model.set_weights(run.best)
    return {"config": asdict(config), "reference": {"coefficients": reference.tolist(), "offset": offset,
                                                    "residual_std": scale},
            "capacity": asdict(capacity), "curve": run.history, "epochs_run": run.epoch, "best_epoch": run.best_epoch,
            "best_val_mae": run.best_val_mae, "finished": finished, "train_seconds": round(run.train_seconds, 1),
            "seconds_per_epoch": round(float(np.median([r["seconds"] for r in run.history])), 2) if run.history else None}


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
