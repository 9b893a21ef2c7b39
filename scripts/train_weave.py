"""Train a weave model on one fold of QM9 for α and/or ZPVE and write results and weights.

Protocol: the course's canonical 10-fold split; fold ``--fold`` is the test set, a seeded random
part of the other nine folds is the validation set (early stopping, checkpoint), the rest trains.
The quick budget draws a few thousand training molecules and tests on 2,000 molecules of the test
fold (CPU, minutes); the full budget trains on all of the nine folds but the validation part and
tests on the whole fold (GPU). Writes, per property, ``weave_<property>_fold<k>_<budget>.json``
(test MAE, learning curve, timing, machine) and ``.weights.h5`` (the best validation weights) to
``--out`` (default solutions/weave/).

Here, from the RDKit-built caches (TensorFlow, CPU)::

    PYTHONPATH=. OMP_NUM_THREADS=1 nice -n 10 python scripts/train_weave.py --budget quick --property alpha

On the GPU machine (JAX, no RDKit, no TensorFlow), from the file of ``export_weave_data.py``::

    bash scripts/run_weave_device.sh build/weave/qm9_weave.npz alpha 0

which runs ``KERAS_BACKEND=jax python scripts/train_weave.py --data NPZ --budget full ...``.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import time
from pathlib import Path

import numpy as np

from course import budget
from course.machine import describe

ROOT = Path(__file__).resolve().parents[1]


def sizes(which: str) -> dict:
    """Molecules and model per budget (``None``: all there are)."""
    if which == "quick":
        return dict(n_train=2500, n_val=500, n_test=2000, epochs=20, batch_size=32,
                    model=dict(width=32, n_layers=2, readout_width=64, head=(64,)))
    return dict(n_train=None, n_val=5000, n_test=None, epochs=120, batch_size=128,
                model=dict(width=64, n_layers=3, readout_width=128, head=(128,)))


def load_data(path: Path | None, fold: int, plan: dict, seed: int):
    """(WeaveData, QM9 indices per part): from ``path``, or built here from the QM9 caches."""
    from course.models.weave_data import WeaveData
    from course.models.weave_training import split_molecules

    if path is not None:
        data = WeaveData.load(path)
        parts = split_molecules(data.qm9_index[data.fold != fold], data.qm9_index[data.fold == fold],
                       plan["n_train"], plan["n_val"], plan["n_test"], seed)
        return data, parts
    from course.data import qm9
    from course.features import qm9_graphs

    table = qm9.load(verbose=False)
    train_pool, test_pool = table.split(test_fold=fold, usable_only=True)
    parts = split_molecules(train_pool, test_pool, plan["n_train"], plan["n_val"], plan["n_test"], seed)
    wanted = np.concatenate(list(parts.values()))
    return WeaveData.from_qm9(qm9_graphs.load(verbose=False), table, wanted), parts


def accelerator() -> str:
    """The device Keras computes on, in words."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        device = jax.devices()[0]
        return device.platform if device.device_kind == device.platform else f"{device.platform} ({device.device_kind})"
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        return f"gpu: {gpus[0].name}" if gpus else "cpu"
    return keras.backend.backend()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--property", choices=("alpha", "zpve", "both"), default="both")
    parser.add_argument("--fold", type=int, default=0, help="test fold, 0..9")
    parser.add_argument("--budget", choices=budget.BUDGETS, default=None, help="default: $COURSE_BUDGET or quick")
    parser.add_argument("--data", type=Path, default=None, help="npz of export_weave_data.py (no RDKit needed)")
    parser.add_argument("--out", type=Path, default=ROOT / "solutions" / "weave")
    parser.add_argument("--epochs", type=int, default=None, help="override the budget's epochs")
    parser.add_argument("--n-train", type=int, default=None, help="override the budget's training molecules")
    parser.add_argument("--n-val", type=int, default=None, help="override the budget's validation molecules")
    parser.add_argument("--n-test", type=int, default=None, help="override the budget's test molecules (a smoke test)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--patience", type=int, default=30)
    parser.add_argument("--readout", choices=("sum", "histogram"), default="sum")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop training after this long")
    parser.add_argument("--workers", type=int, default=1, help="threads that pad batches")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--log-epochs", action="store_true", help="print one line per epoch (for logs)")
    args = parser.parse_args()

    # Keras reads KERAS_BACKEND on import, so the library is imported only now.
    import keras

    from course.models.weave import build_weave_model
    from course.models.weave_training import PROPERTIES, TrainConfig, evaluate, train

    which = args.budget or budget.current()
    plan = sizes(which)
    plan.update({k: v for k, v in (("epochs", args.epochs), ("n_train", args.n_train), ("n_val", args.n_val),
                                   ("n_test", args.n_test), ("batch_size", args.batch_size)) if v is not None})
    started = time.perf_counter()
    data, parts = load_data(args.data, args.fold, plan, args.seed)
    load_seconds = time.perf_counter() - started
    rows = {name: data.rows(indices) for name, indices in parts.items()}
    print(f"{keras.backend.backend()} on {accelerator()}: train {len(rows['train'])}, validation "
          f"{len(rows['val'])}, test {len(rows['test'])} molecules of fold {args.fold} (loaded in {load_seconds:.0f} s)",
          flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    properties = list(PROPERTIES) if args.property == "both" else [args.property]
    for name in properties:
        column, unit = PROPERTIES[name]
        stem = args.out / f"weave_{name}_fold{args.fold}_{which}"
        config = TrainConfig(epochs=plan["epochs"], batch_size=plan["batch_size"], learning_rate=args.learning_rate,
                             patience=args.patience, seed=args.seed, max_minutes=args.max_minutes)
        model = build_weave_model(**plan["model"], readout=args.readout)
        t0 = time.perf_counter()
        history = train(model, data, rows["train"], rows["val"], column, config,
                        checkpoint=f"{stem}.weights.h5", progress=not args.quiet, workers=args.workers,
                        log=args.log_epochs)
        mae = evaluate(model, data, rows["test"], column)
        model.save_weights(f"{stem}.weights.h5")  # the restored best weights, also when none was checkpointed
        record = {
            "property": name, "column": column, "unit": unit, "fold": args.fold, "budget": which,
            "test_mae": mae, "n_train": len(rows["train"]), "n_val": len(rows["val"]), "n_test": len(rows["test"]),
            "test_is_whole_fold": plan["n_test"] is None,
            "model": {**model.config, "n_parameters": model.count_params()},
            **history, "wall_seconds": round(time.perf_counter() - t0, 1),
            "data": str(args.data) if args.data else "QM9 caches (course.features.qm9_graphs)",
            "machine": {**describe(), "backend": keras.backend.backend(), "keras": keras.__version__,
                        "accelerator": accelerator(), "threads": os.environ.get("OMP_NUM_THREADS"),
                        "load_average": os.getloadavg(),
                        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")},
        }
        Path(f"{stem}.json").write_text(json.dumps(record, indent=1) + "\n")
        print(f"{name}: test MAE {mae:.4g} {unit} after {history['epochs_run']} epochs "
              f"({history['seconds_per_epoch']} s/epoch); wrote {stem}.json and .weights.h5", flush=True)


if __name__ == "__main__":
    main()
