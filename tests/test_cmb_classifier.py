"""The shared CMB classifier: split, architecture, scaling and seeded training."""
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from course.models import cmb_classifier


def test_split_is_disjoint_complete_and_stratified():
    labels = np.repeat([0, 1], [300, 100])
    train, val = cmb_classifier.split(labels, seed=3)
    assert len(np.intersect1d(train, val)) == 0
    np.testing.assert_array_equal(np.union1d(train, val), np.arange(400))
    assert len(val) == 100
    assert labels[val].sum() == 25  # a quarter of each class


def test_architecture_has_the_lecture_parameter_count():
    model = cmb_classifier.build(160)
    sizes = [160, 64, 64, 1]
    assert model.count_params() == sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
    assert [layer.activation.__name__ for layer in model.layers] == ["relu", "relu", "sigmoid"]


def _blobs(n=400, d=5, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, d)) + 1.5 * y[:, None]
    X[:, 0] *= 1000.0  # one badly scaled column, as raw band powers are
    return X, y


def test_training_separates_blobs_and_scaler_sees_training_data_only():
    X, y = _blobs()
    trained = cmb_classifier.train(X[:300], y[:300], X[300:], y[300:], epochs=60, hidden=(16,))
    reference = LogisticRegression().fit(X[:300] / X[:300].std(0), y[:300]).decision_function(X[300:] / X[:300].std(0))
    np.testing.assert_allclose(trained.scaler.mean_, X[:300].mean(0))
    scores = trained.scores(X[300:])
    assert scores.shape == (100,) and np.all((scores >= 0) & (scores <= 1))
    assert roc_auc_score(y[300:], scores) > roc_auc_score(y[300:], reference) - 0.03  # near-optimal: linear
    assert trained.auc(X[300:], y[300:]) == roc_auc_score(y[300:], scores)
    assert len(trained.history["loss"]) == 60 and trained.history["loss"][-1] < trained.history["loss"][0]


def test_same_seed_same_network_other_seed_other_network():
    X, y = _blobs(n=120)
    runs = [cmb_classifier.train(X, y, epochs=2, hidden=(4,), seed=s).scores(X) for s in (5, 5, 6)]
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-6)
    assert not np.allclose(runs[0], runs[2])
