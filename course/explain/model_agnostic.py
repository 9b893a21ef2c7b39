"""Model-agnostic explainers from the shap and lime packages, in the conventions of ``course.explain.shapley``.

Both only call the model's ``predict``, so they explain any model, at the price of many calls and,
for the sampling methods, of noise. The wrappers make them comparable with exact Shapley values:

- ``shap_values`` runs shap's Exact, Permutation or Kernel explainer with the *whole* background
  (shap's Independent masker subsamples it to 100 rows by default, which changes the values), seeded,
  and returns a plain (n, d) array. The Exact explainer equals ``exact_shapley``; the Permutation
  explainer averages marginal contributions over random feature orders (each also run backwards), the
  Kernel explainer fits a weighted linear model on random coalitions (Lundberg & Lee 2017). Both
  approach the exact values as their number of evaluations grows, and are exact in special cases: the
  Kernel explainer when its samples cover all 2^d − 2 coalitions, the Permutation explainer, already
  with one permutation, for models without interactions of three or more features.
- ``lime_values`` runs LIME for tabular regression (Ribeiro et al. 2016) without discretization: it
  samples points from a Gaussian around the *training mean* (each feature with its training standard
  deviation, independently), weights them by closeness to the explained sample in standardized units,
  and fits a weighted ridge regression of the predictions on the standardized features
  z_i = (x_i − μ_i)/σ_i. Its coefficients are slopes per standard deviation. The local model's change
  from the training mean (z = 0, where it predicts the intercept) to the sample is
  Σ_i coefficient_i · z_i, so coefficient_i · z_i is an additive attribution relative to the training
  mean, like Shapley values with the training set as background; for a linear model they coincide
  (with ``ridge_alpha=0``). lime's ridge penalty (1) shrinks the coefficients, little for a sample near
  the training mean, but far from it (≳ 5 σ) few samples carry weight and they can collapse to ~0.

Neither package may write to stderr here (nbgrader counts that as a failed cell): progress bars are
off, and warnings and shap's log messages are suppressed for the duration of the call. shap's sampling
explainers draw from NumPy's global random state; it is seeded for the call and restored afterwards.
"""
from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from lime.lime_tabular import LimeTabularExplainer
from sklearn.linear_model import Ridge

from course.explain.shapley import samples_and_reference

with warnings.catch_warnings():  # shap's plotting colours use matplotlib calls it deprecates
    warnings.simplefilter("ignore")
    import shap

ALGORITHMS = ("exact", "permutation", "kernel")


def _scalar(predict: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """``predict`` returning (rows,) floats, whether it returns (rows,) or (rows, 1)."""
    return lambda A: np.asarray(predict(A), dtype=float).reshape(len(A))


@contextmanager
def _quiet(seed: int) -> Iterator[None]:
    """No warnings or shap log messages, and NumPy's global random state seeded, restored on exit."""
    state = np.random.get_state()
    logger = logging.getLogger("shap")
    disabled = logger.disabled
    logger.disabled = True
    np.random.seed(seed)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        np.random.set_state(state)
        logger.disabled = disabled


def shap_values(predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, background: np.ndarray,
                algorithm: str = "exact", seed: int = 0, **kwargs) -> np.ndarray:
    """SHAP values (n, d) of the scalar model ``predict`` at the rows of X, with all of ``background`` (m, d).

    ``algorithm`` is "exact", "permutation" (kwargs go to the call, e.g. ``max_evals``, shap's default
    500 evaluations per sample) or "kernel" (kwargs go to ``shap_values``, e.g. ``nsamples``;
    ``l1_reg`` defaults to False here, no feature selection, where shap would keep only 10 features).
    The first Exact or Permutation call in a process takes ~10 s longer: shap compiles its numba code.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    X, background = samples_and_reference(X, background)
    model = _scalar(predict)
    with _quiet(seed):
        if algorithm == "kernel":
            kwargs.setdefault("l1_reg", False)
            values = shap.KernelExplainer(model, background).shap_values(X, silent=True, **kwargs)
        else:
            masker = shap.maskers.Independent(background, max_samples=len(background))
            explainer = (shap.explainers.Exact(model, masker) if algorithm == "exact"
                         else shap.explainers.Permutation(model, masker, seed=seed))
            values = explainer(X, silent=True, **kwargs).values
    return np.asarray(values, dtype=float).reshape(X.shape)


@dataclass
class LimeExplanation:
    """LIME's local linear models of n samples.

    ``coefficients`` (n, d): slopes per training standard deviation of each feature (what lime reports);
    ``attributions`` (n, d): coefficient_i · (x_i − μ_i)/σ_i, on the scale of Shapley values;
    ``intercept`` (n,): the local model at the training mean; ``local_r2`` (n,): its weighted R² on
    the sampled neighbourhood (lime's ``score``). Not an :class:`~course.explain.attribution.Attribution`:
    the attributions add up to the local model's change from the training mean, not to a share of
    f(x), which LIME does not report.
    """

    coefficients: np.ndarray
    attributions: np.ndarray
    intercept: np.ndarray
    local_r2: np.ndarray


def lime_values(predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, training: np.ndarray,
                num_samples: int = 5000, seed: int = 0, kernel_width: float | None = None,
                ridge_alpha: float = 1.0) -> LimeExplanation:
    """LIME (tabular, regression, continuous features) for the rows of X; ``training`` (m, d) sets μ and σ.

    ``num_samples`` points per sample; ``kernel_width`` in standardized units (lime's default
    0.75·√d when None); ``ridge_alpha`` is the penalty of lime's ridge regression (lime's default 1,
    which shrinks the coefficients slightly; 0 for plain weighted least squares). All features are
    kept (no feature selection). μ and σ are lime's: the training mean and standard deviation (ddof 0).
    """
    if num_samples < 2:
        raise ValueError(f"num_samples must be at least 2, got {num_samples}")
    X, training = samples_and_reference(X, training, name="training")
    model = _scalar(predict)
    with _quiet(seed):
        explainer = LimeTabularExplainer(training, mode="regression", discretize_continuous=False,
                                         feature_selection="none", kernel_width=kernel_width,
                                         random_state=seed)
        fits = [explainer.explain_instance(x, model, num_features=X.shape[1], num_samples=num_samples,
                                           model_regressor=Ridge(alpha=ridge_alpha)) for x in X]
    coefficients = np.zeros(X.shape)
    for row, fit in zip(coefficients, fits):
        features, slopes = zip(*fit.local_exp[1])  # regression: label 1 holds the coefficients as fitted
        row[list(features)] = slopes
    standardized = np.array([fit.domain_mapper.scaled_row for fit in fits])  # (x − μ)/σ as lime computed it
    return LimeExplanation(coefficients=coefficients, attributions=coefficients * standardized,
                           intercept=np.array([float(fit.intercept[1]) for fit in fits]),
                           local_r2=np.array([fit.score for fit in fits]))
