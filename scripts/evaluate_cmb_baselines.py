"""Baseline classifiers on the CMB data set: how hard is LCDM vs alternatives, and why scale inputs?

Fits logistic regression and an MLP(64, 64) on the TT+EE band powers, each without and with
StandardScaler, on a fixed stratified 75/25 split, and writes the validation ROC AUCs to
``course/data/cmb_baselines.json`` (quoted in docs/cmb-dataset.md).

    python scripts/evaluate_cmb_baselines.py
"""
from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from course.data import cmb

SPLIT_SEED = 0
VALIDATION_FRACTION = 0.25


def models() -> dict[str, object]:
    """Unfitted baselines; the MLP mirrors the course network (64-64 ReLU, Adam, 40 epochs)."""
    def mlp() -> MLPClassifier:
        return MLPClassifier((64, 64), max_iter=40, random_state=0)

    def logreg() -> LogisticRegression:
        return LogisticRegression(max_iter=1000)

    return {
        "logistic_raw": logreg(),
        "logistic_standardized": make_pipeline(StandardScaler(), logreg()),
        "mlp_raw": mlp(),
        "mlp_standardized": make_pipeline(StandardScaler(), mlp()),
    }


def evaluate(ds: cmb.CMBDataset) -> dict[str, float]:
    """Validation ROC AUC of every baseline on the fixed split."""
    X_tr, X_va, y_tr, y_va = train_test_split(
        ds.features(), ds.labels, test_size=VALIDATION_FRACTION, random_state=SPLIT_SEED, stratify=ds.labels
    )
    aucs = {}
    for name, model in models().items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # unscaled fits are meant to struggle
            model.fit(X_tr, y_tr)
        aucs[name] = round(float(roc_auc_score(y_va, model.predict_proba(X_va)[:, 1])), 4)
        print(f"{name:24s} AUC {aucs[name]:.4f}", flush=True)
    return aucs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=None, help="npz file (default: the shipped one)")
    ap.add_argument("--out", type=Path, default=Path(cmb.__file__).with_name("cmb_baselines.json"))
    args = ap.parse_args()
    ds = cmb.load(args.data)
    aucs = evaluate(ds)
    result = {
        "n_spectra": int(len(ds.labels)),
        "features": "TT and EE band powers (2 x 80 bins), muK^2",
        "split": f"stratified train/validation {1 - VALIDATION_FRACTION:.2f}/{VALIDATION_FRACTION}, random_state={SPLIT_SEED}",
        "models": {"logistic": "LogisticRegression(max_iter=1000), L2, C=1",
                   "mlp": "MLPClassifier((64, 64), relu, adam, max_iter=40, random_state=0)"},
        "validation_auc": aucs,
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
