"""Seed 001's protocol for the weave model: one property, one fold of the canonical 10-fold split.

Fold k is the test set; a seeded part of the other nine folds is the validation set (early
stopping), the rest trains. The quick budget draws a few thousand training molecules and tests on
2,000 of the fold (CPU, minutes); the full budget trains on all of the nine folds but the
validation part and tests on the whole fold. :func:`run_fold` trains or resumes under a wall-clock
budget: it keeps ``weave_<property>_fold<k>_<budget>.state.npz`` in ``out`` after every epoch and,
once training has finished, writes ``.json`` (test MAE, learning curve, timing, machine) and
``.weights.h5`` (the best validation weights) and removes the state. ``course train`` runs it;
the sizes of each budget are :data:`course.models.weave_plans.PLANS`.

Example (a stretch of at most 50 minutes, resumed by the same call later)::

    record = run_fold("alpha", fold=0, budget="full", out=Path("solutions/weave"), max_minutes=50)
    record is None or record["test_mae"]
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import keras
import numpy as np

from course.machine import stamp
from course.models.weave import build_weave_model
from course.models.weave_data import FORMAT_VERSION, WeaveData
from course.models.weave_plans import PLANS, FoldPlan  # the sizes, read by the Module 4 notebook too
from course.models.weave_training import PROPERTIES, TrainConfig, evaluate, split_molecules, train


def stem(prop: str, fold: int, budget: str, out: Path) -> Path:
    """``out/weave_<prop>_fold<fold>_<budget>``: the files of one run share it."""
    return out / f"weave_{prop}_fold{fold}_{budget}"


def finished_folds(out: Path, budget: str = "full") -> list[dict]:
    """The records of every finished fold in ``out`` (both properties), sorted by property and fold."""
    records = [json.loads(path.read_text()) for path in out.glob(f"weave_*_fold*_{budget}.json")]
    return sorted(records, key=lambda r: (r["property"], r["fold"]))


def runs_in_progress(out: Path, budget: str = "full") -> list[dict]:
    """Property, fold, epochs done and planned, and hours so far of every run with a state file."""
    runs = []
    for path in sorted(out.glob(f"weave_*_fold*_{budget}.state.npz")):
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
        prop, fold = path.name.split("_")[1], int(path.name.split("_")[2].removeprefix("fold"))
        runs.append({"property": prop, "fold": fold, "epochs_done": meta["epoch"],
                     "epochs_planned": meta["identity"]["config"]["epochs"],
                     "hours": round(meta["train_seconds"] / 3600, 2),
                     "best_val_mae": meta["best_val_mae"]})
    return runs


def all_molecules(cache_dir: str | Path | None = None) -> WeaveData:
    """Every usable QM9 molecule in compact form, built once from the QM9 caches and kept beside
    them (``weave_v<format>.npz``, 35 MiB; about 1.5 minutes to build on 2 cores)."""
    from course.data import qm9
    from course.data.cache_lock import building
    from course.data.qm9_cache import resolve_cache_dir
    from course.features import qm9_graphs

    path = resolve_cache_dir(cache_dir) / f"weave_v{FORMAT_VERSION}.npz"
    features = qm9_graphs.graphs_path(cache_dir)
    with building(path):
        if path.is_file() and features.is_file() and path.stat().st_mtime >= features.stat().st_mtime:
            return WeaveData.load(path)  # without reading the 150 MB of MG features it was made from
        data = WeaveData.from_qm9(qm9_graphs.load(cache_dir, verbose=False), qm9.load(cache_dir, verbose=False))
        data.save(path)
        return data


def run_fold(prop: str, fold: int, budget: str, out: Path, max_minutes: float | None = None,
             data: WeaveData | None = None, seed: int = 0, plan: FoldPlan | None = None,
             progress: bool = True, log: bool = False) -> dict | None:
    """Train (or resume) the ``prop`` model of ``fold`` on ``budget``; the fold's record once it
    is finished, ``None`` while the stretch ran out first. ``plan`` replaces the budget's sizes
    (smoke runs); ``data`` defaults to :func:`all_molecules`."""
    if prop not in PROPERTIES:
        raise ValueError(f"property must be one of {', '.join(PROPERTIES)}, not {prop!r}")
    plan = plan or PLANS[budget]
    finished = Path(f"{stem(prop, fold, budget, out)}.json")
    if finished.is_file():  # a rerun of the same command must not train a finished fold again
        return json.loads(finished.read_text())
    data = data if data is not None else all_molecules()
    parts = split_molecules(data.qm9_index[data.fold != fold], data.qm9_index[data.fold == fold],
                            plan.n_train, plan.n_val, plan.n_test, seed)
    rows = {name: data.rows(indices) for name, indices in parts.items()}
    column, unit = PROPERTIES[prop]
    config = TrainConfig(epochs=plan.epochs[prop], batch_size=plan.batch_size, seed=seed,
                         patience=plan.epochs[prop])
    out.mkdir(parents=True, exist_ok=True)
    files = stem(prop, fold, budget, out)
    state = files.with_name(files.name + ".state.npz")
    keras.utils.set_random_seed(seed)
    model = build_weave_model(**plan.model)
    history = train(model, data, rows["train"], rows["val"], column, config, state=state,
                    max_minutes=max_minutes, progress=progress, log=log)
    if not history["finished"]:
        return None
    mae = evaluate(model, data, rows["test"], column)
    model.save_weights(f"{files}.weights.h5")
    record = {
        "property": prop, "column": column, "unit": unit, "fold": fold, "budget": budget, "test_mae": mae,
        "n_train": len(rows["train"]), "n_val": len(rows["val"]), "n_test": len(rows["test"]),
        "test_is_whole_fold": plan.n_test is None, "model": {**model.config, "n_parameters": model.count_params()},
        **history, "core_hours": round(history["train_seconds"] * _cores() / 3600, 2),
        "machine": stamp(backend=keras.backend.backend(), keras=keras.__version__),
    }
    Path(f"{files}.json").write_text(json.dumps(record, indent=1) + "\n")
    state.unlink(missing_ok=True)
    return record


def _cores() -> int:
    """Cores the training could use: training seconds times these are its core-hours (an upper
    bound on CPU time; the machines are shared)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
