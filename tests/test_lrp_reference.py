"""LRP against an established implementation, captum's, on a PyTorch copy of the same float64 network.

captum passes relevance through a linear layer as R_j = a_j Σ_k w'_jk R_k / (z'_k + s·sign(z'_k)) with
sign(0) = +1, where w' are the rule's weights and z'_k = Σ_j a_j w'_jk + b_k: the bias sits in the
denominator and its share is dropped, as in ``course.explain.backward``. s is ``EpsilonRule``'s ε; the other
rules add ``PropagationRule.STABILITY_FACTOR`` = 1e-9, which moves their relevances by up to ~1e-6 of
the largest on these networks; :func:`exact` lowers it so that the comparison is exact. ``GammaRule``
and ``Alpha1_Beta0_Rule`` change the weights like our ``Gamma`` and ``ZPlus`` but keep the bias as it
is (ours: b + γb⁺ and b⁺), so they are compared on layers without bias. captum starts from the model's
output for the target and passes relevance through ReLU and tanh unchanged: our ``start="output"``,
which is the logit when the last layer is linear. LRP-0 is ``EpsilonRule(0)``, which gives NaN where a
denominator is 0 (ours: 0). ``Alpha1_Beta0_Rule`` takes w⁺ on inputs of either sign, so it is our
``ZPlus``, not ``AlphaBeta(1, 0)``; captum has no general αβ rule.

zennit (read from its source, not run here: it needs torchvision) computes ``AlphaBeta`` as we do and
``ZPlus`` as we do on inputs ≥ 0 (its ``ZPlus`` is αβ with α = 1, β = 0 on any input); its generalized
γ (Andéol et al. 2021) favours negative weights where z_k < 0 and treats negative inputs apart, and it
adds a stabilizer of 1e-6 to every denominator.
"""
import keras
import numpy as np
import pytest

from course.explain import LRP0, Composite, Epsilon, Gamma, ZPlus, explain
from test_lrp import dense_net

REASON = "the comparison with captum needs the test extras: pip install -e '.[test]'"
torch = pytest.importorskip("torch", reason=REASON)
captum_attr = pytest.importorskip("captum.attr", reason=REASON)
from captum.attr._utils.lrp_rules import Alpha1_Beta0_Rule, EpsilonRule, GammaRule  # noqa: E402 (after the skip)

SHAPES = [(3, [4], 1), (6, [8, 5], 2), (5, [7, 7, 7], 3)]
TORCH_ACTIVATIONS = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}


def torch_copy(model):
    """The chain of Dense layers as a float64 ``torch.nn.Sequential`` (torch stores the kernel transposed)."""
    modules = []
    for layer in model.layers:
        kernel, bias = layer.get_weights()
        linear = torch.nn.Linear(*kernel.shape, dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(kernel.T))
            linear.bias.copy_(torch.from_numpy(bias))
        modules.append(linear)
        activation = keras.activations.serialize(layer.activation)
        if activation != "linear":
            modules.append(TORCH_ACTIVATIONS[activation]())
    return torch.nn.Sequential(*modules)


def exact(rule):
    """A captum rule whose stabilizer is far below the float64 resolution of the denominators instead of 1e-9.

    The comparison is then exact where captum divides, and a zero denominator still gives the inputs
    nothing instead of 0/0 = NaN: without bias, a neuron whose (positively weighted) inputs are all
    off has z' = 0, and so does the output of a sample whose last hidden ReLUs are all off."""
    rule.STABILITY_FACTOR = 1e-30
    return rule


def captum_relevance(model, X, rules, output):
    """captum's LRP relevance (n, d) of the outputs ``output`` (n,), ``rules[i]`` for the i-th Dense layer."""
    net = torch_copy(model)
    for linear, rule in zip([m for m in net if isinstance(m, torch.nn.Linear)], rules, strict=True):
        linear.rule = rule
    inputs = torch.tensor(X, requires_grad=True)
    return captum_attr.LRP(net).attribute(inputs, target=torch.from_numpy(output)).detach().numpy()


@pytest.mark.parametrize("epsilon", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_lrp0_and_epsilon_agree_with_captum(epsilon, shape):
    model = dense_net(21, *shape)
    X = np.random.default_rng(22).normal(size=(8, shape[0]))
    ours = explain(model, X, Epsilon(epsilon) if epsilon else LRP0())
    theirs = captum_relevance(model, X, [EpsilonRule(epsilon) for _ in model.layers], ours.output)
    np.testing.assert_allclose(theirs, ours.relevance, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("ours, make_theirs", [(Gamma(0.25), lambda: GammaRule(0.25)),
                                               (Gamma(1.0), lambda: GammaRule(1.0)), (ZPlus(), Alpha1_Beta0_Rule)],
                         ids=["gamma0.25", "gamma1", "zplus"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_gamma_and_zplus_agree_with_captum_without_bias(ours, make_theirs, shape):
    # Inputs of both signs for z⁺: captum's Alpha1_Beta0_Rule keeps w⁺ on any input, which is our
    # ZPlus (AlphaBeta(1, 0) equals it only on inputs ≥ 0). Inputs ≥ 0 for γ: captum's GammaRule
    # takes w + γw⁺ on any input, our generalized Gamma takes w + γw⁻ on negative ones.
    model = dense_net(23, *shape, zero_bias=True)
    X = np.random.default_rng(24).normal(size=(8, shape[0]))
    if isinstance(ours, Gamma):
        X = np.abs(X)
    result = explain(model, X, ours)
    theirs = captum_relevance(model, X, [exact(make_theirs()) for _ in model.layers], result.output)
    np.testing.assert_allclose(theirs, result.relevance, rtol=1e-9, atol=1e-12)


def test_composite_agrees_with_captum_rules_per_layer():
    model = dense_net(25, 5, [7, 7, 7], 3)
    first = model.layers[0]
    first.bias.assign(np.zeros(first.units))  # captum's GammaRule keeps the bias: compare where there is none
    X = np.abs(np.random.default_rng(26).normal(size=(8, 5)))  # γ's conventions coincide on inputs ≥ 0
    ours = explain(model, X, Composite({0: Gamma(0.25), -1: LRP0()}, default=Epsilon(0.25)))
    rules = [exact(GammaRule(0.25)), EpsilonRule(0.25), EpsilonRule(0.25), EpsilonRule(0.0)]
    np.testing.assert_allclose(captum_relevance(model, X, rules, ours.output), ours.relevance, rtol=1e-9, atol=1e-12)


def test_tanh_network_from_its_output():
    model = dense_net(27, 4, [6], 2, last="tanh", inner="tanh")
    X = np.random.default_rng(28).normal(size=(8, 4))
    ours = explain(model, X, Epsilon(0.3), start="output")
    theirs = captum_relevance(model, X, [EpsilonRule(0.3) for _ in model.layers], ours.output)
    np.testing.assert_allclose(theirs, ours.relevance, rtol=1e-9, atol=1e-12)


def test_the_comparison_tells_rules_and_bias_conventions_apart():
    model = dense_net(29, 6, [8, 5], 2)
    X = np.random.default_rng(30).normal(size=(8, 6))
    lrp0 = explain(model, X, LRP0())
    epsilon = captum_relevance(model, X, [EpsilonRule(0.1) for _ in model.layers], lrp0.output)
    assert np.abs(epsilon - lrp0.relevance).max() > 1e-3 * np.abs(lrp0.relevance).max()
    gamma = explain(model, X, Gamma(0.25))  # b + γb⁺ here, b in captum's GammaRule
    theirs = captum_relevance(model, X, [exact(GammaRule(0.25)) for _ in model.layers], gamma.output)
    assert np.abs(theirs - gamma.relevance).max() > 1e-3 * np.abs(gamma.relevance).max()


def test_generalized_gamma_differs_from_captums_on_negative_inputs():
    """On signed inputs captum's GammaRule strengthens w⁺ even where a_j < 0 (contradicting
    contributions); ours strengthens w⁻ there, so the two must differ on the first layer."""
    model = dense_net(31, 6, [8], 2, zero_bias=True)
    X = np.random.default_rng(32).normal(size=(8, 6))
    ours = explain(model, X, Gamma(0.25))
    theirs = captum_relevance(model, X, [exact(GammaRule(0.25)) for _ in model.layers], ours.output)
    assert np.abs(theirs - ours.relevance).max() > 1e-3 * np.abs(ours.relevance).max()
