"""LRP against a hand computation, a per-neuron loop implementation of the published formulas and
known identities; conservation in float64 on random networks; clear errors for what it cannot do."""
import keras
import numpy as np
import pytest

from course.explain import backward
from course.explain.gradients import gradient_times_input
from course.explain import LRP0, AlphaBeta, Composite, Epsilon, Flat, Gamma, WSquare, ZBox, ZPlus, explain
from course.models import cmb_classifier

RULES = [LRP0(), Epsilon(0.1), Gamma(0.25), ZPlus(), AlphaBeta(1, 0), AlphaBeta(2, 1)]
SHAPES = [(3, [4], 1, "linear"), (6, [8, 5], 1, "sigmoid"), (5, [7, 7, 7], 3, "linear"), (4, [6], 2, "tanh")]
ACTIVATIONS = {"linear": lambda z: z, "relu": lambda z: max(z, 0.0), "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
               "tanh": np.tanh}


def dense_net(seed, n_in, hidden, n_out, last="linear", inner="relu", zero_bias=False, functional=False):
    """A float64 chain of Dense layers with random weights and biases of both signs."""
    rng = np.random.default_rng(seed)
    sizes = [n_in, *hidden, n_out]
    layers = [keras.layers.Dense(k, activation=inner if i < len(hidden) else last, dtype="float64",
                                 name="top" if i == len(hidden) else f"hidden{i}")
              for i, k in enumerate(sizes[1:])]
    inputs = keras.Input((n_in,), dtype="float64")
    if functional:
        h = inputs
        for layer in layers:
            h = layer(h)
        model = keras.Model(inputs, h)
    else:
        model = keras.Sequential([inputs, *layers])
    for layer, (j, k) in zip(layers, zip(sizes[:-1], sizes[1:])):
        bias = np.zeros(k) if zero_bias else rng.normal(0, 0.5, k)
        layer.set_weights([rng.normal(0, 1 / np.sqrt(j), (j, k)), bias])
    return model


def hand_network():
    """2-3-1: z¹ = x W¹ + b¹, a¹ = relu(z¹), y = a¹ W² + b²; at x = (1, 2): z¹ = (2, 1.5, −1.5), y = 4."""
    model = dense_net(0, 2, [3], 1)
    model.layers[0].set_weights([np.array([[1.0, -1.0, 0.5], [0.5, 1.0, -1.0]]), np.array([0.0, 0.5, 0.0])])
    model.layers[1].set_weights([np.array([[1.0], [2.0], [3.0]]), np.array([-1.0])])
    return model, np.array([[1.0, 2.0]])


def assert_conserved(result, rtol=1e-6):
    parts = [result.relevance, *result.bias.values(), *result.stabilizer.values()]
    scale = sum(np.abs(p).reshape(len(result.start), -1).sum(axis=1) for p in parts) + np.abs(result.start)
    absorbed = sum(result.bias.values()) + sum(result.stabilizer.values())
    residual = result.start - result.relevance.sum(axis=1) - absorbed
    assert np.all(np.abs(residual) <= rtol * scale), residual / scale
    assert np.all(np.abs(result.completeness_gap() - residual) <= rtol * scale)


# --- the hand computation ------------------------------------------------------------------------

def test_hand_computed_lrp0():
    # top: contributions a_k w_k = (2, 3, 0), bias −1, z = 4 → R¹ = (2, 3, 0), the bias absorbs −1.
    # neuron 1: x_j w_j1 = (1, 1), z = 2 → (1, 1). neuron 2: (−1, 2), bias 0.5, z = 1.5, R/z = 2 → (−2, 4),
    # the bias absorbs 1. Inputs: (−1, 5); −1 + 5 + 1 − 1 = 4.
    model, x = hand_network()
    result = explain(model, x, LRP0())
    np.testing.assert_allclose(result.relevance, [[-1.0, 5.0]], rtol=1e-12)
    np.testing.assert_allclose(result.start, [4.0])
    np.testing.assert_allclose([result.bias["hidden0"][0], result.bias["top"][0]], [1.0, -1.0], rtol=1e-12)
    np.testing.assert_allclose(result.absorbed(), [0.0], atol=1e-12)


def test_hand_computed_epsilon():
    # ε = 1. top: s = 4/5 → R¹ = (1.6, 2.4, 0), bias −0.8, ε absorbs 0.8.
    # neuron 1: s = 1.6/3 → (8/15, 8/15), ε absorbs 8/15. neuron 2: s = 2.4/2.5 = 0.96 → (−0.96, 1.92),
    # bias 0.48, ε absorbs 0.96. Inputs: (8/15 − 0.96, 8/15 + 1.92) = (−32/75, 184/75).
    model, x = hand_network()
    result = explain(model, x, Epsilon(1.0))
    np.testing.assert_allclose(result.relevance, [[-32 / 75, 184 / 75]], rtol=1e-12)
    np.testing.assert_allclose([result.bias["hidden0"][0], result.bias["top"][0]], [0.48, -0.8], rtol=1e-12)
    np.testing.assert_allclose([result.stabilizer["hidden0"][0], result.stabilizer["top"][0]], [8 / 15 + 0.96, 0.8],
                               rtol=1e-12)


def test_hand_computed_zplus():
    # top: w⁺ = (1, 2, 3), contributions (2, 3, 0), b⁺ = 0 → s = 4/5, R¹ = (1.6, 2.4, 0).
    # neuron 1: w⁺ = (1, 0.5) → (1, 1)/2 · 1.6 = (0.8, 0.8). neuron 2: w⁺ = (0, 1) → (0, 2), b⁺ = 0.5,
    # s = 2.4/2.5 → (0, 1.92), bias 0.48. Inputs (0.8, 2.72).
    model, x = hand_network()
    result = explain(model, x, ZPlus())
    np.testing.assert_allclose(result.relevance, [[0.8, 2.72]], rtol=1e-12)
    np.testing.assert_allclose([result.bias["hidden0"][0], result.bias["top"][0]], [0.48, 0.0], atol=1e-12)


def test_hand_computed_alpha2_beta1():
    # top: positive contributions (2, 3, 0) sum 5, the only negative one is the bias −1.
    # α: 2·4·(2, 3, 0)/5 = (3.2, 4.8, 0); β: −1·4·(−1)/(−1) = −4 absorbed by the bias.
    # neuron 1 (R = 3.2): contributions (1, 1), nothing negative → α gives (3.2, 3.2), and the β-term
    # −3.2 has nowhere to go: reported as stabilizer. neuron 2 (R = 4.8): positive (0, 2) + bias 0.5
    # sum 2.5 → α: (0, 7.68), bias 1.92; negative (−1, 0) sum −1 → −β: (−4.8, 0).
    # Inputs (−1.6, 10.88); −1.6 + 10.88 + (1.92 − 4) − 3.2 = 4.
    model, x = hand_network()
    result = explain(model, x, AlphaBeta(2, 1))
    np.testing.assert_allclose(result.relevance, [[-1.6, 10.88]], rtol=1e-12)
    np.testing.assert_allclose([result.bias["hidden0"][0], result.bias["top"][0]], [1.92, -4.0], rtol=1e-12)
    np.testing.assert_allclose(result.stabilizer["hidden0"], [-3.2], rtol=1e-12)


# --- an independent implementation: per-neuron loops over the published formulas -----------------

def _sign(z):
    return 1.0 if z >= 0 else -1.0


def reference_layer(a, W, b, R, rule):
    """One dense layer, one sample: (R_in, bias share, stabilizer share) by loops over every neuron k."""
    J, K = W.shape
    R_in, bias_share, stabilizer_share = [0.0] * J, 0.0, 0.0
    for k in range(K):
        if isinstance(rule, AlphaBeta):
            z = [a[j] * W[j, k] for j in range(J)]
            sides = [(rule.alpha, [max(c, 0.0) for c in z], max(b[k], 0.0)),
                     (-rule.beta, [min(c, 0.0) for c in z], min(b[k], 0.0))]
            for coef, contributions, bias in sides:
                total = sum(contributions) + bias
                if total == 0:
                    stabilizer_share += coef * R[k]
                    continue
                for j in range(J):
                    R_in[j] += coef * contributions[j] / total * R[k]
                bias_share += coef * bias / total * R[k]
            continue
        if isinstance(rule, Gamma):  # the supporting sign of w strengthened, by the sign of the input
            w = [W[j, k] + rule.gamma * (max(W[j, k], 0.0) if a[j] >= 0 else min(W[j, k], 0.0)) for j in range(J)]
            bias = b[k] + rule.gamma * max(b[k], 0.0)
        elif isinstance(rule, ZPlus):
            w, bias = [max(W[j, k], 0.0) for j in range(J)], max(b[k], 0.0)
        else:
            w, bias = [W[j, k] for j in range(J)], b[k]
        z = sum(a[j] * w[j] for j in range(J)) + bias
        denominator = z + rule.epsilon * _sign(z) if isinstance(rule, Epsilon) else z
        if denominator == 0:
            stabilizer_share += R[k]
            continue
        for j in range(J):
            R_in[j] += a[j] * w[j] / denominator * R[k]
        bias_share += bias / denominator * R[k]
        stabilizer_share += (denominator - z) / denominator * R[k]
    return np.array(R_in), bias_share, stabilizer_share


def reference_explain(model, x, rules, start="logit"):
    """LRP of the largest (or only) output of one sample; ``rules`` has one rule per layer."""
    params = [(*layer.get_weights(), keras.activations.serialize(layer.activation)) for layer in model.layers]
    activations = [list(x)]
    for W, b, act in params:
        z = [sum(activations[-1][j] * W[j, k] for j in range(W.shape[0])) + b[k] for k in range(W.shape[1])]
        activations.append([ACTIVATIONS[act](v) for v in z])
    top = z if start == "logit" else activations[-1]
    R = np.zeros(len(top))
    R[int(np.argmax(top))] = top[int(np.argmax(top))]
    shares = []
    for (W, b, _), a, rule in reversed(list(zip(params, activations, rules))):
        R, bias_share, stabilizer_share = reference_layer(a, W, b, R, rule)
        shares.append((bias_share, stabilizer_share))
    return R, shares[::-1]


@pytest.mark.parametrize("rule", RULES, ids=repr)
@pytest.mark.parametrize("shape", SHAPES[:3], ids=str)
def test_agrees_with_per_neuron_loops(rule, shape):
    n_in, hidden, n_out, last = shape
    model = dense_net(1, n_in, hidden, n_out, last)
    X = np.random.default_rng(2).normal(size=(3, n_in))
    result = explain(model, X, rule)
    for i, x in enumerate(X):
        R, shares = reference_explain(model, x, [rule] * len(model.layers))
        np.testing.assert_allclose(result.relevance[i], R, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose([result.bias[layer.name][i] for layer in model.layers], [s[0] for s in shares],
                                   rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose([result.stabilizer[layer.name][i] for layer in model.layers],
                                   [s[1] for s in shares], rtol=1e-9, atol=1e-12)


def test_composite_applies_each_layer_its_rule():
    model = dense_net(3, 5, [6, 6, 4], 1, "sigmoid")
    X = np.random.default_rng(4).normal(size=(3, 5))
    composite = Composite({0: Gamma(0.5), "top": LRP0(), -2: AlphaBeta(2, 1)}, default=Epsilon(0.2))
    result = explain(model, X, composite, start="output")
    for i, x in enumerate(X):
        R, _ = reference_explain(model, x, [Gamma(0.5), Epsilon(0.2), AlphaBeta(2, 1), LRP0()], start="output")
        np.testing.assert_allclose(result.relevance[i], R, rtol=1e-9, atol=1e-12)
    assert_conserved(result)


# --- conservation ---------------------------------------------------------------------------------

@pytest.mark.parametrize("rule", [*RULES, Composite({0: ZPlus(), -1: LRP0()}, default=Epsilon(0.5))], ids=repr)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("start", ["logit", "output"])
def test_conservation_float64(rule, shape, start):
    n_in, hidden, n_out, last = shape
    model = dense_net(5, n_in, hidden, n_out, last, inner="tanh" if last == "tanh" else "relu")
    X = np.random.default_rng(6).normal(size=(20, n_in))
    result = explain(model, X, rule, start=start)
    assert result.relevance.dtype == np.float64
    assert_conserved(result)


def test_start_is_logit_or_output_of_the_explained_unit():
    model = dense_net(7, 4, [5], 1, "sigmoid")
    X = np.random.default_rng(8).normal(size=(6, 4))
    logit = np.asarray(model.layers[0](X)) @ model.layers[1].kernel.numpy() + model.layers[1].bias.numpy()
    np.testing.assert_allclose(explain(model, X, LRP0()).start, logit.ravel(), rtol=1e-12)
    np.testing.assert_allclose(explain(model, X, LRP0(), start="output").start, 1 / (1 + np.exp(-logit.ravel())),
                               rtol=1e-12)


def test_output_selection():
    model = dense_net(9, 4, [5], 3)
    X = np.random.default_rng(10).normal(size=(8, 4))
    top = np.asarray(model(X))
    np.testing.assert_array_equal(explain(model, X, LRP0()).output, top.argmax(axis=1))
    chosen = explain(model, X, LRP0(), output=2)
    np.testing.assert_allclose(chosen.start, top[:, 2], rtol=1e-12)
    with pytest.raises(ValueError, match="output"):
        explain(model, X, LRP0(), output=3)


def test_functional_chain_equals_sequential():
    X = np.random.default_rng(11).normal(size=(4, 3))
    sequential = explain(dense_net(12, 3, [4, 4], 1), X, AlphaBeta(2, 1))
    functional = explain(dense_net(12, 3, [4, 4], 1, functional=True), X, AlphaBeta(2, 1))
    np.testing.assert_allclose(functional.relevance, sequential.relevance, rtol=1e-12)


def test_module_3_classifier_from_its_logit():
    model = cmb_classifier.build(10, hidden=(16, 16))  # float32, Dense(relu) → Dense(relu) → Dense(sigmoid)
    X = np.random.default_rng(13).normal(size=(30, 10))
    result = explain(model, X, Composite({0: Gamma(0.25), -1: LRP0()}, default=Epsilon(0.01)))
    assert result.relevance.dtype == np.float32
    p = np.asarray(model(X.astype("float32"))).ravel()
    np.testing.assert_allclose(result.start, np.log(p / (1 - p)), rtol=1e-4, atol=1e-5)
    assert_conserved(result, rtol=1e-4)


# --- identities -----------------------------------------------------------------------------------

def test_lrp0_is_gradient_times_input_for_zero_bias_relu_networks():
    model = dense_net(14, 6, [8, 8], 1, zero_bias=True)
    X = np.random.default_rng(15).normal(size=(10, 6))
    result = explain(model, X, LRP0())
    np.testing.assert_allclose(result.relevance, gradient_times_input(model, X), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(result.absorbed(), 0.0, atol=1e-12)


def test_epsilon_tends_to_lrp0():
    model = dense_net(16, 5, [6, 6], 1)
    X = np.random.default_rng(17).normal(size=(10, 5))
    exact = explain(model, X, LRP0()).relevance
    for eps, tolerance in [(1e-3, 1e-1), (1e-9, 1e-6)]:
        np.testing.assert_allclose(explain(model, X, Epsilon(eps)).relevance, exact, rtol=tolerance,
                                   atol=tolerance * np.abs(exact).max())


def test_zplus_is_alpha1_beta0_on_nonnegative_inputs():
    model = dense_net(18, 5, [7, 7], 2)
    X = np.abs(np.random.default_rng(19).normal(size=(10, 5)))
    zplus, alpha_beta = explain(model, X, ZPlus()), explain(model, X, AlphaBeta(1, 0))
    np.testing.assert_allclose(zplus.relevance, alpha_beta.relevance, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(zplus.absorbed(), alpha_beta.absorbed(), rtol=1e-12, atol=1e-14)


# --- errors and extension -------------------------------------------------------------------------

def test_rules_check_their_parameters():
    with pytest.raises(ValueError, match="α − β = 1"):
        AlphaBeta(2, 0)
    with pytest.raises(ValueError, match="epsilon"):
        Epsilon(-1)
    with pytest.raises(ValueError, match="gamma"):
        Gamma(-0.1)


def test_composite_errors():
    model, x = hand_network()
    with pytest.raises(ValueError, match="named 'nope'"):
        explain(model, x, Composite({"nope": LRP0()}, default=LRP0()))
    with pytest.raises(ValueError, match="out of range"):
        explain(model, x, Composite({2: LRP0()}, default=LRP0()))
    with pytest.raises(ValueError, match="two rules"):
        explain(model, x, Composite({1: LRP0(), "top": ZPlus()}, default=LRP0()))


def test_unsupported_layer_is_named():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"),
                              keras.layers.LayerNormalization(name="norm"), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="'norm' \\(LayerNormalization\\)"):
        explain(model, np.ones((2, 3)), LRP0())


def test_unsupported_activation_is_named_unless_it_is_stripped():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="elu", name="hidden"),
                              keras.layers.Dense(2, activation="softmax")])
    with pytest.raises(ValueError, match="'hidden' uses 'elu'"):
        explain(model, np.ones((2, 3)), LRP0())
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"),
                              keras.layers.Dense(2, activation="softmax", name="probabilities")])
    assert_conserved(explain(model, np.ones((2, 3)), LRP0()), rtol=1e-4)  # the logit: softmax stripped
    with pytest.raises(ValueError, match="'probabilities' uses 'softmax'"):
        explain(model, np.ones((2, 3)), LRP0(), start="output")


def test_branched_and_subclassed_models_are_refused():
    inputs = keras.Input((3,))
    a, b = keras.layers.Dense(2)(inputs), keras.layers.Dense(2)(inputs)
    branched = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Add(name="merge")([a, b])))
    with pytest.raises(ValueError, match="chains of layers"):
        explain(branched, np.ones((2, 3)), LRP0())

    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)

        def call(self, x):
            return self.dense(x)

    model = Subclassed()
    model(np.ones((1, 3)))
    with pytest.raises(ValueError, match="Sequential or functional"):
        explain(model, np.ones((2, 3)), LRP0())


class Scale(keras.layers.Layer):
    """An elementwise layer LRP does not know: relevance should pass through it unchanged."""

    def call(self, x):
        return 2.0 * x


def test_a_new_layer_type_plugs_in(monkeypatch):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu", dtype="float64"),
                              Scale(dtype="float64", name="scale"), keras.layers.Dense(1, dtype="float64")])
    X = np.random.default_rng(20).normal(size=(5, 3))
    with pytest.raises(ValueError, match="'scale' \\(Scale\\)"):
        explain(model, X, LRP0())
    monkeypatch.setattr(backward, "_BACKWARD", dict(backward._BACKWARD))
    backward.register_backward(Scale, takes_rule=False)(lambda layer, a_in, R_out, rule: backward.Backward(R_out))
    result = explain(model, X, Composite({-1: ZPlus()}, default=LRP0()))
    assert list(result.bias) == [model.layers[0].name, model.layers[2].name]
    assert_conserved(result)


def _one_layer(kernel, bias=None):
    """A float64 network of one linear dense layer with the given weights."""
    kernel = np.asarray(kernel, dtype=float)
    model = keras.Sequential([keras.Input((kernel.shape[0],), dtype="float64"),
                              keras.layers.Dense(kernel.shape[1], dtype="float64")])
    model.layers[0].kernel.assign(kernel)
    model.layers[0].bias.assign(np.zeros(kernel.shape[1]) if bias is None else np.asarray(bias, float))
    return model


def test_gamma_strengthens_support_whatever_the_input_sign():
    """The review's case: inputs (−1, −2), weights (1, −1). The second contribution (+2) supports
    the neuron, the first (−1) contradicts it; γ must shift relevance towards the supporter."""
    model = _one_layer([[1.0], [-1.0]])
    x = np.array([[-1.0, -2.0]])
    np.testing.assert_allclose(explain(model, x, LRP0()).relevance, [[-1.0, 2.0]], rtol=1e-12)
    # By hand: negative inputs take w + γw⁻: (1, −1.25); contributions (−1, 2.5), sum 1.5, R = 1.
    np.testing.assert_allclose(explain(model, x, Gamma(0.25)).relevance, [[-1 / 1.5, 2.5 / 1.5]], rtol=1e-12)
    # Mixed signs: x = (2, −1), w = (1, 1): contributions 2 (support) and −1 (against), z = 1;
    # w + γw⁺ for x ≥ 0 and w + γw⁻ = w for x < 0: (2.5, −1), sum 1.5.
    model = _one_layer([[1.0], [1.0]])
    np.testing.assert_allclose(explain(model, np.array([[2.0, -1.0]]), Gamma(0.25)).relevance,
                               [[2.5 / 1.5, -1 / 1.5]], rtol=1e-12)


def test_input_layer_rules_by_hand():
    W = np.array([[1.0, -2.0], [3.0, 0.5]])
    model = _one_layer(W, bias=[0.7, -0.3])
    x = np.array([[0.5, -1.0]])
    low, high = np.array([-1.0, -2.0]), np.array([1.0, 2.0])
    z = x.T * W - low[:, None] * np.maximum(W, 0) - high[:, None] * np.minimum(W, 0)  # (J, K) terms, all ≥ 0
    assert (z >= 0).all()
    logits = x @ W + np.array([0.7, -0.3])
    R0 = explain(model, x, ZBox(low, high), output=0)
    np.testing.assert_allclose(R0.relevance[0], z[:, 0] / z[:, 0].sum() * logits[0, 0], rtol=1e-12)
    np.testing.assert_allclose(R0.relevance.sum(), logits[0, 0], rtol=1e-12)  # no bias share: all reaches the inputs
    flat = explain(model, x, Flat(), output=1)
    np.testing.assert_allclose(flat.relevance[0], [logits[0, 1] / 2] * 2, rtol=1e-12)
    squared = explain(model, x, WSquare(), output=1)
    np.testing.assert_allclose(squared.relevance[0], W[:, 1] ** 2 / (W[:, 1] ** 2).sum() * logits[0, 1], rtol=1e-12)
    assert np.all(R0.relevance * logits[0, 0] >= 0)  # z^B never flips the sign of relevance
