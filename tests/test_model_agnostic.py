"""shap's and lime's explainers against exact Shapley values (course.explain.shapley) and closed forms.

The first shap call in a process compiles shap's numba code (~10 s); the rest takes a few seconds."""
import subprocess
import sys
import warnings

import numpy as np
import pytest

from course.explain.model_agnostic import lime_values, shap_values
from course.explain.shapley import exact_shapley, linear_shapley


def mlp(d: int, seed: int = 0, hidden: int = 16):
    rng = np.random.default_rng(seed)
    W1, b1, W2 = rng.normal(size=(d, hidden)), rng.normal(size=hidden), rng.normal(size=hidden)
    return lambda A: np.tanh(A @ W1 + b1) @ W2


@pytest.fixture(scope="module")
def network():
    """An 8-feature network, 5 samples, 10 background rows and their exact Shapley values."""
    predict = mlp(8, seed=1)
    rng = np.random.default_rng(1)
    X, background = rng.normal(size=(5, 8)), rng.normal(size=(10, 8))
    return predict, X, background, exact_shapley(predict, X, background).values


def test_shap_exact_explainer_equals_exact_shapley(network):
    predict, X, background, exact = network
    np.testing.assert_allclose(shap_values(predict, X, background, "exact"), exact, rtol=1e-10, atol=1e-10)
    column = shap_values(lambda A: predict(A)[:, None], X, background[0], "exact")  # (rows, 1), one baseline
    np.testing.assert_allclose(column, exact_shapley(predict, X, background[0]).values, rtol=1e-10, atol=1e-10)


def test_the_whole_background_is_used_not_shaps_default_100_rows():
    predict = mlp(4, seed=6)
    rng = np.random.default_rng(6)
    X, background = rng.normal(size=(2, 4)), rng.normal(size=(150, 4))
    np.testing.assert_allclose(shap_values(predict, X, background, "exact"),
                               exact_shapley(predict, X, background).values, rtol=1e-10, atol=1e-10)


def test_permutation_converges_to_exact(network):
    predict, X, background, exact = network
    errors = {evals: np.abs(shap_values(predict, X, background, "permutation", max_evals=evals) - exact).max()
              for evals in (170, 5000)}
    # Measured with seeds 0 and 1 (max |φ| = 4.6): 0.13-0.15 at 170 evaluations, 0.029-0.032 at 5000.
    assert errors[5000] < 0.06
    assert errors[5000] < errors[170] / 2


def test_permutation_is_exact_for_pairwise_interactions():
    # Each order is also run backwards, so a pair's interaction is split in half whatever the order:
    # one permutation (2d + 1 evaluations) is exact without interactions of three or more features.
    rng = np.random.default_rng(2)
    X, background = rng.normal(size=(4, 6)), rng.normal(size=(5, 6))
    pairwise = lambda A: A[:, 0] * A[:, 1] - 2 * A[:, 2] * A[:, 5] + A @ np.arange(6.0)
    triple = lambda A: A[:, 0] * A[:, 1] * A[:, 2]
    for predict, exact_once in ((pairwise, True), (triple, False)):
        once = shap_values(predict, X, background, "permutation", max_evals=13)
        close = np.allclose(once, exact_shapley(predict, X, background).values, rtol=1e-10, atol=1e-10)
        assert close == exact_once


def test_kernel_is_exact_when_it_enumerates_all_coalitions_and_close_otherwise(network):
    predict, X, background, exact = network
    enumerated = shap_values(predict, X, background, "kernel", nsamples=2**8 - 2)
    np.testing.assert_allclose(enumerated, exact, rtol=1e-10, atol=1e-10)
    sampled = np.abs(shap_values(predict, X, background, "kernel", nsamples=200) - exact).max()
    # Measured with seeds 0 and 1: 0.06-0.08 at 200 of the 254 coalitions, 0.2-0.3 at 50.
    assert 1e-6 < sampled < 0.15


def test_sampling_is_seeded_and_leaves_the_global_random_state_alone(network):
    predict, X, background, _ = network
    for algorithm, kwargs in (("permutation", {"max_evals": 170}), ("kernel", {"nsamples": 50})):
        np.random.seed(123)
        before = np.random.get_state()[1].copy()
        first = shap_values(predict, X, background, algorithm, seed=4, **kwargs)
        np.testing.assert_array_equal(np.random.get_state()[1], before)
        np.testing.assert_array_equal(shap_values(predict, X, background, algorithm, seed=4, **kwargs), first)
        assert not np.allclose(shap_values(predict, X, background, algorithm, seed=5, **kwargs), first)


@pytest.fixture(scope="module")
def linear():
    """f = w·x + c, samples off the training mean, and training features of different means and scales."""
    rng = np.random.default_rng(3)
    w = rng.normal(size=5)
    training = rng.normal(size=(300, 5)) * [1.0, 2.0, 3.0, 0.5, 1.0] + [1.0, -2.0, 0.0, 4.0, 0.5]
    return (lambda A: A @ w + 0.7), w, rng.normal(size=(6, 5)), training


def test_lime_attributions_of_a_linear_model_are_its_shapley_values(linear):
    predict, w, X, training = linear
    lime = lime_values(predict, X, training, num_samples=500, ridge_alpha=0.0)
    np.testing.assert_allclose(lime.attributions, linear_shapley(w, X, training), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(lime.coefficients, np.tile(w * training.std(axis=0), (6, 1)), rtol=1e-6)
    np.testing.assert_allclose(lime.intercept, np.full(6, predict(training).mean()), rtol=1e-6)
    np.testing.assert_allclose(lime.local_r2, 1.0, atol=1e-9)


def test_lime_default_ridge_shrinks_the_coefficients_most_far_from_the_training_mean(linear):
    # lime samples around the training mean but weights the samples by closeness to x: the further x
    # lies from the mean, the smaller the total weight, and the more lime's ridge penalty (1) dominates.
    predict, w, X, training = linear
    exact = np.linalg.norm(w * training.std(axis=0))
    near = lime_values(predict, training[:6], training, num_samples=500)  # 1.3-4.1 σ from the mean
    far = lime_values(predict, X, training, num_samples=500)  # 4.7-9.9 σ from the mean
    shrinkage = {name: np.linalg.norm(lime.coefficients, axis=1) / exact for name, lime in (("near", near),
                                                                                             ("far", far))}
    # Measured: 0.95-0.99 near (R² > 0.997); 0.0005-0.9 far, with R² as low as 0.002.
    assert np.all((0.9 < shrinkage["near"]) & (shrinkage["near"] < 1)) and np.all(near.local_r2 > 0.99)
    assert np.all(shrinkage["far"] < 1) and shrinkage["far"].min() < 0.01 and far.local_r2.min() < 0.01


def test_lime_is_seeded(linear):
    predict, _, X, training = linear
    noisy = lambda A: predict(A) + np.sin(3 * A[:, 0])
    first = lime_values(noisy, X[:2], training, num_samples=300, seed=1)
    np.testing.assert_array_equal(lime_values(noisy, X[:2], training, num_samples=300, seed=1).coefficients,
                                  first.coefficients)
    assert not np.allclose(lime_values(noisy, X[:2], training, num_samples=300, seed=2).coefficients,
                           first.coefficients)


def test_nothing_on_stdout_or_stderr(network, linear, capfd, caplog):
    # nbgrader counts output on stderr as a failed cell. 150 background rows make shap's Kernel
    # explainer log a warning about its run time, which pytest would catch before it reached stderr
    # (caplog); lime is run on a non-linear model.
    predict, X, _, _ = network
    background = np.random.default_rng(5).normal(size=(150, 8))
    capfd.readouterr()
    for algorithm in ("exact", "permutation", "kernel"):
        shap_values(predict, X[:1], background[:20] if algorithm == "exact" else background, algorithm)
    lime_values(predict, X[:2], background, num_samples=200)
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""
    assert not caplog.records


def test_no_warnings_escape(network):
    # Too few coalitions make shap's Kernel regression singular, and it warns; importing shap warns
    # about its matplotlib colour maps.
    predict, X, background, _ = network
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        shap_values(predict, X[:1], background, "kernel", nsamples=5)
    subprocess.run([sys.executable, "-W", "error", "-c", "import course.explain.model_agnostic"], check=True)


def test_errors_name_the_argument(linear):
    predict, _, X, training = linear
    with pytest.raises(ValueError, match="algorithm must be one of"):
        shap_values(predict, X, training[:5], "tree")
    with pytest.raises(ValueError, match="background must be"):
        shap_values(predict, X, training[:5, :3])
    with pytest.raises(ValueError, match="training must be"):
        lime_values(predict, X, training[:, :4])
    with pytest.raises(ValueError, match="num_samples"):
        lime_values(predict, X, training, num_samples=1)
