"""KRR learning curves on QM9 (Module 2): sorted Coulomb matrix and Bag of Bonds, for U0, α, ZPVE.

Protocol. Training molecules are drawn, nested, from a seeded shuffle of the nine training folds
of the course's canonical split (all 130,831 molecules: CM and BOB need only atoms and
coordinates); the test set is a fixed random subset of fold 0. Laplacian kernel, targets centred.
σ and λ are chosen once per representation and property by 5-fold cross-validation on the first
``cv_n`` training molecules (one pass serves all three properties) (σ on a grid of multiples of the median L1 distance there) and then
kept for every N. Each curve is fitted with MAE ≈ a·N^(−b) and extrapolated to the N at which it
would reach the literature MAE (Gilmer et al. 2017, Table 2, about 117k training molecules).
The Module 2 notebook runs this on the quick budget; ``course krr-curves``
(:mod:`course.experiments.krr_curves`) runs it on the full budget and writes the results file.
"""
from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import numpy as np

from course.data.qm9 import QM9
from course.features.qm9_vectors import REPRESENTATIONS, vectors
from course.models.krr import (cross_validate_targets, curve_from_kernel, fit_power_law, l1_distances,
                              laplacian_from_distances, n_for_mae)
from course.results import Result, record

#: column, label, literature MAE of CM and BOB at ~117k training molecules (Gilmer et al. 2017).
PROPERTIES = {
    "U0": ("U0_atom_eV", "U0 (eV)", {"cm": 0.128, "bob": 0.0615}),
    "alpha": ("alpha_bohr3", "α (bohr³)", {"cm": 0.433, "bob": 0.298}),
    "zpve": ("zpve_eV", "ZPVE (eV)", {"cm": 0.00576, "bob": 0.00408}),
}
LITERATURE_N = 117_000
SIGMA_FACTORS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0)
LAMS = (1e-14, 1e-12, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2, 1.0)
#: Training-set sizes of the learning curves per budget: quick is the Module 2 notebook's and
#: ``course krr-curves --budget quick``'s, full the committed run of ``course krr-curves``.
#: Distance matrices larger than this go to a temporary file (``learning_curves``).
SCRATCH_IN_MEMORY_BYTES = 2 * 2**30
TRAIN_SIZES = {"quick": (250, 500, 1000, 2000), "full": (1000, 2000, 4000, 8000, 16000, 20000)}


def train_sizes(budget: str, max_n: int | None = None) -> list[int]:
    """The nested training sizes of ``budget``, the full ones doubling from 1,000 up to ``max_n``.

    >>> train_sizes("quick", max_n=1000), train_sizes("full", max_n=40_000)
    ([250, 500, 1000], [1000, 2000, 4000, 8000, 16000, 32000, 40000])
    """
    if budget == "quick" or max_n is None:
        return [n for n in TRAIN_SIZES[budget] if max_n is None or n <= max_n]
    return [n for n in (1000 * 2 ** k for k in range(20)) if n < max_n] + [max_n]


def median_l1(X: np.ndarray, sample: int = 500) -> float:
    """Median L1 distance between the first ``sample`` rows: the natural scale for σ."""
    A = X[:sample]
    d = np.abs(A[:, None, :] - A[None, :, :]).sum(-1)
    return float(np.median(d[np.triu_indices(len(A), 1)]))



def train_test_ids(data: QM9, n_train: int, test_size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """QM9 indices of the experiment: a seeded shuffle of the training folds (nested prefixes are the
    training sets) and a seeded, sorted subset of test fold 0."""
    train, test = data.split(test_fold=0)
    train = np.random.default_rng(seed).permutation(train)[:n_train]
    return train, np.sort(np.random.default_rng(seed + 1).choice(test, size=test_size, replace=False))


def _scratch_matrix(n: int, path: Path) -> np.ndarray:
    """An n×n float64 array: in memory when small, else a file at ``path`` mapped into memory, so
    that the distances (read once per property) leave the memory to the kernel being factorized."""
    if 8 * n * n <= SCRATCH_IN_MEMORY_BYTES:
        return np.empty((n, n))
    return np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n, n))


def learning_curves(data: QM9, sizes: Sequence[int], *, cv_n: int, test_size: int, dtype: type = np.float64,
                    seed: int = 0, representations: Sequence[str] = REPRESENTATIONS,
                    log: Callable[[str], None] = partial(print, flush=True)) -> dict:
    """``results[representation][property]``: chosen σ, λ, MAE per N, power law, N to reach the literature.

    Per representation the L1 distances are computed once at the largest N and serve every
    property's σ; per property one kernel is built and factorized once, and every N solves with
    the leading block of that factor (``course.models.krr.curve_from_kernel``). Peak memory: one
    N×N kernel in ``dtype`` (the distances go to a temporary file above 2 GiB). Representations are
    independent, so they can run separately (in parallel processes) and be merged afterwards."""
    train, test = train_test_ids(data, max(max(sizes), cv_n), test_size, seed)
    largest = max(sizes)
    results: dict = {}
    for rep in representations:
        X_train, X_test = vectors(data, train, rep), vectors(data, test, rep)
        scale = median_l1(X_train)
        columns = [column for column, _, _ in PROPERTIES.values()]
        t0 = time.perf_counter()
        cvs = cross_validate_targets(X_train[:cv_n], data.table.loc[train[:cv_n], columns].to_numpy(),
                                     kernel="laplacian", sigmas=[f * scale for f in SIGMA_FACTORS], lams=LAMS,
                                     n_folds=5, seed=0)
        cv_seconds = time.perf_counter() - t0
        log(f"{rep}: σ and λ cross-validated for {', '.join(PROPERTIES)} together in {cv_seconds:.0f} s")
        results[rep] = {}
        with tempfile.TemporaryDirectory(prefix="krr-distances-") as scratch:
            t0 = time.perf_counter()
            D = l1_distances(X_train[:largest], out=_scratch_matrix(largest, Path(scratch) / "train.npy"))
            D_test = l1_distances(X_test, X_train[:largest])
            distance_seconds = time.perf_counter() - t0
            log(f"{rep}: L1 distances of {largest} training and {len(test)} test molecules in {distance_seconds:.0f} s")
            for (prop, (column, _, literature)), cv in zip(PROPERTIES.items(), cvs):
                y_train = data.table.loc[train[:largest], column].to_numpy()
                y_test = data.table.loc[test, column].to_numpy()
                t0 = time.perf_counter()
                K = laplacian_from_distances(D, cv.sigma, dtype)
                K_test = laplacian_from_distances(D_test, cv.sigma, dtype)
                kernel_seconds = time.perf_counter() - t0
                curve = curve_from_kernel(K, K_test, y_train, y_test, sizes, lam=cv.lam, center=True)
                del K, K_test
                a, b = fit_power_law(curve["n"], curve["mae"])
                results[rep][prop] = {
                    "column": column, "sigma": cv.sigma, "sigma_over_median_l1": cv.sigma / scale, "lam": cv.lam,
                    "cv_mae": float(cv.mae.min()), "cv_seconds_all_properties": round(cv_seconds, 1),
                    "sigma_at_edge_of_grid": cv.sigma in (cv.sigmas[0], cv.sigmas[-1]),
                    "lam_at_edge_of_grid": cv.lam in (cv.lams[0], cv.lams[-1]),
                    "n": curve["n"], "mae": curve["mae"],
                    "distance_seconds_all_properties": round(distance_seconds, 1),
                    "kernel_seconds": round(kernel_seconds, 1), "factor_seconds": round(curve["factor_seconds"], 1),
                    "solve_seconds": [round(s, 2) for s in curve["solve_seconds"]],
                    "power_law": {"a": a, "b": b}, "literature_mae": literature[rep],
                    "n_to_reach_literature": n_for_mae(a, b, literature[rep]),
                }
                log(f"{rep:3s} {prop:5s} σ={cv.sigma:.4g} λ={cv.lam:g}  MAE " +
                    "  ".join(f"{n}:{m:.4g}" for n, m in zip(curve["n"], curve["mae"])) +
                    f"  -> b={b:.2f}, literature {literature[rep]} at N≈{results[rep][prop]['n_to_reach_literature']:.3g}")

    return results


def record_targets(results: dict, module: str | None = None) -> list[Result]:
    """The results-table rows of an experiment: BOB beats CM at the largest N, and, per curve, the N at
    which its fitted power law meets the literature MAE.

    That N is an extrapolation, so its row claims only what the data show: the literature error lies
    beyond the largest N measured. Whether it falls before the literature's ~117k depends on the budget
    (the full budget finds three of six beyond it), so it is printed, not claimed.
    """
    largest = max(results["cm"]["U0"]["n"])
    rows = []
    for prop, (_, label, _) in PROPERTIES.items():
        ratio = results["bob"][prop]["mae"][-1] / results["cm"][prop]["mae"][-1]
        rows.append(record(f"{label}: MAE(Bag of Bonds) / MAE(Coulomb matrix) at N={largest}", round(ratio, 4),
                           target=1.0, relation="<=", module=module))
    for rep, name in (("cm", "CM"), ("bob", "BOB")):
        for prop, (_, label, _) in PROPERTIES.items():
            rows.append(record(f"{name} KRR {label}: N at which the power law fitted up to N={largest} meets the "
                               "literature MAE (an extrapolation, not a reproduced result: only N > the data is checked)",
                               round(results[rep][prop]["n_to_reach_literature"]),
                               target=largest, relation=">=", module=module))
    return rows


def plot(results: dict):
    """Log-log learning curves per property, with power-law fits and the literature values."""
    import matplotlib.pyplot as plt

    colors = {"cm": "tab:blue", "bob": "tab:orange"}
    names = {"cm": "sorted CM", "bob": "BOB"}
    fig, axes = plt.subplots(1, len(PROPERTIES), figsize=(13, 4.2))
    for ax, (prop, (_, label, literature)) in zip(axes, PROPERTIES.items()):
        for rep in (r for r in REPRESENTATIONS if r in results):
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
    return fig


