"""The KRR learning curves of Module 2 as a run that writes its results (``course krr-curves``).

The protocol is :func:`course.models.krr_qm9.learning_curves`; this module adds the run around it:
the training sizes of the budget, a record of the protocol next to the results in
``OUT/krr_learning_curves.json`` (and the figure, ``.png``), the merge of representations run as
separate processes, and the target rows added to ``results.json`` beside the notebooks' entries.

The committed full run (``solutions/krr/``, N ≤ 20,000) took 35 min on 2 shared cores as two
processes (``--representations cm`` and ``bob``) with ``OPENBLAS_NUM_THREADS=1`` each: with other
jobs on the cores, one BLAS thread per process avoided the busy-waiting OpenBLAS threads that had
slowed earlier runs several-fold.
"""
from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from course.features.qm9_vectors import REPRESENTATIONS
from course.experiments.records import write_merged
from course.machine import stamp
from course.models.krr_qm9 import LAMS, SIGMA_FACTORS, learning_curves, plot, record_targets, train_sizes

COMMAND = "course krr-curves"
RESULTS_NAME = "krr_learning_curves.json"
#: Molecules for choosing σ and λ when the caller does not say.
CV_N = {"quick": 1000, "full": 2000}
#: Keys that must agree for a run to merge with the one already in the file.
PROTOCOL_KEYS = ("budget", "train_sizes", "dtype", "protocol")


def results_key(budget: str) -> str:
    """The run's entry in ``results.json``, beside the notebook's ``02-kernels``.

    >>> results_key("full")
    '02-kernels (full budget, course krr-curves)'
    """
    return f"02-kernels ({budget} budget, {COMMAND})"


def protocol(test_size: int, cv_n: int) -> dict[str, object]:
    """What the record says about how the curves were measured; runs merge only if it is equal."""
    return {"train": "nested prefixes of a seeded shuffle (seed 0) of folds 1-9 of the canonical split",
            "test": f"{test_size} molecules of fold 0, drawn with seed 1 (a subset, to keep it cheap)",
            "kernel": "laplacian", "targets_centered": True, "units": "bohr for CM/BOB distances",
            "cv": f"5-fold on the first {cv_n} training molecules; σ = median L1 distance × "
                  f"{list(SIGMA_FACTORS)}, λ in {list(LAMS)}; fixed for all N",
            "literature": "Gilmer et al. 2017 Table 2 via targets.md, ~117k training molecules"}


def run(budget: str, out: Path, *, max_n: int | None = None, test_size: int = 2000, cv_n: int | None = None,
        dtype: str = "float64", representations: Sequence[str] = REPRESENTATIONS,
        results: Path | None = None, data=None) -> tuple[dict, Path | None]:
    """Measure the curves, write ``out/krr_learning_curves.json`` and ``.png``; the record and the
    results file its rows went to (``None``: none).

    With ``results`` (a folder such as ``solutions``) and every representation in the file, the
    target rows go into ``results/results.json`` under :func:`results_key`. ``data`` defaults to
    all of QM9 (``course.data.qm9.load``).
    """
    from course.data import qm9
    from course.reproduce import merge_entry

    sizes = train_sizes(budget, max_n)
    cv_n = cv_n or CV_N[budget]
    started = time.perf_counter()
    machine = stamp()
    data = data if data is not None else qm9.load(verbose=False)
    found = learning_curves(data, sizes, cv_n=cv_n, test_size=test_size, dtype=np.dtype(dtype).type,
                            representations=representations)
    run_info = {"wall_seconds": round(time.perf_counter() - started, 1),
                "machine": {**machine, "load_average_at_end": os.getloadavg()}}
    path = out / RESULTS_NAME
    record = write_merged({"budget": budget, "train_sizes": sizes, "dtype": dtype,
                           "protocol": protocol(test_size, cv_n), "results": found,
                           "runs": {rep: run_info for rep in found}}, path, PROTOCOL_KEYS, order=REPRESENTATIONS)
    plot(record["results"]).savefig(path.with_suffix(".png"), dpi=110)
    if results is not None and set(record["results"]) == set(REPRESENTATIONS):
        entry = {"budget": budget, "date": machine["date"], "notebook": None, "command": COMMAND,
                 "wall_seconds": round(sum(r["wall_seconds"] for r in record["runs"].values()), 1),
                 "machine": run_info["machine"],
                 "rows": record_targets(record["results"], f"02-kernels ({budget} budget)")}
        return record, merge_entry(results, results_key(budget), entry)
    return record, None
