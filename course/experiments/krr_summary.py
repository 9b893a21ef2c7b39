"""Module 2's full budget in one figure and six rows: exact KRR as far as memory allows, Nyström
KRR on all training molecules, and the literature at ~117k (``course krr-summary``).

It reads what the two runs wrote, the exact learning curves of ``course krr-curves`` and a Nyström
study of ``course krr-nystrom --n-train all``, and trains nothing. Per representation and property
the Nyström model is the one of the m with the lowest *validation* MAE (the test MAE is reported,
never used to choose), and its row compares that test MAE with the literature's. The figure puts
both on the learning-curve axes: exact points from 1,000 molecules up, Nyström at all of them.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from course.models.krr_qm9 import LITERATURE_N, PROPERTIES
from course.results import Result, record

FIGURE_NAME = "krr_all_molecules.png"
NAMES = {"cm": "CM", "bob": "BOB"}
COLORS = {"cm": "tab:blue", "bob": "tab:orange"}
MODULE = "02-kernels (full budget)"


def results_key(n_train: int) -> str:
    """The entry of the six rows in ``results.json``, beside Module 2's other full-budget entries.

    >>> results_key(115000)
    '02-kernels (full budget, Nyström KRR on 115,000 training molecules, course krr-summary)'
    """
    return f"02-kernels (full budget, Nyström KRR on {n_train:,} training molecules, course krr-summary)"


def chosen(row: dict) -> dict:
    """The Nyström fit of one representation and property chosen on validation: its m, λ, and MAEs.

    >>> chosen({"m": [1000, 2000], "lam": [1e-4, 1e-2], "val_mae": [0.3, 0.2], "test_mae": [0.31, 0.22]})
    {'m': 2000, 'lam': 0.01, 'val_mae': 0.2, 'test_mae': 0.22}
    """
    if not row.get("m"):
        raise ValueError("the Nyström study holds no fit for this representation and property")
    best = int(np.argmin(row["val_mae"]))
    return {key: row[key][best] for key in ("m", "lam", "val_mae", "test_mae")}


def rows(nystrom: dict, module: str = MODULE) -> list[Result]:
    """One row per representation and property: the chosen Nyström test MAE against the literature.

    >>> study = {"n_train": 100, "results": {"cm": {"U0": {"m": [50], "lam": [1e-4], "val_mae": [0.3],
    ...                                                       "test_mae": [0.2]}}}}
    >>> [(r.achieved, r.target, r.holds) for r in rows(study)]  # doctest: +ELLIPSIS
    CM KRR U0 (eV) on 100 training molecules (Nyström, m = 50 chosen on validation): ... -> DOES NOT HOLD
    [(0.2, 0.128, False)]
    """
    out = []
    for rep, props in nystrom["results"].items():
        for prop, row in props.items():
            _, label, literature = PROPERTIES[prop]
            fit = chosen(row)
            out.append(record(f"{NAMES[rep]} KRR {label} on {nystrom['n_train']:,} training molecules (Nyström, "
                              f"m = {fit['m']} chosen on validation): test MAE against the literature at ~117k",
                              round(fit["test_mae"], 6), target=literature[rep], relation="<=",
                              unit=label.split("(")[1].rstrip(")"), module=module))
    return out


def plot(exact: dict, nystrom: dict):
    """Test MAE against training molecules per property: exact KRR (circles), the chosen Nyström
    fit on all training molecules (squares, labelled with m) and the literature (bars at 117k)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(PROPERTIES), figsize=(13, 4.2))
    for ax, (prop, (_, label, literature)) in zip(axes, PROPERTIES.items()):
        for rep in NAMES:
            color = COLORS[rep]
            if rep in exact["results"]:
                curve = exact["results"][rep][prop]
                ax.loglog(curve["n"], curve["mae"], "o-", color=color, label=f"{NAMES[rep]} exact")
            if rep in nystrom["results"] and prop in nystrom["results"][rep]:
                fit = chosen(nystrom["results"][rep][prop])
                ax.loglog([nystrom["n_train"]], [fit["test_mae"]], "s", color=color, ms=8,
                          label=f"{NAMES[rep]} Nyström, m = {fit['m']}")
            ax.plot([LITERATURE_N], [literature[rep]], marker="_", ms=22, mew=3, color=color, ls="none",
                    label=f"{NAMES[rep]} literature (117k)")
        ax.set_xlabel("training molecules N")
        ax.set_ylabel(f"test MAE, {label}")
        ax.set_title(label.split(" ")[0])
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("KRR (Laplacian) on QM9: exact as far as memory allows, Nyström on all training molecules",
                 fontsize=11)
    fig.tight_layout()
    return fig


def run(exact_path: Path, nystrom_path: Path, out: Path, results: Path | None = None) -> tuple[list[Result], Path | None]:
    """Write the figure ``out/krr_all_molecules.png`` and, with ``results`` (a folder such as
    ``solutions``), the six rows into its ``results.json``; the rows and that file (``None``: none).

    Example (after both runs; see solutions/krr/README.md)::

        rows, written = run(Path("solutions/krr/krr_learning_curves.json"),
                            Path("solutions/krr/all/nystrom_study.json"), Path("solutions/krr"), Path("solutions"))
    """
    from course.reproduce import merge_entry

    exact, nystrom = (json.loads(Path(p).read_text()) for p in (exact_path, nystrom_path))
    missing = [f"{rep} {prop}" for rep in NAMES for prop in PROPERTIES
               if prop not in nystrom["results"].get(rep, {}) or prop not in exact["results"].get(rep, {})]
    if missing:
        raise ValueError(f"{exact_path} and {nystrom_path} must both hold every representation and property; "
                         f"missing: {', '.join(missing)}")
    found = rows(nystrom)
    out.mkdir(parents=True, exist_ok=True)
    plot(exact, nystrom).savefig(out / FIGURE_NAME, dpi=110)
    if results is None:
        return found, None
    dates = [run["machine"].get("date") for run in nystrom.get("runs", {}).values()]
    entry = {"budget": "full", "date": max((d for d in dates if d), default=None), "notebook": None,
             "command": "course krr-summary", "sources": [str(exact_path), str(nystrom_path)],
             "rows": found}
    return found, merge_entry(results, results_key(nystrom["n_train"]), entry)
