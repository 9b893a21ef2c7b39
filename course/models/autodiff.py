"""Gradients by automatic differentiation, whichever Keras backend is running.

Keras 3 code written with ``keras.ops`` runs on TensorFlow, JAX and PyTorch, but taking a gradient
is the one thing each backend does its own way. Module 3 checks hand-written backpropagation
against this, and Module 5 builds gradient-based explanations on it.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np


def gradients(loss: Callable[..., Any], *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """∂loss/∂array for every argument of a scalar function ``loss(*tensors)`` built from ``keras.ops``.

    Arrays keep their dtype on TensorFlow and PyTorch; JAX computes in float32 unless
    ``jax_enable_x64`` is set.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        variables = [tf.Variable(np.asarray(a)) for a in arrays]
        with tf.GradientTape() as tape:
            value = loss(*variables)
        grads = tape.gradient(value, variables)
    elif backend == "jax":
        import jax

        grads = jax.grad(loss, argnums=tuple(range(len(arrays))))(*(jax.numpy.asarray(a) for a in arrays))
    elif backend == "torch":
        import torch

        tensors = [torch.tensor(np.asarray(a), requires_grad=True) for a in arrays]
        loss(*tensors).backward()
        grads = [t.grad for t in tensors]
    else:
        raise NotImplementedError(f"gradients() does not support the Keras backend {backend!r}")
    return tuple(np.zeros_like(np.asarray(a)) if g is None else np.asarray(keras.ops.convert_to_numpy(g))
                 for a, g in zip(arrays, grads))
