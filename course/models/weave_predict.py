"""Predict α or ZPVE of one molecule from its XYZ file with the committed weave models.

``course predict FILE.xyz`` uses this: offline, no training. The weights are the ones written by
``course train`` into ``solutions/weave/``; ``course predict`` uses the full-budget model of a
property when it has been committed, otherwise the quick CPU one, and the printout says which and
what test MAE it has, so that nobody mistakes a quick model for the published one. Notebooks take
the model of their own budget first: the full model doubles Module 5's quick run on 2 cores.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from course import budget
from course.paths import INSTALLED_CHECKOUT, CourseError, repo_root

WEIGHTS_DIR = Path("solutions") / "weave"


#: QM9 (the models' training data) holds molecules of 1 to 9 heavy atoms (C, N, O, F); those with
#: fewer than 3 are a handful, so the models have hardly seen them.
HEAVY_ATOMS_SEEN = (3, 9)


def domain_warnings(elements: list[str]) -> list[str]:
    """Why a molecule may be outside what the weave models learnt from (empty when it is not).

    Example: ``domain_warnings(["C", "H", "H", "H", "H"])`` warns that methane has 1 heavy atom."""
    heavy = sum(e != "H" for e in elements)
    low, high = HEAVY_ATOMS_SEEN
    if heavy < low:
        return [f"{heavy} heavy atom{'s' if heavy != 1 else ''}: QM9 has very few molecules this small, so the "
                "error may be several times the test MAE"]
    if heavy > high:
        return [f"{heavy} heavy atoms: QM9, the training data, has at most {high}; this is an extrapolation"]
    return []


@dataclass(frozen=True)
class Prediction:
    """One predicted property with the record of the model that made it."""

    property: str
    value: float
    unit: str
    model: dict  # the training record (test MAE, budget, fold, ...)
    warnings: tuple[str, ...] = ()

    def __str__(self) -> str:
        m = self.model
        return (f"{self.property}: {self.value:.4g} {self.unit}  (weave model, {m['budget']} budget, fold {m['fold']}, "
                f"test MAE {m['test_mae']:.3g} {self.unit})" + "".join(f"\n  warning: {w}" for w in self.warnings))


def model_record(prop: str, weights_dir: Path | None = None, *, prefer: str | None = None,
                 fold: int | None = None) -> Path:
    """The training record (``.json``) of a committed model for ``prop``: in ``weights_dir``, else in
    the course being run (``repo_root()``), else in the checkout this package came from (a scratch
    course of grading or of the tests holds source/ only).

    The model of budget ``prefer`` (default: the active budget) is taken when there is one, else
    the other budget's; of test fold ``fold``, or of the lowest fold there is. Example:
    ``model_record("alpha", prefer="full")`` is the best α model."""
    prefer = prefer or budget.current()
    if prefer not in budget.BUDGETS:
        raise ValueError(f"prefer must be one of {budget.BUDGETS}, got {prefer!r}")
    order = (prefer, *(b for b in budget.BUDGETS if b != prefer))
    folders = [weights_dir] if weights_dir else list(dict.fromkeys([repo_root() / WEIGHTS_DIR,
                                                                     INSTALLED_CHECKOUT / WEIGHTS_DIR]))
    for folder in folders:
        for which in order:
            found = sorted(folder.glob(f"weave_{prop}_fold{'*' if fold is None else fold}_{which}.json"))
            if found:
                return found[0]
    raise CourseError(f"no trained weave model for {prop!r}{'' if fold is None else f' of fold {fold}'} in {' or '.join(map(str, folders))}; "
                      "train one with `course train`")


def load_model(record_path: Path):
    """The weave model of a training record, with its weights loaded."""
    from course.models.weave import build_weave_model

    record = json.loads(record_path.read_text())
    hyper = {k: v for k, v in record["model"].items() if k != "n_parameters"}
    model = build_weave_model(**hyper)
    weights = record_path.with_name(record_path.name.removesuffix(".json") + ".weights.h5")
    if not weights.is_file():
        raise CourseError(f"{record_path} has no weights file {weights.name} beside it")
    model.load_weights(weights)
    return model, record


def load_committed(prop: str, weights_dir: Path | None = None, *, prefer: str | None = None,
                   fold: int | None = None):
    """(model, training record) of the committed model :func:`model_record` finds. Example::

        model, record = load_committed("alpha")        # the active budget's model, else the other's
    """
    return load_model(model_record(prop, weights_dir, prefer=prefer, fold=fold))


def predict_xyz(path: str | Path, properties: tuple[str, ...] = ("alpha", "zpve"),
                weights_dir: Path | None = None) -> list[Prediction]:
    """Read ``path`` (errors name the file and line), featurize it and predict each property."""
    from course.data.xyz import read_xyz
    from course.features.graph import MAX_ATOMS, GraphBatch, featurize

    path = Path(path)
    if not path.is_file():
        raise CourseError(f"{path}: no such file")
    structure = read_xyz(path)
    if len(structure.elements) > MAX_ATOMS:
        raise CourseError(f"{path}: {len(structure.elements)} atoms; the weave models were trained on QM9 "
                          f"molecules with at most {MAX_ATOMS}")
    inputs = GraphBatch.from_graphs([featurize(structure.mol, name=str(path))]).padded([0])
    warnings = tuple(domain_warnings(list(structure.elements)))
    predictions = []
    for prop in properties:
        model, record = load_committed(prop, weights_dir, prefer="full")
        value = float(np.asarray(model(inputs)).ravel()[0])
        predictions.append(Prediction(prop, value, record["unit"], record, warnings))
    return predictions
