"""The Nyström study of QM9 as a run that writes its results (``course krr-nystrom``).

The protocol is :func:`course.models.nystrom_qm9.study`; this module adds the run around it: σ per
representation and property read from the exact learning curves (``krr_learning_curves.json`` of
``course krr-curves``), the exact test MAE at the same training size written next to Nyström's,
and ``OUT/nystrom_study.json`` and ``.png`` merged across representations run as separate
processes (``--representations cm``, then ``bob``). A run stopped part way (hours on all training
molecules) resumes where it stopped: every finished pass is saved at once in
``OUT/nystrom_study.partial.json``, which the same command reads again and removes when it is done.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

from course.experiments.records import write_merged
from course.features.qm9_vectors import REPRESENTATIONS
from course.machine import pin_mmap_threshold, stamp
from course.models.nystrom_qm9 import plot, study

RESULTS_NAME = "nystrom_study.json"
PARTIAL_NAME = "nystrom_study.partial.json"
#: Keys that must agree for a run to merge with the one already in the file.
PROTOCOL_KEYS = ("n_train", "n_val", "centres", "kernel", "sigma_from")


def sigma_factors(exact: dict, representations: Sequence[str]) -> dict[str, dict[str, float]]:
    """σ / median L1 distance per representation and property, as the exact run chose it.

    >>> sigma_factors({"cm": {"U0": {"sigma_over_median_l1": 4.0}}}, ["cm"])
    {'cm': {'U0': 4.0}}
    """
    return {rep: {prop: r["sigma_over_median_l1"] for prop, r in exact[rep].items()} for rep in representations}


def all_training_molecules(data, n_val: int) -> int:
    """How many molecules ``--n-train all`` trains on: the training folds 1–9 less the validation set.

    >>> class Folds:  # a stand-in for QM9 with 100 training and 10 test molecules
    ...     def split(self, test_fold): return list(range(100)), list(range(100, 110))
    >>> all_training_molecules(Folds(), n_val=20)
    80
    """
    return len(data.split(test_fold=0)[0]) - n_val


def run(out: Path, exact_path: Path, *, n_train: int | str = 20_000,
        centres: Sequence[int] = (500, 1000, 2000, 4000), n_val: int = 2000,
        representations: Sequence[str] = REPRESENTATIONS, root: Path | None = None, data=None) -> dict:
    """Run the study, write ``out/nystrom_study.json`` and ``.png`` and return the record.

    ``n_train="all"`` trains on every molecule of the training folds but the validation set.
    ``exact_path`` is named relative to ``root`` (the course repository) in the record when it lies
    inside it. ``data`` defaults to all of QM9 (``course.data.qm9.load``).
    """
    from course.data import qm9

    exact = json.loads(exact_path.read_text())["results"]
    machine = stamp(openblas_threads=os.environ.get("OPENBLAS_NUM_THREADS"))
    pin_mmap_threshold()  # freed arrays go back to the system: resident memory shows each pass's peak
    started = time.perf_counter()
    data = data if data is not None else qm9.load(verbose=False)
    if n_train == "all":
        n_train = all_training_molecules(data, n_val)
    protocol = {"n_train": n_train, "n_val": n_val, "centres": list(centres)}
    partial_path = out / PARTIAL_NAME
    done = None
    if partial_path.is_file():
        saved = json.loads(partial_path.read_text())
        if saved["protocol"] != protocol:
            raise ValueError(f"{partial_path} holds a stopped run of another protocol ({saved['protocol']}, "
                             f"not {protocol}): finish it with those options or delete it")
        done = saved["results"]

    def save(results: dict) -> None:
        out.mkdir(parents=True, exist_ok=True)
        unfinished = partial_path.with_suffix(".tmp")
        unfinished.write_text(json.dumps({"protocol": protocol, "results": {**(done or {}), **results}}, indent=1))
        unfinished.replace(partial_path)  # atomic: a run killed while saving keeps the passes before

    results = study(data, n_train, list(centres), sigma_factors(exact, representations), n_val=n_val,
                    done=done, after_pass=save)
    for rep, props in results.items():
        for prop, row in props.items():
            row["exact_test_mae_same_n"] = dict(zip(exact[rep][prop]["n"], exact[rep][prop]["mae"])).get(n_train)
    run_info = {"wall_seconds": round(time.perf_counter() - started, 1),
                "machine": {**machine, "load_average_at_end": os.getloadavg()}}
    named = exact_path.relative_to(root) if root is not None and exact_path.is_relative_to(root) else exact_path
    record = {"n_train": n_train, "n_val": n_val, "centres": list(centres), "kernel": "laplacian",
              "sigma_from": str(named), "results": results, "runs": {rep: run_info for rep in results}}
    path = out / RESULTS_NAME
    record = write_merged(record, path, PROTOCOL_KEYS)
    plot(record["results"]).savefig(path.with_suffix(".png"), dpi=110)
    saved = json.loads(partial_path.read_text())["results"] if partial_path.is_file() else {}
    if set(saved) <= set(results):  # every representation of the stopped run is now in the results file
        partial_path.unlink(missing_ok=True)
    return record
