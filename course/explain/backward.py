"""The propagation core of LRP: one kernel for every rule, and a registry of layer backwards.

A layer type joins LRP by registering ``relevance_backward(layer, a_in, R_out, rule) -> Backward``
with :func:`register_backward`; it receives the layer's input from the forward pass and the
relevance of its output. Layers that take a rule (dense layers, the weave's sublayers) build on
:func:`linear_relevance`.

**Bias handling.** The bias neuron's share of the relevance reaches no input: it is reported, as is
the share that ε takes and the relevance of a neuron whose denominator is exactly 0 (e.g. αβ on a
neuron with no negative contribution: its β-term has nothing to go to). Conservation then holds
exactly, per sample: Σ_i R_i + Σ_layers (bias + stabilizer) = start value.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
from keras import ops

from course.explain.rules import Rule


@dataclass(frozen=True)
class Backward:
    """A layer's input relevance (n, J) and the relevance (n,) its bias and its stabilizer absorbed
    (``None`` for layers that absorb nothing, such as activations)."""

    relevance: Any
    bias: Any = None
    stabilizer: Any = None


def linear_relevance(a: Any, kernel: Any, bias: Any, relevance: Any, rule: Rule) -> Backward:
    """Relevance of the inputs ``a`` (n, J) of ``z = a @ kernel + bias`` given the relevance (n, K) of z.

    For every share of the rule, s_k = R_k / (ẑ_k + ε·sign(ẑ_k)) (0 where that denominator is 0),
    R_j += coef · Σ_p x_pj (s @ v_pᵀ)_j, the bias absorbs coef · Σ_k bias_k s_k and the stabilizer
    coef · Σ_k ((ε·sign(ẑ_k)) s_k + R_k [denominator = 0]). Two inputs, one neuron with relevance 5,
    z = 1·2 + 3·(−1) + 0.5 = −0.5: the inputs get (−20, 30) and the bias −5, 5 in all:

    >>> import numpy as np
    >>> from course.explain.rules import LRP0
    >>> step = linear_relevance(np.array([[1.0, 3.0]]), np.array([[2.0], [-1.0]]), np.array([0.5]),
    ...                         np.array([[5.0]]), LRP0())
    >>> ops.convert_to_numpy(step.relevance), ops.convert_to_numpy(step.bias)
    (array([[-20.,  30.]]), array([-5.]))
    """
    R_in = ops.zeros_like(a)
    absorbed_bias = absorbed_stabilizer = ops.zeros_like(a[:, 0])
    for term in rule.terms(a, kernel, bias):
        z = term.bias
        for x, v in term.products:
            z = z + ops.matmul(x, v)
        ones, zeros = ops.ones_like(z), ops.zeros_like(z)
        denominator = z + term.epsilon * ops.where(z >= 0, ones, -ones)
        usable = ops.not_equal(denominator, zeros)
        s = ops.where(usable, relevance / ops.where(usable, denominator, ones), zeros)
        for x, v in term.products:
            R_in = R_in + term.coef * x * ops.matmul(s, ops.transpose(v))
        absorbed_bias = absorbed_bias + term.coef * ops.sum(term.bias * s, axis=1)
        lost = (denominator - z) * s + ops.where(usable, zeros, relevance)
        absorbed_stabilizer = absorbed_stabilizer + term.coef * ops.sum(lost, axis=1)
    return Backward(R_in, absorbed_bias, absorbed_stabilizer)


RelevanceBackward = Callable[..., Backward]
_BACKWARD: dict[type, tuple[RelevanceBackward, bool]] = {}


def register_backward(layer_type: type, takes_rule: bool) -> Callable[[RelevanceBackward], RelevanceBackward]:
    """Decorator: ``relevance_backward(layer, a_in, R_out, rule)`` passes relevance through ``layer_type``.

    ``takes_rule``: whether the layer mixes its inputs and needs a rule (dense layers) or passes
    relevance elementwise (activations; they get ``rule=None``)."""
    def decorate(relevance_backward: RelevanceBackward) -> RelevanceBackward:
        _BACKWARD[layer_type] = (relevance_backward, takes_rule)
        return relevance_backward
    return decorate


def backward_for(layer: keras.layers.Layer) -> tuple[RelevanceBackward, bool]:
    """The registered backward of ``layer``'s type (or of its nearest base class) and whether it takes a rule."""
    for cls in type(layer).__mro__:
        if cls in _BACKWARD:
            return _BACKWARD[cls]
    supported = ", ".join(sorted(cls.__name__ for cls in _BACKWARD))
    raise ValueError(f"LRP cannot propagate through layer {layer.name!r} ({type(layer).__name__}); "
                     f"supported layer types: {supported}")


@register_backward(keras.layers.Dense, takes_rule=True)
def _dense(layer: keras.layers.Dense, a_in: Any, R_out: Any, rule: Rule) -> Backward:
    dtype = layer.compute_dtype
    kernel = ops.cast(layer.kernel, dtype)
    bias = ops.cast(layer.bias, dtype) if layer.use_bias else ops.zeros((ops.shape(kernel)[1],), dtype=dtype)
    return linear_relevance(ops.cast(a_in, dtype), kernel, bias, ops.cast(R_out, dtype), rule)


@register_backward(keras.layers.Activation, takes_rule=False)
@register_backward(keras.layers.Dropout, takes_rule=False)
def _elementwise(layer: keras.layers.Layer, a_in: Any, R_out: Any, rule: None) -> Backward:
    """Relevance passes unchanged through elementwise layers (the usual LRP convention)."""
    return Backward(R_out)
