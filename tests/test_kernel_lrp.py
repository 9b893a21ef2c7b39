"""LRP of KRR models (course.explain.kernel_lrp) against hand computations, closed forms and scikit-learn."""
import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn.metrics.pairwise import laplacian_kernel, linear_kernel, polynomial_kernel, rbf_kernel

from course.explain import KernelRelevance, bag_names, explain_krr, sum_per_bag
from course.explain.attribution import Attribution
from course.models.krr import KRR

SIGMA = 2.5
DISTANCE = {"laplacian": "cityblock", "gaussian": "sqeuclidean"}


def sklearn_kernel(kernel: str, A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """The course's kernels written in scikit-learn's parametrization (krr.py's σ convention)."""
    if kernel == "laplacian":
        return laplacian_kernel(A, B, gamma=1 / SIGMA)
    if kernel == "gaussian":
        return rbf_kernel(A, B, gamma=1 / (2 * SIGMA ** 2))
    if kernel == "polynomial":
        return polynomial_kernel(A, B, degree=2, gamma=1.0, coef0=1.0)
    return linear_kernel(A, B)


def fitted(kernel: str, center: bool = True, n: int = 30, d: int = 5, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.sin(X).sum(1) + 3.0
    sigma = SIGMA if kernel in ("laplacian", "gaussian") else None
    return KRR(kernel, sigma=sigma, lam=1e-2, center=center).fit(X, y), rng.normal(size=(7, d))


def test_the_result_is_an_attribution():
    assert issubclass(KernelRelevance, Attribution)


@pytest.mark.parametrize("kernel", ["laplacian", "gaussian", "linear", "polynomial"])
@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_relevance_and_absorbed_add_up_to_the_prediction_on_random_data(kernel, eps):
    model, X = fitted(kernel)
    split = explain_krr(model, X, eps=eps)
    np.testing.assert_allclose(split.start, model.predict(X))
    np.testing.assert_allclose(split.completeness_gap(), 0.0, atol=1e-10)
    np.testing.assert_allclose(split.attributed() + split.stabilizer["first"] + split.bias["first"],
                               model.predict(X) - model.offset_, atol=1e-10)
    np.testing.assert_allclose(split.bias["output"], model.offset_)
    if eps == 0.0:
        np.testing.assert_allclose(split.stabilizer["first"], 0.0, atol=1e-10)
    # The ε share by hand: Σ_j R_j ε·sign(s_j) / (s_j + ε·sign(s_j)), s_j the first layer's sum from scipy/numpy.
    s = cdist(X, model.X_, DISTANCE[kernel]) if kernel in DISTANCE else X @ model.X_.T + (kernel == "polynomial")
    stabilized = eps * np.sign(s)
    np.testing.assert_allclose(split.stabilizer["first"], (split.training * stabilized / (s + stabilized)).sum(1),
                               atol=1e-12)


@pytest.mark.parametrize("kernel", ["laplacian", "gaussian", "linear", "polynomial"])
def test_the_training_molecule_layer_is_a_j_times_the_kernel_value_of_scikit_learn(kernel):
    model, X = fitted(kernel)
    split = explain_krr(model, X)
    np.testing.assert_allclose(split.training, model.alpha_[None, :] * sklearn_kernel(kernel, X, model.X_),
                               rtol=1e-12, atol=1e-14)


def test_one_training_molecule_laplacian_by_hand():
    # f(x) = a·exp(−(|1−0| + |−3−0|)/σ) with a = y/(1 + λ); the L1 distance splits 1 : 3.
    model = KRR("laplacian", sigma=2.0, lam=0.5).fit(np.array([[0.0, 0.0]]), np.array([3.0]))
    split = explain_krr(model, np.array([[1.0, -3.0]]))
    value = 3.0 / 1.5 * np.exp(-4.0 / 2.0)
    np.testing.assert_allclose(split.relevance, [[value / 4, 3 * value / 4]])
    np.testing.assert_allclose(split.training, [[value]])


def test_one_training_molecule_gaussian_shares_the_squared_distance_by_hand():
    model = KRR("gaussian", sigma=1.0, lam=0.0).fit(np.array([[1.0, 1.0, 1.0]]), np.array([2.0]))
    split = explain_krr(model, np.array([[2.0, 1.0, -1.0]]))  # squared differences 1, 0, 4
    value = 2.0 * np.exp(-5.0 / 2.0)
    np.testing.assert_allclose(split.relevance, [[value / 5, 0.0, 4 * value / 5]])


def test_a_dimension_in_which_no_training_molecule_differs_gets_nothing():
    rng = np.random.default_rng(3)
    X = np.column_stack([rng.normal(size=20), np.full(20, 0.7), rng.normal(size=20)])
    model = KRR("laplacian", sigma=1.0, lam=1e-3).fit(X, rng.normal(size=20))
    test = np.column_stack([rng.normal(size=4), np.full(4, 0.7), np.zeros(4)])
    split = explain_krr(model, test)
    assert np.all(split.relevance[:, 1] == 0.0)


def test_only_one_dimension_differs_so_it_gets_the_whole_prediction():
    X = np.array([[0.0, 5.0], [2.0, 5.0], [-1.0, 5.0]])
    model = KRR("laplacian", sigma=1.5, lam=1e-3).fit(X, np.array([1.0, -2.0, 0.5]))
    split = explain_krr(model, np.array([[0.5, 5.0]]))
    np.testing.assert_allclose(split.relevance, [[model.predict(np.array([[0.5, 5.0]]))[0], 0.0]])


def test_a_sample_on_a_training_molecule_sends_its_share_to_the_stabilizer_not_to_a_dimension():
    model, _ = fitted("laplacian", center=False)
    split = explain_krr(model, model.X_[:1])
    np.testing.assert_allclose(split.stabilizer["first"], split.training[0, 0])
    assert np.all(np.isfinite(split.relevance))


def test_linear_kernel_reduces_to_gradient_times_input_by_finite_differences():
    model, X = fitted("linear", center=True)
    split = explain_krr(model, X)
    h = 1e-5
    gradient = np.stack([(model.predict(X + h * e) - model.predict(X - h * e)) / (2 * h)
                         for e in np.eye(X.shape[1])], axis=1)
    np.testing.assert_allclose(split.relevance, gradient * X, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(split.relevance, X * (model.X_.T @ model.alpha_), rtol=1e-10)  # w = Σ_j a_j x_j


def test_explaining_needs_a_fitted_model_matching_features_and_a_valid_eps():
    with pytest.raises(RuntimeError, match="fit"):
        explain_krr(KRR("laplacian", sigma=1.0), np.zeros((1, 2)))
    model, X = fitted("laplacian")
    with pytest.raises(ValueError, match="shape"):
        explain_krr(model, X[:, :2])
    with pytest.raises(ValueError, match="eps"):
        explain_krr(model, X, eps=-1.0)


def test_sum_per_bag_by_hand_and_names():
    relevance = np.array([[1.0, 2.0, 3.0, 4.0], [0.0, -1.0, 1.0, 5.0]])
    np.testing.assert_allclose(sum_per_bag(relevance, [1, 2, 1]), [[1.0, 5.0, 4.0], [0.0, 0.0, 5.0]])
    with pytest.raises(ValueError, match="shape"):
        sum_per_bag(relevance, [1, 2])
    assert bag_names([(1,), (6,), (1, 6), (6, 8), (16,)]) == ["H", "C", "H–C", "C–O", "16"]


@pytest.fixture(scope="module")
def qm9_model():
    from course.data import qm9
    from course.features.coulomb import BagOfBonds
    from course.features.qm9_vectors import vectors

    data = qm9.load(verbose=False)
    train, test = data.split(test_fold=0, usable_only=True)
    rng = np.random.default_rng(0)
    train, test = rng.choice(train, 300, replace=False), rng.choice(test, 5, replace=False)
    y = data.table.loc[train, "U0_atom_eV"].to_numpy()
    model = KRR("laplacian", sigma=1000.0, lam=1e-8, center=True).fit(vectors(data, train, "bob"), y)
    return model, BagOfBonds(unit="bohr").fit(data.Z, data.offsets), vectors(data, test, "bob")


def test_qm9_bag_of_bonds_relevance_per_bag_is_finite_and_conserves(qm9_model):
    model, bob, X_test = qm9_model
    split = explain_krr(model, X_test)
    per_bag = sum_per_bag(split.relevance, bob.bag_sizes)
    assert per_bag.shape == (len(X_test), len(bob.bags)) and np.all(np.isfinite(per_bag))
    np.testing.assert_allclose(per_bag.sum(1) + split.absorbed(), model.predict(X_test), rtol=1e-10)
    np.testing.assert_allclose(split.training.sum(1) + model.offset_, model.predict(X_test), rtol=1e-10)
    names = bag_names(bob.bags)
    assert "H–C" in names and "C" in names
