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
    PYTHONPATH=. python scripts/krr_learning_curves.py --budget full [--max-n 40000]

Writes ``krr_learning_curves.json`` and ``.png`` to ``--out`` (default solutions/krr/).
The committed quick run took 23 min on a shared 2-core machine, 22 of them in cross-validation,
which takes 11 s when timed alone on a quieter machine: with other jobs on the cores, OpenBLAS
threads that busy-wait are the likely cost, and ``OPENBLAS_NUM_THREADS=1`` may help there.
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
from course.data import qm9
from course.features.qm9_vectors import REPRESENTATIONS, vectors
from course.machine import describe
from course.models.krr import cross_validate, fit_power_law, learning_curve, n_for_mae

ROOT = Path(__file__).resolve().parents[1]
#: column, label, literature MAE of CM and BOB at ~117k training molecules (Gilmer et al. 2017).
PROPERTIES = {
    "U0": ("U0_atom_eV", "U0 (eV)", {"cm": 0.128, "bob": 0.0615}),
    "alpha": ("alpha_bohr3", "α (bohr³)", {"cm": 0.433, "bob": 0.298}),
    "zpve": ("zpve_eV", "ZPVE (eV)", {"cm": 0.00576, "bob": 0.00408}),
}
LITERATURE_N = 117_000
SIGMA_FACTORS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0)
LAMS = (1e-12, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2, 1.0)


def train_sizes(which: str, max_n: int | None) -> list[int]:
    """quick: 250..2000; full: 1000, 2000, 4000, ... doubling up to ``max_n`` (default 20,000)."""
    if which == "quick":
        sizes = [250, 500, 1000, 2000]
        return [n for n in sizes if max_n is None or n <= max_n]
    top = max_n or 20_000
    sizes = [n for n in (1000 * 2 ** k for k in range(20)) if n < top]
    return sizes + [top]


def median_l1(X: np.ndarray, sample: int = 500) -> float:
    """Median L1 distance between the first ``sample`` rows: the natural scale for σ."""
    A = X[:sample]
    d = np.abs(A[:, None, :] - A[None, :, :]).sum(-1)
    return float(np.median(d[np.triu_indices(len(A), 1)]))


def plot(results: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"cm": "tab:blue", "bob": "tab:orange"}
    names = {"cm": "sorted CM", "bob": "BOB"}
    fig, axes = plt.subplots(1, len(PROPERTIES), figsize=(13, 4.2))
    for ax, (prop, (_, label, literature)) in zip(axes, PROPERTIES.items()):
        for rep in REPRESENTATIONS:
            r = results[rep][prop]
            ax.loglog(r["n"], r["mae"], "o-", color=colors[rep], label=f"{names[rep]} (ours)")
            a, b = r["power_law"]["a"], r["power_law"]["b"]
            grid = np.geomspace(min(r["n"]), 2e5, 50)
            ax.loglog(grid, a * grid ** -b, ":", color=colors[rep], lw=1,
                      label=f"fit {a:.3g}·N^−{b:.2f}")
            ax.plot([LITERATURE_N], [literature[rep]], marker="_", ms=22, mew=3, color=colors[rep], ls="none",
                    label=f"{names[rep]} literature (117k)")
            ax.axhline(literature[rep], color=colors[rep], lw=0.6, alpha=0.5)
        ax.set_xlabel("training molecules N")
        ax.set_ylabel(f"test MAE, {label}")
        ax.set_title(label.split(" ")[0])
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("KRR (Laplacian) on QM9: learning curves, dotted = power-law extrapolation", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", choices=budget.BUDGETS, default=None, help="default: $COURSE_BUDGET or quick")
    parser.add_argument("--max-n", type=int, default=None, help="largest training set (full: default 20000)")
    parser.add_argument("--test-size", type=int, default=2000, help="random molecules of fold 0 to test on")
    parser.add_argument("--cv-n", type=int, default=None, help="molecules for choosing σ, λ (quick 1000, full 4000)")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    parser.add_argument("--out", type=Path, default=ROOT / "solutions" / "krr")
    args = parser.parse_args()
    which = args.budget or budget.current()
    sizes = train_sizes(which, args.max_n)
    cv_n = args.cv_n or (1000 if which == "quick" else 4000)
    started = time.perf_counter()
    machine = {**describe(), "load_average_at_start": os.getloadavg(),
               "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}

    data = qm9.load(verbose=False)
    train, test = data.split(test_fold=0)
    train = np.random.default_rng(0).permutation(train)[:max(max(sizes), cv_n)]
    test = np.sort(np.random.default_rng(1).choice(test, size=args.test_size, replace=False))
    results: dict = {}
    for rep in REPRESENTATIONS:
        X_train, X_test = vectors(data, train, rep), vectors(data, test, rep)
        scale = median_l1(X_train)
        results[rep] = {}
        for prop, (column, _, literature) in PROPERTIES.items():
            y_train = data.table.loc[train, column].to_numpy()
            y_test = data.table.loc[test, column].to_numpy()
            t0 = time.perf_counter()
            cv = cross_validate(X_train[:cv_n], y_train[:cv_n], kernel="laplacian",
                                sigmas=[f * scale for f in SIGMA_FACTORS], lams=LAMS, n_folds=5, seed=0)
            cv_seconds = time.perf_counter() - t0
            curve = learning_curve(X_train, y_train, sizes, X_test, y_test, kernel="laplacian", sigma=cv.sigma,
                                   lam=cv.lam, center=True, dtype=np.dtype(args.dtype).type)
            a, b = fit_power_law(curve["n"], curve["mae"])
            results[rep][prop] = {
                "column": column, "sigma": cv.sigma, "sigma_over_median_l1": cv.sigma / scale, "lam": cv.lam,
                "cv_mae": float(cv.mae.min()), "cv_seconds": round(cv_seconds, 1),
                "sigma_at_edge_of_grid": cv.sigma in (cv.sigmas[0], cv.sigmas[-1]),
                "lam_at_edge_of_grid": cv.lam in (cv.lams[0], cv.lams[-1]),
                "n": curve["n"], "mae": curve["mae"], "fit_seconds": [round(s, 2) for s in curve["fit_seconds"]],
                "power_law": {"a": a, "b": b}, "literature_mae": literature[rep],
                "n_to_reach_literature": n_for_mae(a, b, literature[rep]),
            }
            print(f"{rep:3s} {prop:5s} σ={cv.sigma:.4g} λ={cv.lam:g}  MAE " +
                  "  ".join(f"{n}:{m:.4g}" for n, m in zip(curve["n"], curve["mae"])) +
                  f"  -> b={b:.2f}, literature {literature[rep]} at N≈{results[rep][prop]['n_to_reach_literature']:.3g}",
                  flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    record = {
        "budget": which, "train_sizes": sizes, "dtype": args.dtype,
        "protocol": {"train": "nested prefixes of a seeded shuffle (seed 0) of folds 1-9 of the canonical split",
                     "test": f"{args.test_size} molecules of fold 0, drawn with seed 1 (a subset, to keep it cheap)",
                     "kernel": "laplacian", "targets_centered": True, "units": "bohr for CM/BOB distances",
                     "cv": f"5-fold on the first {cv_n} training molecules; σ = median L1 distance × "
                           f"{list(SIGMA_FACTORS)}, λ in {list(LAMS)}; fixed for all N",
                     "literature": "Gilmer et al. 2017 Table 2 via targets.md, ~117k training molecules"},
        "results": results, "wall_seconds": round(time.perf_counter() - started, 1),
        "machine": {**machine, "load_average_at_end": os.getloadavg()},
    }
    (args.out / "krr_learning_curves.json").write_text(json.dumps(record, indent=1) + "\n")
    plot(results, args.out / "krr_learning_curves.png")
    print(f"wrote {args.out}/krr_learning_curves.json and .png in {record['wall_seconds']} s")


if __name__ == "__main__":
    main()
