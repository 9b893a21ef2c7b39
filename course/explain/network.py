"""A dense network seen the way explanations need it: a chain of layers, their inputs, a start value.

LRP walks a network backwards layer by layer and needs every layer's input from the forward pass;
gradient methods must start from the same quantity as LRP (the logit or the output of one unit) so
that the methods can be compared. Both live here once.
"""
from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

#: What an explanation starts from, by kind of model: one vocabulary, and the first value of each
#: kind is its default. ``"output"``: the model's output, for every model. ``"logit"``: the
#: pre-activation of a dense network's last layer (the default there: a classifier's sigmoid
#: saturates, its logit does not). ``"network"``: the learned part s·net of a weave model's
#: prediction, without its per-atom baseline (``course.explain.lrp_weave``).
STARTS = {"dense": ("logit", "output"), "weave": ("output", "network")}


def check_start(start: str, kind: str) -> None:
    """A clear error unless ``start`` is one of :data:`STARTS` for models of ``kind``.

    >>> check_start("network", "dense")
    Traceback (most recent call last):
    ...
    ValueError: start must be one of ('logit', 'output') for a dense network, got 'network'
    """
    if start not in STARTS[kind]:
        raise ValueError(f"start must be one of {STARTS[kind]} for a {kind} network, got {start!r}")


def layer_chain(model: keras.Model) -> list[keras.layers.Layer]:
    """The model's layers in order, without its InputLayer.

    A clear error unless every layer takes exactly the previous layer's output: branches, merges and
    shared layers need their own propagation rules, which are not written yet.
    """
    inputs = getattr(model, "inputs", None)  # subclassed models have none
    if not inputs or len(inputs) != 1 or len(model.outputs) != 1:
        raise ValueError("explanations need a keras.Sequential or functional model with one input and one output")
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    previous = inputs[0]
    for layer in layers:
        try:
            feeds = layer.input is previous
        except (AttributeError, ValueError):  # never called, or called more than once
            feeds = False
        if not feeds:
            raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) does not take exactly the previous "
                             "layer's output: only chains of layers can be explained")
        previous = layer.output
    if not layers or previous is not model.outputs[0]:
        raise ValueError("the model's output is not the output of its last layer")
    return layers


def input_dtype(model: keras.Model) -> str:
    """The compute dtype of the first layer with weights: the precision the model computes in."""
    for layer in model.layers:
        if layer.weights:
            return layer.compute_dtype
    return keras.config.floatx()


def pre_activation(layer: keras.layers.Layer, a: Any) -> Any:
    """What ``layer`` computes from ``a`` before its activation: ``a @ kernel + bias`` for Dense."""
    if isinstance(layer, keras.layers.Dense):
        z = ops.matmul(ops.cast(a, layer.compute_dtype), layer.kernel)
        return z + layer.bias if layer.use_bias else z
    if isinstance(layer, keras.layers.Activation):
        return a
    raise ValueError(f"start='logit' needs the last layer to be Dense or Activation, not {layer.name!r} "
                     f"({type(layer).__name__}); use start='output'")


def forward(layers: list[keras.layers.Layer], X: Any, start: str) -> tuple[list[Any], Any]:
    """The input of every layer and the start values: the last layer's pre-activation (``"logit"``) or output."""
    check_start(start, "dense")
    inputs = [X]
    for layer in layers[:-1]:
        inputs.append(layer(inputs[-1], training=False))
    last = layers[-1]
    top = pre_activation(last, inputs[-1]) if start == "logit" else last(inputs[-1], training=False)
    return inputs, top


def start_values(model: keras.Model, X: Any, start: str) -> Any:
    """The (n, outputs) values explanations start from; ``"output"`` works for any one-input model."""
    if start == "output":
        return model(X, training=False)
    return forward(layer_chain(model), X, start)[1]


def select_output(top: np.ndarray, output: int | np.ndarray | None) -> np.ndarray:
    """The explained output unit of every sample.

    ``None``: the only unit of a one-output model, else the unit with the largest start value (the
    predicted class); an int: that unit for all samples; an array: one unit per sample.
    """
    n, units = top.shape
    if output is None:
        return np.zeros(n, dtype=int) if units == 1 else np.argmax(top, axis=1)
    chosen = np.broadcast_to(np.asarray(output), (n,)).astype(int)
    if chosen.min() < 0 or chosen.max() >= units:
        raise ValueError(f"output must index one of the model's {units} output units, got {output!r}")
    return chosen
