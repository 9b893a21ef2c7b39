"""Nyström KRR on QM9: validation/test MAE, time and peak memory against the number of centres m.

σ per representation and property is the one the exact learning curves chose by cross-validation
(read from ``--exact``, solutions/krr/krr_learning_curves.json); λ is chosen on a validation set
along the λ path. Where the exact run has the same training size, its test MAE is written next to
ours (same training and test molecules). See course/models/nystrom_qm9.py for the protocol.

    PYTHONPATH=. OPENBLAS_NUM_THREADS=1 nice -n 5 python scripts/krr_nystrom_study.py --n-train 20000 \\
        --centres 500 1000 2000 4000

Writes ``nystrom_study.json`` and ``.png`` to ``--out`` (default solutions/krr/); representations run
separately (``--representations cm``, one process each) are merged into the same file.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from course.data import qm9
from course.features.qm9_vectors import REPRESENTATIONS
from course.machine import pin_mmap_threshold, stamp
from course.models.nystrom_qm9 import plot, study
from course.paths import repo_root

ROOT = repo_root()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=20_000, help="training molecules (default 20000)")
    parser.add_argument("--centres", type=int, nargs="+", default=[500, 1000, 2000, 4000], help="values of m")
    parser.add_argument("--n-val", type=int, default=2000, help="validation molecules for choosing λ")
    parser.add_argument("--representations", nargs="+", choices=REPRESENTATIONS, default=list(REPRESENTATIONS))
    parser.add_argument("--exact", type=Path, default=ROOT / "solutions" / "krr" / "krr_learning_curves.json")
    parser.add_argument("--out", type=Path, default=ROOT / "solutions" / "krr")
    args = parser.parse_args()
    exact = json.loads(args.exact.read_text())["results"]
    factors = {rep: {prop: r["sigma_over_median_l1"] for prop, r in exact[rep].items()} for rep in args.representations}
    machine = stamp(openblas_threads=os.environ.get("OPENBLAS_NUM_THREADS"))
    pin_mmap_threshold()  # freed arrays go back to the system: resident memory shows each pass's peak
    started = time.perf_counter()
    results = study(qm9.load(verbose=False), args.n_train, args.centres, factors, n_val=args.n_val)
    for rep, props in results.items():
        for prop, row in props.items():
            runs = dict(zip(exact[rep][prop]["n"], exact[rep][prop]["mae"]))
            row["exact_test_mae_same_n"] = runs.get(args.n_train)
    run = {"wall_seconds": round(time.perf_counter() - started, 1),
           "machine": {**machine, "load_average_at_end": os.getloadavg()}}
    record = {"n_train": args.n_train, "n_val": args.n_val, "centres": args.centres, "kernel": "laplacian",
              "sigma_from": str(args.exact.relative_to(ROOT) if args.exact.is_relative_to(ROOT) else args.exact),
              "results": results, "runs": {rep: run for rep in results}}
    path = args.out / "nystrom_study.json"
    if path.is_file():  # keep the other representations of the same protocol (e.g. run as one process each)
        earlier = json.loads(path.read_text())
        if all(earlier.get(key) == record[key] for key in ("n_train", "n_val", "centres", "kernel", "sigma_from")):
            record["results"] = {**earlier["results"], **results}
            record["runs"] = {**earlier["runs"], **record["runs"]}
    args.out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n")
    plot(record["results"]).savefig(args.out / "nystrom_study.png", dpi=110)
    print(f"wrote {path} and .png ({', '.join(record['results'])}) in {run['wall_seconds']} s")


if __name__ == "__main__":
    main()
