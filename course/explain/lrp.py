"""Layer-wise relevance propagation (LRP) for chains of dense layers, written with ``keras.ops`` only.

No LRP library runs on Keras 3, so the course has its own. LRP explains one output of a network for
one input: it starts from the output's value and passes it backwards, layer by layer, splitting
each neuron's relevance R_k among the layer's inputs a_j in proportion to their contributions
z_jk = a_j w_jk to the pre-activation z_k = Σ_j a_j w_jk + b_k (Bach et al. 2015; Montavon et al.,
"Methods for interpreting and understanding deep neural networks", 2018, and "Layer-wise relevance
propagation: an overview", 2019). The rules differ in which contributions count; each answers its
own question:

- ``LRP0``: R_j = Σ_k a_j w_jk / z_k · R_k. What is each input's exact share of the pre-activation?
  For ReLU networks without biases it equals gradient × input, and it is as noisy: in deep networks
  it follows every small contribution that happens to cancel others.
- ``Epsilon(ε)``: the denominator z_k + ε·sign(z_k). Which inputs carry the main evidence? ε absorbs
  the relevance of neurons whose pre-activation is weak or made of cancelling contributions, so the
  explanation keeps the salient parts and loses the noise. ε → 0 gives LRP-0.
- ``Gamma(γ)``: the supporting contributions (a_j w_jk > 0) strengthened by γ: weights w + γ·w⁺ on
  inputs ≥ 0 and w + γ·w⁻ on inputs < 0. What supported each neuron, rather than what cancelled?
  More stable explanations; meant for the lower *hidden* layers.
- Input-layer rules (deep Taylor decomposition with a root point chosen for the input domain,
  Montavon et al. 2017, 2019): ``ZBox(low, high)`` (z^B) for inputs in a box such as standardized
  data of known range, ``Flat`` and ``WSquare`` (w²) when the input values should not matter.
- ``ZPlus``: only positive weights, R_j = Σ_k a_j w⁺_jk / Σ_j a_j w⁺_jk · R_k. Which inputs excited
  each neuron? The deep Taylor rule for layers whose inputs are ≥ 0 (after a ReLU); γ → ∞ of LRP-γ.
- ``AlphaBeta(α, β)``: positive contributions (a_j w_jk)⁺ and negative ones (a_j w_jk)⁻ normalized
  separately, R_j = Σ_k (α z⁺_jk / Σ⁺_k − β z⁻_jk / Σ⁻_k) R_k with α − β = 1. How much evidence spoke
  for the neuron (α) and how much against it (β)? α = 1, β = 0 equals z⁺ on inputs ≥ 0.

**Bias handling.** Every rule treats a dense layer's bias as one more input neuron with activation 1
and weight b_k, modified like any other weight (b + γb⁺ for LRP-γ, b⁺ for z⁺, b⁺ and b⁻ for αβ). Its
share of the relevance is absorbed: it reaches no input, and it is reported per layer
(``LRPResult.bias``). The share that ε takes is reported too (``LRPResult.stabilizer``), as is the
relevance of a neuron whose denominator is exactly 0 (e.g. αβ on a neuron with no negative
contribution: its β-term has nothing to go to). Conservation then holds exactly, per sample::

    Σ_i R_i + Σ_layers (bias + stabilizer) = start value.

**Other implementations** (PyTorch) put the bias in the denominators too and drop its share.
``tests/test_lrp_reference.py`` runs captum (0.9) on PyTorch copies of float64 networks and gets the
same input relevances to rounding (~1e-15 relative) where the rules coincide: LRP-0 and ε as
captum's ``EpsilonRule(ε)`` (ε·sign(z), sign(0) = +1; ε = 0 for LRP-0, which gives NaN where a
denominator is 0 and this module 0), starting from the model's output for the target
(``start="output"``, the logit when the last layer is linear) and passing ReLU and tanh unchanged.
captum's ``GammaRule`` and ``Alpha1_Beta0_Rule`` take the weights w + γw⁺ and w⁺ on inputs of
either sign (so ``GammaRule`` is this module's ``Gamma`` only where the inputs are ≥ 0, and
``Alpha1_Beta0_Rule`` is ``ZPlus``, not ``AlphaBeta(1, 0)``) but leave the bias as it is, so they
agree with ``Gamma`` and ``ZPlus`` only on layers without bias (``set_bias_to_zero=True`` instead drops the
bias from the denominators, which no rule here does); they also add 1e-9·sign(z) to every
denominator where this module divides exactly, which moves the relevances by up to about 1e-6
relative (the test lowers it to compare exactly). captum has no general αβ rule. zennit (read from
its source, not run here: it needs torchvision) computes ``AlphaBeta`` as here and ``ZPlus`` as here
on inputs ≥ 0 (its ``ZPlus`` is αβ with α = 1, β = 0 on any input); its generalized γ (Andéol et al.
2021) favours negative weights where z_k < 0 and treats negative inputs apart, and it adds a
stabilizer of 1e-6 to every denominator.

**Where relevance starts.** With ``start="logit"`` (the default) at the pre-activation of the last
layer, with ``start="output"`` at the model's output. For a sigmoid classifier the logit is the
natural quantity: it is what the network adds up, it is signed (evidence for or against the class)
and it does not saturate; the probability σ(z) is positive even when the evidence is against the
class. For regression (linear output) both are the prediction. Elsewhere in the network relevance
passes unchanged through elementwise activations (relu, sigmoid, tanh, linear), the usual LRP
convention.

**Other layer types.** A layer type joins LRP by registering a function
``relevance_backward(layer, a_in, R_out, rule) -> Backward`` with :func:`register_backward`, which
receives the layer's input from the forward pass and the relevance of its output. Layers that take
a rule (dense layers, later graph layers) can build on :func:`linear_relevance`.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import keras
import numpy as np
from keras import ops

from course.explain.network import forward, input_dtype, layer_chain, select_output

PASS_THROUGH_ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh")


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
    """R_j = Σ_k a_j w_jk / z_k · R_k: each input's exact share of the pre-activation."""

    def terms(self, a: Any, kernel: Any, bias: Any) -> list[Term]:
        return [Term(1.0, ((a, kernel),), bias)]


@dataclass(frozen=True)
class Epsilon:
    """LRP-ε: denominator z_k + ε·sign(z_k) (sign(0) = +1), ε in units of the pre-activations.

    Montavon et al. (2019) use about a quarter of the pre-activations' standard deviation."""

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
    (the generalized rule of Montavon et al., 2019). On inputs ≥ 0 (ReLU outputs) it is the
    familiar w + γw⁺, which is what captum's ``GammaRule`` applies to every input. Example: inputs
    (−1, −2), weights (1, −1), γ = 0.25 give (−0.67, 1.67) where LRP-0 gives (−1, 2)::

        Gamma(0.25).terms(a, kernel, bias)   # used through explain(model, x, Gamma(0.25))
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
    """z⁺: contributions a_j w⁺_jk and bias b⁺_k only; for layers whose inputs are ≥ 0."""

    def terms(self, a: Any, kernel: Any, bias: Any) -> list[Term]:
        return [Term(1.0, ((a, _positive(kernel)),), _positive(bias))]


@dataclass(frozen=True)
class AlphaBeta:
    """αβ: positive contributions (a_j w_jk)⁺ get α R_k, negative ones (a_j w_jk)⁻ get −β R_k; α − β = 1.

    (a w)⁺ = a⁺w⁺ + a⁻w⁻ and (a w)⁻ = a⁺w⁻ + a⁻w⁺, so real-valued inputs are handled as well."""

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
    coef · Σ_k ((ε·sign(ẑ_k)) s_k + R_k [denominator = 0]).
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


def _backward_for(layer: keras.layers.Layer) -> tuple[RelevanceBackward, bool]:
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
    return Backward(R_out)


class Composite:
    """Different rules for different layers.

    ``rules`` maps a layer's name, or its position among the layers that take a rule (the dense
    layers: 0 is the first, −1 the last), to its rule; ``default`` covers the others. The recipe of
    Montavon et al. (2019): a rule for the input domain at the bottom (z^B for bounded inputs, or
    flat or w²), LRP-γ on the lower hidden layers, LRP-ε in the middle and LRP-0 at the top::

        Composite({0: ZBox(low, high), 1: Gamma(0.25), -1: LRP0()}, default=Epsilon(0.25))
    """

    def __init__(self, rules: Mapping[int | str, Rule], default: Rule) -> None:
        self.rules = dict(rules)
        self.default = default

    def __repr__(self) -> str:
        return f"Composite({self.rules!r}, default={self.default!r})"

    def assign(self, layers: Sequence[keras.layers.Layer]) -> list[Rule | None]:
        """The rule of every layer of the chain (``None`` for layers that take none)."""
        with_rule = [i for i, layer in enumerate(layers) if _backward_for(layer)[1]]
        rules = dict(zip(with_rule, self.rules_for([layers[i].name for i in with_rule])))
        return [rules.get(i) for i in range(len(layers))]

    def rules_for(self, names: Sequence[str]) -> list[Rule]:
        """The rules of the layers that take one, given their (distinct) names from input to output.

        Networks that are not chains (``course.explain.lrp_weave``) list their layers here themselves."""
        positions = {name: i for i, name in enumerate(names)}
        chosen: dict[int, Rule] = {}
        for key, rule in self.rules.items():
            if isinstance(key, str):
                if key not in positions:
                    raise ValueError(f"no layer that takes a rule is named {key!r}; they are {sorted(positions)}")
                i = positions[key]
            elif -len(names) <= key < len(names):
                i = key % len(names)
            else:
                raise ValueError(f"rule position {key} is out of range: the model has {len(names)} layers "
                                 "that take a rule")
            if i in chosen:
                raise ValueError(f"layer {names[i]!r} is given two rules")
            chosen[i] = rule
        return [chosen.get(i, self.default) for i in range(len(names))]


class AbsorbedShares:
    """For results with ``bias`` and ``stabilizer`` dicts of per-sample absorbed relevance."""

    bias: dict[str, np.ndarray]
    stabilizer: dict[str, np.ndarray]

    def absorbed(self) -> np.ndarray:
        """Relevance (n,) that reached no input: Σ input relevances + absorbed() == start."""
        return sum(self.bias.values()) + sum(self.stabilizer.values())


@dataclass
class LRPResult(AbsorbedShares):
    """Input relevances and where the rest of the start value went.

    ``relevance`` (n, d); ``start`` (n,): the logit or output of the explained unit ``output`` (n,);
    ``bias`` and ``stabilizer``: per dense layer (by name, input side first) the relevance (n,) that its
    bias neuron and its stabilizer absorbed.
    """

    relevance: np.ndarray
    start: np.ndarray
    output: np.ndarray
    bias: dict[str, np.ndarray]
    stabilizer: dict[str, np.ndarray]


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
    or ``"output"``. Computed in the model's dtype.
    """
    layers = layer_chain(model)
    composite = rule if isinstance(rule, Composite) else Composite({}, default=rule)
    rules = composite.assign(layers)
    relevance_passes = layers if start == "output" else layers[:-1]  # the logit leaves out the last activation
    for layer in relevance_passes:
        _check_activation(layer)
    inputs, top = forward(layers, ops.convert_to_tensor(np.asarray(X), dtype=input_dtype(model)), start)
    chosen = select_output(ops.convert_to_numpy(top), output)
    R = top * ops.one_hot(chosen, ops.shape(top)[1], dtype=top.dtype)
    start_value = ops.sum(R, axis=1)
    bias, stabilizer = {}, {}
    for layer, a_in, layer_rule in reversed(list(zip(layers, inputs, rules))):
        step = _backward_for(layer)[0](layer, a_in, R, layer_rule)
        R = step.relevance
        if step.bias is not None:
            bias[layer.name] = ops.convert_to_numpy(step.bias)
            stabilizer[layer.name] = ops.convert_to_numpy(step.stabilizer)
    return LRPResult(relevance=ops.convert_to_numpy(R), start=ops.convert_to_numpy(start_value), output=chosen,
                     bias=dict(reversed(bias.items())), stabilizer=dict(reversed(stabilizer.items())))
