"""What every explanation that splits a value among inputs reports, under one vocabulary.

Glossary:

- **start**: the value explained, per sample (a logit or an output for LRP, f(x) for Shapley values);
- **attributed**: the part of it the inputs received, Σ of the attributions;
- **absorbed**: the part that by construction reaches no input (what biases and stabilizers took in
  LRP; the value v(∅) of the empty coalition for Shapley values);
- **completeness gap**: start − (attributed + absorbed), zero up to rounding for a complete method.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np


class Attribution(ABC):
    """Base of the explanations of ``course.explain``: a ``start`` (n,) split into parts.

    >>> from course.explain.shapley import ShapleyValues
    >>> split = ShapleyValues(values=np.array([[1.0, 2.0]]), base=np.array([0.5]), prediction=np.array([4.0]))
    >>> split.attributed(), split.absorbed(), split.completeness_gap()
    (array([3.]), array([0.5]), array([0.5]))
    >>> round(split.absorbed_share(), 3)
    0.125
    """

    start: np.ndarray

    @abstractmethod
    def attributed(self) -> np.ndarray:
        """(n,) the sum of the attributions of each sample."""

    @abstractmethod
    def absorbed(self) -> np.ndarray:
        """(n,) the part of ``start`` that reaches no input by construction."""

    def completeness_gap(self) -> np.ndarray:
        """(n,) start − (attributed + absorbed), signed: what the bookkeeping lost, 0 up to rounding."""
        return self.start - (self.attributed() + self.absorbed())

    def absorbed_share(self) -> float:
        """Median over the samples of |absorbed| / |start|: how much of the explained value reached
        no input, the number to report beside any chart of the attributions."""
        return float(np.median(np.abs(self.absorbed()) / np.abs(self.start)))


@dataclass(kw_only=True)
class AbsorbedShares(Attribution):
    """For LRP results: ``bias`` and ``stabilizer``, per layer (by name, input side first), the
    relevance (n,) that its bias neuron and its stabilizer absorbed."""

    bias: dict[str, np.ndarray]
    stabilizer: dict[str, np.ndarray]

    def absorbed(self) -> np.ndarray:
        """(n,) relevance that reached no input: Σ of ``bias`` and ``stabilizer`` over the layers."""
        return sum(self.bias.values()) + sum(self.stabilizer.values())


@dataclass
class LRPResult(AbsorbedShares):
    """Input relevances of a chain of dense layers and where the rest of the start value went.

    ``relevance`` (n, d); ``start`` (n,): the logit or output of the explained unit ``output`` (n,).
    """

    relevance: np.ndarray
    start: np.ndarray
    output: np.ndarray

    def attributed(self) -> np.ndarray:
        """(n,) Σ_i R_i."""
        return self.relevance.sum(1)
