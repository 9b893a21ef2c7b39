"""LRP rules: how a dense layer ``z = a @ W + b`` shares each neuron's relevance among its inputs.

A rule is a list of normalized shares (:class:`Term`), so one kernel,
:func:`course.explain.backward.linear_relevance`, applies every rule. Every rule treats the bias as
one more input neuron with activation 1 and weight b_k, modified like any other weight.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from keras import ops


@dataclass(frozen=True)
class Term:
    """One normalized share of a rule: ``coef · Σ_k z_jk / (ẑ_k + ε·sign(ẑ_k)) · R_k``.

    The contributions are z_jk = Σ_p x_pj v_pjk over the (input, weight) ``products`` and the bias
    neuron's contribution is ``bias``; ẑ_k = Σ_j z_jk + bias_k.
    """

    coef: float
    products: tuple[tuple[Any, Any], ...]
    bias: Any
    epsilon: float = 0.0


class Rule(Protocol):
    def terms(self, a: Any, kernel: Any, bias: Any) -> list[Term]:
        """The shares of the rule for inputs ``a`` (n, J), ``kernel`` (J, K), ``bias`` (K,); coefs sum to 1."""


def _positive(x: Any) -> Any:
    return ops.maximum(x, 0)


def _negative(x: Any) -> Any:
    return ops.minimum(x, 0)


@dataclass(frozen=True)
class LRP0:
    """R_j = Σ_k a_j w_jk / z_k · R_k: each input's exact share of the pre-activation.

    For ReLU networks without biases it equals gradient × input, and is as noisy in deep networks."""

    def terms(self, a: Any, kernel: Any, bias: Any) -> list[Term]:
        return [Term(1.0, ((a, kernel),), bias)]


@dataclass(frozen=True)
class Epsilon:
    """LRP-ε: denominator z_k + ε·sign(z_k) (sign(0) = +1), ε in units of the pre-activations.

    Which inputs carry the main evidence? ε absorbs the relevance of neurons whose pre-activation is
    weak or made of cancelling contributions; ε → 0 gives LRP-0. Montavon et al. (2019) use about a
    quarter of the pre-activations' standard deviation."""

    epsilon: float = 0.25

    def __post_init__(self) -> None:
        if self.epsilon < 0:
            raise ValueError(f"epsilon must be ≥ 0, got {self.epsilon}")

    def terms(self, a: Any, kernel: Any, bias: Any) -> list[Term]:
        return [Term(1.0, ((a, kernel),), bias, self.epsilon)]


@dataclass(frozen=True)
class Gamma:
    """LRP-γ, favouring the contributions that support a neuron: z_jk = a_j (w_jk + γ w⁺_jk) for
    inputs a_j ≥ 0 and a_j (w_jk + γ w⁻_jk) for a_j < 0, bias b + γ b⁺ (the bias neuron's input is 1).

    The supporting contributions are those with a_j w_jk > 0: a positive weight on a positive input,
    or a negative weight on a negative one, so the rule strengthens w⁺ or w⁻ by the input's sign
    (the generalized rule of Montavon et al., 2019), meant for the lower hidden layers. On inputs ≥ 0
    (ReLU outputs) it is the familiar w + γw⁺. Inputs (−1, −2), weights (1, −1), γ = 0.25 give
    (−0.67, 1.67) where LRP-0 gives (−1, 2):

    >>> import numpy as np
    >>> from course.explain.backward import linear_relevance
    >>> step = linear_relevance(np.array([[-1.0, -2.0]]), np.array([[1.0], [-1.0]]), np.zeros(1),
    ...                         np.ones((1, 1)), Gamma(0.25))
    >>> np.round(ops.convert_to_numpy(step.relevance), 2)
    array([[-0.67,  1.67]])
    """

    gamma: float = 0.25

    def __post_init__(self) -> None:
        if self.gamma < 0:
            raise ValueError(f"gamma must be ≥ 0, got {self.gamma}")

    def terms(self, a: Any, kernel: Any, bias: Any) -> list[Term]:
        g = self.gamma
        return [Term(1.0, ((_positive(a), kernel + g * _positive(kernel)), (_negative(a), kernel + g * _negative(kernel))),
                     bias + g * _positive(bias))]


@dataclass(frozen=True)
class ZBox:
    """z^B for an input layer whose inputs lie in [low, high] (per input, e.g. the training data's
    range): z_jk = x_j w_jk − l_j w⁺_jk − h_j w⁻_jk, no bias share (deep Taylor decomposition with the
    root point searched inside the box; Montavon et al. 2017). Every term is ≥ 0 for x in the box,
    so relevance never changes sign through this layer. Example::

        Composite({0: ZBox(X_train.min(0), X_train.max(0)), -1: LRP0()}, default=Epsilon(0.25))
    """

    low: Any
    high: Any

    def terms(self, a: Any, kernel: Any, bias: Any) -> list[Term]:
        zeros = ops.zeros_like(a)
        low, high = zeros + ops.cast(self.low, a.dtype), zeros + ops.cast(self.high, a.dtype)
        return [Term(1.0, ((a, kernel), (low, -_positive(kernel)), (high, -_negative(kernel))), ops.zeros_like(bias))]


@dataclass(frozen=True)
class Flat:
    """Flat rule for an input layer: every input gets an equal share of each neuron's relevance,
    whatever its value (a reference point that says only which neurons an input feeds)."""

    def terms(self, a: Any, kernel: Any, bias: Any) -> list[Term]:
        return [Term(1.0, ((ops.ones_like(a), ops.ones_like(kernel)),), ops.zeros_like(bias))]


@dataclass(frozen=True)
class WSquare:
    """w² rule for an input layer: shares in proportion to w_jk², independent of the input values
    (deep Taylor decomposition with the root point at the far end of the weight direction)."""

    def terms(self, a: Any, kernel: Any, bias: Any) -> list[Term]:
        return [Term(1.0, ((ops.ones_like(a), ops.square(kernel)),), ops.zeros_like(bias))]


@dataclass(frozen=True)
class ZPlus:
    """z⁺: contributions a_j w⁺_jk and bias b⁺_k only; for layers whose inputs are ≥ 0.

    Which inputs excited each neuron? The deep Taylor rule for layers after a ReLU; γ → ∞ of LRP-γ."""

    def terms(self, a: Any, kernel: Any, bias: Any) -> list[Term]:
        return [Term(1.0, ((a, _positive(kernel)),), _positive(bias))]


@dataclass(frozen=True)
class AlphaBeta:
    """αβ: positive contributions (a_j w_jk)⁺ get α R_k, negative ones (a_j w_jk)⁻ get −β R_k; α − β = 1.

    How much evidence spoke for the neuron (α), how much against it (β)? (a w)⁺ = a⁺w⁺ + a⁻w⁻ and
    (a w)⁻ = a⁺w⁻ + a⁻w⁺, so real-valued inputs are handled as well; α = 1, β = 0 is z⁺ on inputs ≥ 0."""

    alpha: float = 1.0
    beta: float = 0.0

    def __post_init__(self) -> None:
        if self.beta < 0 or abs(self.alpha - self.beta - 1) > 1e-12:
            raise ValueError(f"AlphaBeta needs β ≥ 0 and α − β = 1 to conserve relevance, got α={self.alpha}, "
                             f"β={self.beta}")

    def terms(self, a: Any, kernel: Any, bias: Any) -> list[Term]:
        a_pos, a_neg, w_pos, w_neg = _positive(a), _negative(a), _positive(kernel), _negative(kernel)
        return [Term(self.alpha, ((a_pos, w_pos), (a_neg, w_neg)), _positive(bias)),
                Term(-self.beta, ((a_pos, w_neg), (a_neg, w_pos)), _negative(bias))]
