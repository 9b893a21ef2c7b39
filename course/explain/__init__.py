"""Explanations of trained models: occlusion (Module 3), LRP (Module 5), SHAP and LIME (Module 6).

The public names are importable from here, ``from course.explain import explain, Epsilon``, and are
loaded on first use (PEP 562), so ``import course.explain`` does not import Keras, shap or lime:

>>> import course.explain
>>> "Epsilon" in course.explain.__all__ and "Epsilon" in dir(course.explain)
True

Words used the same way in every module:

* **start** — the value an explanation explains (``course.explain.network.STARTS``): ``"logit"`` or
  ``"output"`` of a dense network, ``"output"`` or ``"network"`` of a weave model; the first is the default.
* **relevance** — an input's share of the start value (LRP, Shapley values, integrated gradients).
* **absorbed** — what biases and LRP-ε's stabilizer take, so that it reaches no input.
* **completeness gap** — start − (relevance of all inputs + absorbed), 0 up to round-off for an exact
  method: ``Attribution.completeness_gap()``.
* **rows** vs **QM9 indices** — positions in a ``WeaveData`` (``data.rows(qm9_indices)``) against QM9's
  own molecule numbers; functions say which they take.
"""
from __future__ import annotations

import importlib
from typing import Any

_MODULE_OF = {
    **dict.fromkeys(("agreement_table", "rank_agreement", "top_k_overlap"), "agreement"),
    **dict.fromkeys(("AbsorbedShares", "Attribution", "LRPResult"), "attribution"),
    **dict.fromkeys(("Backward", "linear_relevance", "register_backward"), "backward"),
    **dict.fromkeys(("Composite",), "composites"),
    **dict.fromkeys(("TYPES", "TypeRelevance", "explain_rows", "feature_type_relevance", "sum_per_type"),
                    "feature_types"),
    **dict.fromkeys(("gradient", "gradient_times_input", "integrated_gradients"), "gradients"),
    **dict.fromkeys(("KernelRelevance", "bag_names", "explain_krr", "sum_per_bag"), "kernel_lrp"),
    **dict.fromkeys(("explain",), "lrp"),
    **dict.fromkeys(("WeaveRelevance", "dense_names", "explain_weave", "explained_value", "output_weights"), "lrp_weave"),
    **dict.fromkeys(("LimeExplanation", "lime_values", "shap_values"), "model_agnostic"),
    **dict.fromkeys(("layer_chain", "select_output", "start_values"), "network"),
    **dict.fromkeys(("occlusion_drops", "windows"), "occlusion"),
    **dict.fromkeys(("GaussianInfill", "PerturbationCurves", "perturbation_curves", "removal_orders",
                     "removal_steps"), "perturbation"),
    **dict.fromkeys(("AlphaBeta", "Epsilon", "Flat", "Gamma", "LRP0", "Rule", "Term", "WSquare", "ZBox", "ZPlus"),
                    "rules"),
    **dict.fromkeys(("autocorrelation", "centred_relu_network"), "shattering"),
    **dict.fromkeys(("ShapleyValues", "coalition_values", "coalitions", "exact_shapley", "linear_shapley",
                     "shapley_weights"), "shapley"),
    **dict.fromkeys(("TypeRemoval", "feature_means"), "type_perturbation"),
    **dict.fromkeys(("READINGS", "nonzero_inputs", "per_input_relevance", "zero_reference_shares"), "type_shares"),
}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
