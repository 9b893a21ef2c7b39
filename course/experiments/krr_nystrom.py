"""The Nyström study of QM9 as a run that writes its results (``course krr-nystrom``).

The protocol is :func:`course.models.nystrom_qm9.study`; this module adds the run around it: σ per
representation and property read from the exact learning curves (``krr_learning_curves.json`` of
``course krr-curves``), the exact test MAE at the same training size written next to Nyström's,
and ``OUT/nystrom_study.json`` and ``.png`` merged across representations run as separate
processes (``--representations cm``, then ``bob``).
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
#: Keys that must agree for a run to merge with the one already in the file.
PROTOCOL_KEYS = ("n_train", "n_val", "centres", "kernel", "sigma_from")


def sigma_factors(exact: dict, representations: Sequence[str]) -> dict[str, dict[str, float]]:
    """σ / median L1 distance per representation and property, as the exact run chose it.

    >>> sigma_factors({"cm": {"U0": {"sigma_over_median_l1": 4.0}}}, ["cm"])
    {'cm': {'U0': 4.0}}
    """
    return {rep: {prop: r["sigma_over_median_l1"] for prop, r in exact[rep].items()} for rep in representations}


def run(out: Path, exact_path: Path, *, n_train: int = 20_000, centres: Sequence[int] = (500, 1000, 2000, 4000),
        n_val: int = 2000, representations: Sequence[str] = REPRESENTATIONS, root: Path | None = None,
        data=None) -> dict:
    """Run the study, write ``out/nystrom_study.json`` and ``.png`` and return the record.

    ``exact_path`` is named relative to ``root`` (the course repository) in the record when it lies
    inside it. ``data`` defaults to all of QM9 (``course.data.qm9.load``).
    """
    from course.data import qm9

    exact = json.loads(exact_path.read_text())["results"]
    machine = stamp(openblas_threads=os.environ.get("OPENBLAS_NUM_THREADS"))
    pin_mmap_threshold()  # freed arrays go back to the system: resident memory shows each pass's peak
    started = time.perf_counter()
    data = data if data is not None else qm9.load(verbose=False)
    results = study(data, n_train, list(centres), sigma_factors(exact, representations), n_val=n_val)
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
    return record
