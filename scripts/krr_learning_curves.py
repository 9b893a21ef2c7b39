"""KRR learning curves on QM9: sorted Coulomb matrix and Bag of Bonds, for U0, α and ZPVE.

Protocol. Training molecules are drawn, nested, from a seeded shuffle of the nine training folds
of the course's canonical split (all 130,831 molecules: CM and BOB need only atoms and
coordinates); the test set is a fixed random subset of fold 0 (2,000 molecules by default, to
keep prediction cheap; the literature tests on all of it). Laplacian kernel, targets centred.
σ and λ are chosen once per representation and property by 5-fold cross-validation on the first
``--cv-n`` training molecules, σ on a grid of multiples of the median L1 distance there, and
then kept for every N. Each curve is fitted with MAE ≈ a·N^(−b) and extrapolated to the N at
which it would reach the literature MAE (Gilmer et al. 2017, Table 2, about 117k training
molecules; see /work/shared/reference/targets.md).

    PYTHONPATH=. nice -n 10 python scripts/krr_learning_curves.py --budget quick
    PYTHONPATH=. python scripts/krr_learning_curves.py --budget full --results solutions [--max-n 40000]

Writes ``krr_learning_curves.json`` and ``.png`` to ``--out`` (default solutions/krr/).
The committed full run (N ≤ 20,000) took 35 min on 2 shared cores as two processes (CM, BOB) with
OPENBLAS_NUM_THREADS=1 each; with other jobs on the cores, one BLAS thread per process avoided the
busy-waiting OpenBLAS threads that had slowed earlier runs several-fold.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from course import budget
from course.data import qm9
from course.machine import stamp
from course.features.qm9_vectors import REPRESENTATIONS
from course.models.krr_qm9 import LAMS, SIGMA_FACTORS, learning_curves, plot, record_targets
from course.reproduce import merge_entry
from course.paths import repo_root

ROOT = repo_root()
def train_sizes(which: str, max_n: int | None) -> list[int]:
    """quick: 250..2000; full: 1000, 2000, 4000, ... doubling up to ``max_n`` (default 20,000)."""
    if which == "quick":
        sizes = [250, 500, 1000, 2000]
        return [n for n in sizes if max_n is None or n <= max_n]
    top = max_n or 20_000
    sizes = [n for n in (1000 * 2 ** k for k in range(20)) if n < top]
    return sizes + [top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", choices=budget.BUDGETS, default=None, help="default: $COURSE_BUDGET or quick")
    parser.add_argument("--max-n", type=int, default=None, help="largest training set (full: default 20000)")
    parser.add_argument("--test-size", type=int, default=2000, help="random molecules of fold 0 to test on")
    parser.add_argument("--cv-n", type=int, default=None, help="molecules for choosing σ, λ (quick 1000, full 2000)")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    parser.add_argument("--out", type=Path, default=ROOT / "solutions" / "krr")
    parser.add_argument("--representations", nargs="+", choices=REPRESENTATIONS, default=list(REPRESENTATIONS),
                        help="run only these (e.g. one per process); results of the same protocol already "
                             "in --out are kept and merged")
    parser.add_argument("--results", type=Path, default=None,
                        help="also add the target rows to RESULTS/results.json (e.g. solutions)")
    args = parser.parse_args()
    which = args.budget or budget.current()
    sizes = train_sizes(which, args.max_n)
    cv_n = args.cv_n or (1000 if which == "quick" else 2000)
    started = time.perf_counter()
    machine = stamp()

    data = qm9.load(verbose=False)
    results = learning_curves(data, sizes, cv_n=cv_n, test_size=args.test_size, dtype=np.dtype(args.dtype).type,
                              representations=args.representations)
    run = {"wall_seconds": round(time.perf_counter() - started, 1),
           "machine": {**machine, "load_average_at_end": os.getloadavg()}}
    record = {
        "budget": which, "train_sizes": sizes, "dtype": args.dtype,
        "protocol": {"train": "nested prefixes of a seeded shuffle (seed 0) of folds 1-9 of the canonical split",
                     "test": f"{args.test_size} molecules of fold 0, drawn with seed 1 (a subset, to keep it cheap)",
                     "kernel": "laplacian", "targets_centered": True, "units": "bohr for CM/BOB distances",
                     "cv": f"5-fold on the first {cv_n} training molecules; σ = median L1 distance × "
                           f"{list(SIGMA_FACTORS)}, λ in {list(LAMS)}; fixed for all N",
                     "literature": "Gilmer et al. 2017 Table 2 via targets.md, ~117k training molecules"},
        "results": results, "runs": {rep: run for rep in results},
    }
    path = args.out / "krr_learning_curves.json"
    if path.is_file():  # keep the other representations of the same protocol
        earlier = json.loads(path.read_text())
        if all(earlier.get(k) == record[k] for k in ("budget", "train_sizes", "dtype", "protocol")):
            record["results"] = {**earlier["results"], **results}
            record["runs"] = {**earlier.get("runs", {}), **record["runs"]}
    record["results"] = {rep: record["results"][rep] for rep in REPRESENTATIONS if rep in record["results"]}
    args.out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n")
    plot(record["results"]).savefig(args.out / "krr_learning_curves.png", dpi=110)
    print(f"wrote {path} and .png ({', '.join(record['results'])}) in {run['wall_seconds']} s")
    if args.results is not None and set(record["results"]) == set(REPRESENTATIONS):
        runs = record["runs"].values()
        entry = {"budget": which, "date": machine["date"], "notebook": None, "script": "scripts/krr_learning_curves.py",
                 "wall_seconds": round(sum(r["wall_seconds"] for r in runs), 1), "machine": run["machine"],
                 "rows": record_targets(record["results"], f"02-kernels ({which} budget)")}
        target = merge_entry(args.results, f"02-kernels ({which} budget, scripts/krr_learning_curves.py)", entry)
        print(f"added its rows to {target}")


if __name__ == "__main__":
    main()
