"""How many Nyström centres QM9 needs: validation MAE, time and peak memory against m (issue 20).

Protocol, chosen to line up with the exact learning curves of :mod:`course.models.krr_qm9`: the
training set is the same first ``n_train`` molecules of the seeded shuffle of folds 1–9 (so at
n_train = 20,000 it is the exact curves' largest training set), the validation set the next
``n_val`` molecules of that shuffle (disjoint from training, never from the test fold), the test
set the same 2,000 molecules of fold 0. σ is given per representation and property (in units of
the median L1 distance, as the exact run's cross-validation chose it); properties that share a σ
share one pass. λ is chosen on the validation set along the whole λ path of that pass, and the
test MAE is reported at that λ. Time and peak memory are measured per pass (build and λ path):
the growth of resident memory (VmHWM after a reset, Linux; call
:func:`course.machine.pin_mmap_threshold` first so that freed arrays are not reused unseen) and the
``tracemalloc`` peak (NumPy's and SciPy's arrays only).
"""
from __future__ import annotations

import copy
import time
import tracemalloc
from collections.abc import Callable, Mapping, Sequence
from functools import partial

import numpy as np

from course.data.qm9 import QM9
from course.features.qm9_vectors import vectors
from course.models.krr_qm9 import LAMS, PROPERTIES, median_l1, train_test_ids
from course.machine import reset_peak_memory, status_mib
from course.models.nystrom import build_system


def study(data: QM9, n_train: int, centres: Sequence[int], sigma_factors: Mapping[str, Mapping[str, float]], *,
          n_val: int = 2000, test_size: int = 2000, seed: int = 0, done: Mapping | None = None,
          after_pass: Callable[[dict], None] | None = None,
          log: Callable[[str], None] = partial(print, flush=True)) -> dict:
    """``results[representation][property]``: per m, the λ chosen on validation, validation and test MAE,
    and the time and peak memory (MiB) of the pass that fitted it.

    ``sigma_factors[rep][prop]`` is σ / median L1 distance of the first 500 training molecules.
    A run on all training molecules takes hours, so it can be resumed: ``after_pass(results)`` is
    called after every pass (to save them), and the passes already in ``done`` (such saved
    results) are kept and not run again.
    """
    if n_train < max(centres):
        raise ValueError(f"m = {max(centres)} centres need at least as many training molecules, got n_train={n_train}")
    shuffled, test = train_test_ids(data, n_train + n_val, test_size, seed)
    train, val = shuffled[:n_train], shuffled[n_train:]
    results: dict = {}
    for rep, factors in sigma_factors.items():
        unknown = set(factors) - set(PROPERTIES)
        if unknown:
            raise ValueError(f"unknown properties for {rep}: {sorted(unknown)}; known: {list(PROPERTIES)}")
        X_train = vectors(data, train, rep)
        X_eval = np.vstack([vectors(data, val, rep), vectors(data, test, rep)])
        scale = median_l1(X_train)
        results[rep] = {prop: {"sigma_over_median_l1": factor, "sigma": factor * scale, "m": [], "lam": [],
                               "val_mae": [], "test_mae": [], "pass_seconds": [], "solve_seconds": [],
                               "peak_rss_growth_mib": [], "peak_traced_mib": []} for prop, factor in factors.items()}
        for prop, row in (done or {}).get(rep, {}).items():
            if prop in results[rep]:
                if row["sigma_over_median_l1"] != factors[prop]:
                    raise ValueError(f"the saved {rep} {prop} pass used σ = {row['sigma_over_median_l1']} × median, "
                                     f"not {factors[prop]}: it belongs to another run")
                results[rep][prop] = copy.deepcopy(dict(row))
        for factor in sorted(set(factors.values())):
            props = [prop for prop, f in factors.items() if f == factor]
            columns = [PROPERTIES[prop][0] for prop in props]
            Y_train = data.table.loc[train, columns].to_numpy()
            Y_eval = np.vstack([data.table.loc[val, columns].to_numpy(), data.table.loc[test, columns].to_numpy()])
            for m in centres:
                if all(m in results[rep][prop]["m"] for prop in props):
                    log(f"{rep:3s} σ={factor:g}×median m={m:5d}: done before, kept")
                    continue
                before = reset_peak_memory()
                tracemalloc.start()
                start = time.perf_counter()
                system = build_system(X_train, Y_train, m, kernel="laplacian", sigma=factor * scale, seed=seed,
                                      X_eval=X_eval)
                built = time.perf_counter()
                errors = np.abs(system.eval_predictions(LAMS) - Y_eval)  # (lams, val + test, properties)
                solved = time.perf_counter()
                traced = tracemalloc.get_traced_memory()[1] / 2**20
                tracemalloc.stop()
                rss = status_mib("VmHWM") - before
                del system
                val_mae, test_mae = errors[:, :n_val].mean(1), errors[:, n_val:].mean(1)
                for k, prop in enumerate(props):
                    best = int(np.argmin(val_mae[:, k]))
                    row = results[rep][prop]
                    for key, value in (("m", m), ("lam", LAMS[best]), ("val_mae", float(val_mae[best, k])),
                                       ("test_mae", float(test_mae[best, k])),
                                       ("pass_seconds", round(built - start, 2)),
                                       ("solve_seconds", round(solved - built, 2)),
                                       ("peak_rss_growth_mib", round(rss, 1)), ("peak_traced_mib", round(traced, 1))):
                        row[key].append(value)
                    log(f"{rep:3s} {prop:5s} σ={factor:g}×median m={m:5d}: λ={LAMS[best]:g} val MAE "
                        f"{val_mae[best, k]:.4g} test MAE {test_mae[best, k]:.4g}  pass {built - start:.1f} s, "
                        f"λ path {solved - built:.1f} s, peak +{rss:.0f} MiB resident ({traced:.0f} MiB traced)")
                if after_pass is not None:
                    after_pass(results)
    return results


def plot(results: dict):
    """Test MAE against m per property (log-log), with exact KRR at the same training set as a line."""
    import matplotlib.pyplot as plt

    colors, names = {"cm": "tab:blue", "bob": "tab:orange"}, {"cm": "sorted CM", "bob": "BOB"}
    fig, axes = plt.subplots(1, len(PROPERTIES), figsize=(13, 4.2))
    for ax, (prop, (_, label, _)) in zip(axes, PROPERTIES.items()):
        for rep, props in results.items():
            if prop not in props:
                continue
            row = props[prop]
            ax.loglog(row["m"], row["test_mae"], "o-", color=colors[rep], label=f"{names[rep]} Nyström")
            if row.get("exact_test_mae_same_n") is not None:
                ax.axhline(row["exact_test_mae_same_n"], color=colors[rep], ls="--", lw=1,
                           label=f"{names[rep]} exact KRR, same N")
        ax.set_xlabel("centres m")
        ax.set_ylabel(f"test MAE, {label}")
        ax.set_title(label.split(" ")[0])
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Nyström KRR (Laplacian) on QM9: error against the number of centres", fontsize=11)
    fig.tight_layout()
    return fig
