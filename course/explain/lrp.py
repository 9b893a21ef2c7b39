"""Layer-wise relevance propagation (LRP) for chains of dense layers, written with ``keras.ops`` only.

LRP explains one output of a network for one input: it starts from the output's value and passes it
backwards, layer by layer, splitting each neuron's relevance among the layer's inputs in proportion
to their contributions (Bach et al. 2015; Montavon et al. 2018, 2019). The rules are in
:mod:`course.explain.rules`, the propagation kernel in :mod:`course.explain.backward`, the choice of
rule per layer in :mod:`course.explain.composites`; this module walks a chain of layers.
``tests/test_lrp_reference.py`` compares it with captum.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import ops

from course.explain.attribution import LRPResult
from course.explain.backward import backward_for
from course.explain.composites import Composite, as_composite
from course.explain.network import forward, input_dtype, layer_chain, select_output
from course.explain.rules import Rule

PASS_THROUGH_ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh")


def _check_activation(layer: keras.layers.Layer) -> None:
    activation = getattr(layer, "activation", None)
    if activation is None:
        return
    name = keras.activations.serialize(activation)
    if name not in PASS_THROUGH_ACTIVATIONS:
        raise ValueError(f"LRP passes relevance only through the activations {PASS_THROUGH_ACTIVATIONS}; layer "
                         f"{layer.name!r} uses {name!r}")


def explain(model: keras.Model, X: np.ndarray, rule: Rule | Composite, output: int | np.ndarray | None = None,
            start: str = "logit") -> LRPResult:
    """LRP relevance of every input feature for one output unit of ``model`` at every row of ``X``.

    ``rule``: one rule for every dense layer, or a :class:`Composite`. ``output``: see
    :func:`course.explain.network.select_output` (default: the only or the largest unit). ``start``:
    ``"logit"`` (the last layer's pre-activation; its activation may then be anything, e.g. softmax)
    or ``"output"``. For a sigmoid classifier the logit is the natural quantity: it is what the
    network adds up, signed (evidence for or against the class) and it does not saturate; for a
    linear output both are the prediction. Relevance passes unchanged through the elementwise
    activations of :data:`PASS_THROUGH_ACTIVATIONS`. Computed in the model's dtype.

    >>> from course.explain.rules import LRP0
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, use_bias=False)])
    >>> model.layers[0].set_weights([np.array([[2.0], [-1.0]])])
    >>> result = explain(model, np.array([[1.0, 3.0]]), LRP0())
    >>> result.relevance, result.start, result.completeness_gap()
    (array([[ 2., -3.]], dtype=float32), array([-1.], dtype=float32), array([0.], dtype=float32))
    """
    layers = layer_chain(model)
    rules = as_composite(rule).assign(layers)
    relevance_passes = layers if start == "output" else layers[:-1]  # the logit leaves out the last activation
    for layer in relevance_passes:
        _check_activation(layer)
    inputs, top = forward(layers, ops.convert_to_tensor(np.asarray(X), dtype=input_dtype(model)), start)
    chosen = select_output(ops.convert_to_numpy(top), output)
    R = top * ops.one_hot(chosen, ops.shape(top)[1], dtype=top.dtype)
    start_value = ops.sum(R, axis=1)
    bias, stabilizer = {}, {}
    for layer, a_in, layer_rule in reversed(list(zip(layers, inputs, rules))):
        step = backward_for(layer)[0](layer, a_in, R, layer_rule)
        R = step.relevance
        if step.bias is not None:
            bias[layer.name] = ops.convert_to_numpy(step.bias)
            stabilizer[layer.name] = ops.convert_to_numpy(step.stabilizer)
    return LRPResult(relevance=ops.convert_to_numpy(R), start=ops.convert_to_numpy(start_value), output=chosen,
                     bias=dict(reversed(bias.items())), stabilizer=dict(reversed(stabilizer.items())))
