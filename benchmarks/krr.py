"""Benchmark: KRR fit time and peak memory against N, ours (float32, float64) vs scikit-learn.

Laplacian kernel on sorted Coulomb matrices (upper triangle, bohr) of the first N molecules of a
seeded shuffle of the QM9 training folds, target U0_atom_eV. "fit" is kernel matrix plus solve.
Peak memory is the growth of resident memory during the fit: the kernel's high-water mark VmHWM
is reset through /proc/self/clear_refs before each fit and compared with VmRSS at its start
(Linux). glibc's mmap threshold is pinned at 128 KiB first (``mallopt``), so that freed large
arrays go back to the system instead of being reused from the heap unseen. ``tracemalloc`` peaks are recorded as well, but they miss buffers that LAPACK wrappers
allocate with malloc (scipy's ``solve`` copy inside scikit-learn), so they understate its memory. The predictions of our float64 model and scikit-learn's on 500 test
molecules are compared as a check. Writes benchmarks/results/krr.json.

    nice -n 10 python benchmarks/krr.py [--sizes 1000 2000 4000 8000]
"""
from __future__ import annotations

import argparse
import json
import os
import time
import tracemalloc
from pathlib import Path

import numpy as np
import scipy
import sklearn
from sklearn.kernel_ridge import KernelRidge

from course.data import qm9
from course.features.qm9_vectors import vectors
from course.machine import pin_mmap_threshold, reset_peak_memory, stamp, status_mib
from course.models.krr import KRR

RESULTS = Path(__file__).parent / "results" / "krr.json"
SIGMA, LAM = 1000.0, 1e-8  # scale of L1 distances between sorted CMs; only the timing matters here


def measure(make, X: np.ndarray, y: np.ndarray) -> tuple[object, float, float, float]:
    """(fitted model, fit seconds, peak RSS growth MiB, tracemalloc peak MiB) of one fit."""
    before = reset_peak_memory()
    tracemalloc.start()
    try:
        start = time.perf_counter()
        model = make().fit(X, y)
        seconds = time.perf_counter() - start
        traced = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    return model, seconds, status_mib("VmHWM") - before, traced


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 4000, 8000])
    args = parser.parse_args()
    pin_mmap_threshold()
    machine = stamp(numpy=np.__version__, scipy=scipy.__version__, sklearn=sklearn.__version__,
                    note="cores shared with other jobs while measuring; BLAS uses its default thread count")
    data = qm9.load(verbose=False)
    train, test = data.split(test_fold=0)
    train = np.random.default_rng(0).permutation(train)[:max(args.sizes)]
    X_all = vectors(data, train, "cm")
    y_all = data.table.loc[train, "U0_atom_eV"].to_numpy()
    X_test = vectors(data, test[:500], "cm")
    models = {
        "ours_float64": lambda: KRR("laplacian", sigma=SIGMA, lam=LAM, dtype=np.float64),
        "ours_float32": lambda: KRR("laplacian", sigma=SIGMA, lam=LAM, dtype=np.float32),
        "sklearn_KernelRidge": lambda: KernelRidge(alpha=LAM, kernel="laplacian", gamma=1 / SIGMA),
    }
    rows = []
    for n in args.sizes:
        X, y = X_all[:n], y_all[:n]
        predictions = {}
        for name, make in models.items():
            model, seconds, peak, traced = measure(make, X, y)
            predictions[name] = model.predict(X_test)
            del model
            row = {"n": n, "model": name, "fit_seconds": round(seconds, 2), "peak_rss_growth_mib": round(peak, 1),
                   "peak_over_one_float64_matrix": round(peak * 2**20 / (8 * n * n), 2),
                   "tracemalloc_peak_mib": round(traced, 1)}
            rows.append(row)
            print(row, flush=True)
        rows[-1]["max_abs_diff_ours64_vs_sklearn_eV"] = float(
            np.abs(predictions["ours_float64"] - predictions["sklearn_KernelRidge"]).max())
        rows[-1]["max_abs_diff_ours32_vs_ours64_eV"] = float(
            np.abs(predictions["ours_float32"] - predictions["ours_float64"]).max())
    result = {"machine": machine, "load_average_at_end": os.getloadavg(),
              "setup": {"representation": "sorted Coulomb matrix, upper triangle (435), bohr", "kernel": "laplacian",
                        "sigma": SIGMA, "lam": LAM, "target": "U0_atom_eV", "center": False,
                        "memory": "peak resident-memory growth during fit (VmHWM reset via /proc/self/clear_refs), MiB"},
              "rows": rows}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
