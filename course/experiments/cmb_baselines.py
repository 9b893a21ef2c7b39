"""Baseline classifiers on the CMB data set (``course cmb-baselines``): how hard is ΛCDM against
the alternatives, and why scale the inputs?

Logistic regression and an MLP(64, 64), each without and with StandardScaler, on the TT+EE band
powers, scored on the course's validation split (:func:`course.data.cmb.split`, the one the
Keras networks of Modules 3 and 5 use) and by 5-fold cross-validation. The ROC AUCs go to
``course/data/cmb_baselines.json``, quoted in ``docs/cmb-dataset.md``.
"""
from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from course.data import cmb

SPLIT_SEED = 0
DEFAULT_OUT = cmb.DEFAULT_PATH.with_name("cmb_baselines.json")


def models() -> dict[str, object]:
    """Unfitted baselines; the MLP mirrors the course Keras network (64-64 ReLU, Adam, batch 32, 40 epochs)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def mlp() -> MLPClassifier:
        return MLPClassifier((64, 64), batch_size=32, max_iter=40, random_state=0)

    def logreg() -> LogisticRegression:
        return LogisticRegression(max_iter=1000)

    return {
        "logistic_raw": logreg(),
        "logistic_standardized": make_pipeline(StandardScaler(), logreg()),
        "mlp_raw": mlp(),
        "mlp_standardized": make_pipeline(StandardScaler(), mlp()),
    }


def evaluate(ds: cmb.CMBDataset, log: Callable[[str], None] = partial(print, flush=True)) -> dict[str, dict]:
    """Validation ROC AUC of every baseline on the fixed split, overall and per alternative class,
    plus the 5-fold cross-validated AUC (mean, sd) to show how much one split can scatter."""
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    i_tr, i_va = cmb.split(ds.labels, seed=SPLIT_SEED, shuffled=True)  # the committed file's training order
    X, y, names = ds.features(), ds.labels, ds.class_labels
    folds = StratifiedKFold(5, shuffle=True, random_state=SPLIT_SEED)
    out: dict[str, dict] = {"validation_auc": {}, "validation_auc_by_class": {}, "cv5_auc_mean_sd": {}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # unscaled fits are meant to struggle
        for name, model in models().items():
            score = model.fit(X[i_tr], y[i_tr]).predict_proba(X[i_va])[:, 1]
            out["validation_auc"][name] = round(float(roc_auc_score(y[i_va], score)), 4)
            out["validation_auc_by_class"][name] = {
                cls: round(float(roc_auc_score(y[i_va][keep], score[keep])), 4)
                for cls in ds.class_names[1:]
                for keep in [np.isin(names[i_va], ("lcdm", cls))]
            }
            cv = cross_val_score(clone(model), X, y, cv=folds, scoring="roc_auc")
            out["cv5_auc_mean_sd"][name] = [round(float(cv.mean()), 4), round(float(cv.std()), 4)]
            log(f"{name:24s} validation AUC {out['validation_auc'][name]:.4f} "
                f"{out['validation_auc_by_class'][name]}  5-fold {cv.mean():.4f} +- {cv.std():.4f}")
    return out


def run(data: Path | None = None, out: Path = DEFAULT_OUT) -> dict:
    """Evaluate the baselines on the data set at ``data`` (default: the shipped one), write ``out``
    and return what it holds."""
    ds = cmb.load(data)
    result = {
        "n_spectra": int(len(ds.labels)),
        "features": "TT and EE band powers (2 x 80 bins), muK^2",
        "split": f"stratified train/validation {1 - cmb.VALIDATION_FRACTION:.2f}/{cmb.VALIDATION_FRACTION}, "
                 f"random_state={SPLIT_SEED}",
        "models": {"logistic": "LogisticRegression(max_iter=1000), L2, C=1",
                   "mlp": "MLPClassifier((64, 64), relu, adam, batch_size=32, max_iter=40 epochs, random_state=0)"},
        **evaluate(ds),
    }
    out.write_text(json.dumps(result, indent=1) + "\n")
    return result
