"""Training that survives interruption, for any Keras model the course trains on QM9.

A full-budget run lasts longer than a working stretch, and the machine may be replaced between
stretches. :func:`fit_resumable` therefore writes everything a run needs to continue (weights,
optimizer moments and step, epoch and position inside it, best weights, validation history,
elapsed time) to one small ``.npz`` after every epoch and every few minutes, and a later call with
the same arguments, on any machine, continues from it exactly: the shuffle of epoch e is drawn
from (seed, e) alone and the learning rate is a function of the optimizer step.

What differs between models is only how a batch is made and how validation is scored; a
:class:`Batches` object says that (the weave model's, ``course.models.weave_training``, packs
sparse graphs of a fixed capacity; the DTNN's and the autoencoder's pad dense arrays). Everything
else (Adam on a cosine-decayed learning rate, early stopping on the validation error, the time
budget, the saved state) is written here once.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import keras
import numpy as np
from keras import ops
from tqdm.auto import tqdm

#: Format of the resumable training state; a state of another format is refused, not misread.
STATE_VERSION = 1


@dataclass(frozen=True)
class TrainConfig:
    """How to train. ``batch_size`` is the number of molecules a batch holds (for the weave model its
    capacity, see :meth:`~course.models.weave_data.Capacity.for_batches_of`); ``patience`` counts
    epochs without a better validation error.

    >>> TrainConfig(epochs=5).learning_rate
    0.001
    """

    epochs: int = 100
    batch_size: int = 64
    learning_rate: float = 1e-3
    final_lr_fraction: float = 0.01
    patience: int = 30
    loss: str = "mae"
    seed: int = 0


class Batches(Protocol):
    """How one model's training data become batches, and how its validation error is measured."""

    def epoch(self, order: np.ndarray) -> list[np.ndarray]:
        """The training rows of one epoch, in ``order``, cut into batches."""

    def step(self, picked: np.ndarray) -> tuple[Any, np.ndarray]:
        """(inputs, targets) of ``train_on_batch`` for the rows ``picked``."""

    def validate(self, model: keras.Model, rows: np.ndarray) -> float:
        """The validation error (in the property's units) of ``model`` on ``rows``."""


class ArrayBatches:
    """Batches of ``batch_size`` consecutive rows of fixed-length arrays: ``inputs`` (one array, or a
    dict of arrays with the molecules first, e.g. the DTNN's padded ``Z``, ``xyz``, ``atom_mask``)
    and ``targets``; ``error(model, rows)`` is the validation error. For models whose inputs are
    already dense arrays (the DTNN, the autoencoder, dense property models).

    >>> b = ArrayBatches(np.zeros((5, 2)), np.zeros(5), 2, error=lambda model, rows: 0.0)
    >>> [g.tolist() for g in b.epoch(np.array([4, 0, 3, 1, 2]))]
    [[0, 1], [2, 3], [4]]
    """

    def __init__(self, inputs: np.ndarray | dict[str, np.ndarray], targets: np.ndarray, batch_size: int,
                 error: Callable[[keras.Model, np.ndarray], float]):
        n = len(targets)
        arrays = inputs.values() if isinstance(inputs, dict) else [inputs]
        if any(len(a) != n for a in arrays):
            raise ValueError(f"inputs and targets must have one row per molecule ({n} targets)")
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive number of molecules, got {batch_size}")
        self.inputs, self.targets, self.batch_size, self.error = inputs, targets, batch_size, error

    def epoch(self, order: np.ndarray) -> list[np.ndarray]:
        return [np.arange(start, min(start + self.batch_size, len(order)))
                for start in range(0, len(order), self.batch_size)]

    def step(self, picked: np.ndarray) -> tuple[Any, np.ndarray]:
        x = ({k: v[picked] for k, v in self.inputs.items()} if isinstance(self.inputs, dict)
             else self.inputs[picked])
        return x, self.targets[picked]

    def validate(self, model: keras.Model, rows: np.ndarray) -> float:
        return float(self.error(model, rows))


def epoch_order(rows: np.ndarray, seed: int, epoch: int) -> np.ndarray:
    """The training rows of ``epoch`` in the order they are batched: from (seed, epoch) only.

    >>> epoch_order(np.arange(5), seed=0, epoch=3).tolist() == epoch_order(np.arange(5), 0, 3).tolist()
    True
    """
    return rows[np.random.default_rng([seed, epoch]).permutation(len(rows))]


def content_fingerprint(*arrays: np.ndarray) -> str:
    """A short hash of arrays of any dtype, shape and values: a resumed run of a model trained on
    arrays (inputs, targets) must see the same ones.

    >>> a = np.arange(6.0).reshape(2, 3)
    >>> content_fingerprint(a) == content_fingerprint(a.copy()) != content_fingerprint(a.reshape(3, 2))
    True
    """
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


def fingerprint(*arrays: np.ndarray) -> str:
    """A short hash of index arrays: a resumed run must train on the same molecules.

    >>> fingerprint(np.array([1, 2])) == fingerprint(np.array([1, 2])) != fingerprint(np.array([2, 1]))
    True
    """
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array, dtype=np.int64).tobytes())
    return digest.hexdigest()[:16]


@dataclass
class TrainingState:
    """What a run needs to continue exactly (see the module docstring). ``history`` has one row
    per epoch; ``best`` the weights of the best validation error so far."""

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


def _variables(model: keras.Model) -> tuple[list, list]:
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    return model.weights, optimizer.variables


def _restore(model: keras.Model, state: TrainingState) -> None:
    weights, optimizer = _variables(model)
    for group, variables, arrays in (("weights", weights, state.weights), ("optimizer", optimizer, state.optimizer)):
        if [tuple(v.shape) for v in variables] != [a.shape for a in arrays]:
            raise ValueError(f"the saved {group} do not fit this model")
        for variable, array in zip(variables, arrays):
            variable.assign(array)


def _snapshot(variables: list) -> list[np.ndarray]:
    return [np.array(ops.convert_to_numpy(v)) for v in variables]


def fit_resumable(model: keras.Model, batches: Batches, train_rows: np.ndarray, val_rows: np.ndarray,
                  config: TrainConfig, loss: Callable | str, identity: dict, *, error_scale: float = 1.0,
                  checkpoint: str | Path | None = None, state: str | Path | None = None,
                  max_minutes: float | None = None, save_minutes: float = 5.0, progress: bool = True,
                  log: bool = False) -> dict:
    """Train ``model`` with Adam on a cosine-decayed learning rate and early stopping on
    ``batches.validate``; returns the learning curve.

    Ends with the best validation weights in the model (and in ``checkpoint``, a ``.weights.h5``
    path, written whenever the validation error improves). ``identity``: what makes the run this
    run (data, settings), stored in the state and checked when resuming. ``state``: a ``.npz`` path
    to save after every epoch and every ``save_minutes`` within one, and to resume from if it
    exists. ``max_minutes``: stop once this stretch has run that long (after one batch at least,
    inside an epoch if need be; ``finished`` is then false and calling again resumes).
    ``error_scale`` converts the loss to the property's units for the curve's ``mae`` column.
    ``progress`` shows a bar over batches, ``log`` a line per epoch.

    Example (``batches`` of a model, e.g. ``weave_training.WeaveBatches``)::

        history = fit_resumable(model, batches, rows["train"], rows["val"], TrainConfig(epochs=10),
                                "mae", {"run": "demo"}, state="demo.state.npz", max_minutes=30)
        history["finished"], history["curve"][-1]["val_mae"]
    """
    train_rows, val_rows = np.asarray(train_rows), np.asarray(val_rows)
    identity = json.loads(json.dumps(identity))  # as the state file will hold it (tuples become lists)
    steps = math.ceil(len(train_rows) / config.batch_size)
    rate = keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=config.epochs * steps,
                                                  alpha=config.final_lr_fraction)
    # XLA: Keras's "auto" leaves TensorFlow on a CPU uncompiled, 3-4x slower for these models.
    model.compile(optimizer=keras.optimizers.Adam(rate), loss=loss, jit_compile=keras.backend.backend() != "torch")
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
        order = epoch_order(train_rows, config.seed, run.epoch)
        groups = batches.epoch(order)
        for group in tqdm(groups[run.batch:], desc=f"epoch {run.epoch + 1}/{config.epochs}", unit="batch",
                          leave=False, disable=not progress, initial=run.batch, total=len(groups)):
            step_started = time.perf_counter()
            picked = order[group]
            x, target = batches.step(picked)
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
        if run.batch < len(groups):
            break
        epoch_started = time.perf_counter()
        val_mae = batches.validate(model, val_rows)
        seconds = run.epoch_seconds + time.perf_counter() - epoch_started
        epoch_loss = run.epoch_loss / run.epoch_molecules
        run.epoch += 1
        run.train_seconds += seconds
        row = {"epoch": run.epoch, "loss": epoch_loss, "mae": epoch_loss * error_scale if config.loss == "mae" else None,
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
            print(f"epoch {run.epoch}/{config.epochs}: loss {epoch_loss:.4g}, val_mae {val_mae:.4g}, lr {row['lr']:.3g}, "
                  f"{seconds:.0f} s ({run.train_seconds / 3600:.2f} h in all)", flush=True)
    if finished:
        model.set_weights(run.best)
    return {"config": asdict(config), "curve": run.history, "epochs_run": run.epoch, "best_epoch": run.best_epoch,
            "best_val_mae": run.best_val_mae, "finished": finished, "train_seconds": round(run.train_seconds, 1),
            "seconds_per_epoch": round(float(np.median([r["seconds"] for r in run.history])), 2) if run.history else None}


Inputs = np.ndarray | dict[str, np.ndarray]


def _rows_of(x: Inputs, rows: np.ndarray) -> Inputs:
    return {k: v[rows] for k, v in x.items()} if isinstance(x, dict) else x[rows]


def _joined(a: Inputs, b: Inputs) -> Inputs:
    if isinstance(a, dict):
        if not isinstance(b, dict) or set(a) != set(b):
            raise ValueError("training and validation inputs must have the same arrays")
        return {k: np.concatenate([a[k], b[k]]) for k in a}
    return np.concatenate([a, b])


def fit_arrays(model: keras.Model, train: tuple[Inputs, np.ndarray], val: tuple[Inputs, np.ndarray],
               config: TrainConfig, loss: Callable | str, error: Callable[[keras.Model, Inputs, np.ndarray], float],
               name: str, *, state: str | Path | None = None, max_minutes: float | None = None,
               progress: bool = False, log: bool = False) -> dict:
    """:func:`fit_resumable` for molecules given as arrays: ``train`` and ``val`` are (inputs,
    targets), inputs one array or a dict of arrays with the molecules first (the same keys and
    widths in both); ``error(model, inputs, targets)`` is the validation error. ``name`` and the
    model's ``config`` (when it has one), the settings and a hash of the data make the run's identity.

    >>> x = np.random.default_rng(0).normal(size=(60, 2)).astype("float32"); y = x[:, :1] * 3
    >>> keras.utils.set_random_seed(0)
    >>> net = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> mae = lambda model, x, y: float(np.mean(np.abs(model.predict(x, verbose=0) - y)))
    >>> history = fit_arrays(net, (x[:50], y[:50]), (x[50:], y[50:]), TrainConfig(epochs=2, batch_size=10),
    ...                      "mae", mae, "demo")
    >>> history["epochs_run"], history["best_val_mae"] == min(r["val_mae"] for r in history["curve"])
    (2, True)
    """
    (x_train, y_train), (x_val, y_val) = train, val
    x, y = _joined(x_train, x_val), np.concatenate([np.asarray(y_train), np.asarray(y_val)])
    n_train = len(y_train)
    arrays = list(x.values()) if isinstance(x, dict) else [x]
    identity = {"name": name, "config": asdict(config), "model": getattr(model, "config", None),
                "data": content_fingerprint(*arrays, y), "n_train": n_train}
    batches = ArrayBatches(x, y, config.batch_size, lambda m, rows: error(m, _rows_of(x, rows), y[rows]))
    return fit_resumable(model, batches, np.arange(n_train), np.arange(n_train, len(y)), config, loss, identity,
                         state=state, max_minutes=max_minutes, progress=progress, log=log)
