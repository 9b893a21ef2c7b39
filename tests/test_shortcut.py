"""The planted shortcut of course.data.shortcut: it leaks the label where asked, nowhere else, and
leaves the data alone."""
import numpy as np
import pytest
from scipy.stats import chi2_contingency, pearsonr

from course.data import cmb
from course.data.shortcut import plant_shortcut

COLUMNS = [75, 76, 77, 78, 79]


@pytest.fixture(scope="module")
def data():
    d = cmb.load()
    return d.features(), d.labels


def _implied_sign(original, planted, columns):
    # Read the nuisance back from the data alone: the ratio of the planted columns to the original ones.
    ratio = planted[:, columns] / original[:, columns]
    return np.sign(ratio.mean(axis=1) - 1.0)


def test_leaky_copy_predicts_the_label_at_the_agreement_asked(data):
    X, labels = data
    leaky = plant_shortcut(X, labels, COLUMNS, scale=0.01, agreement=0.9, seed=3)
    sign = _implied_sign(X, leaky.features, COLUMNS)
    assert np.array_equal(sign, leaky.sign)
    accuracy = np.mean((sign > 0) == (labels == 1))  # the nuisance alone as a classifier
    n = len(labels)
    assert abs(accuracy - 0.9) < 4 * np.sqrt(0.9 * 0.1 / n)  # binomial: 4 standard errors
    assert pearsonr(sign, labels)[0] > 0.7


def test_clean_copy_is_independent_of_the_label(data):
    X, labels = data
    clean = plant_shortcut(X, labels, COLUMNS, scale=0.01, agreement=0.9, leak=False, seed=4)
    sign = _implied_sign(X, clean.features, COLUMNS)
    table = np.array([[np.sum((sign == s) & (labels == c)) for c in (0, 1)] for s in (-1, 1)])
    assert chi2_contingency(table).pvalue > 0.01  # no detectable dependence of sign on label
    leaky = plant_shortcut(X, labels, COLUMNS, scale=0.01, agreement=0.9, seed=4)
    assert sorted(clean.sign) == sorted(leaky.sign)  # same nuisance distribution, shuffled


def test_only_the_planted_columns_change_by_the_factor_asked(data):
    X, labels = data
    before = X.copy()
    leaky = plant_shortcut(X, labels, COLUMNS, scale=0.02, agreement=0.8, seed=5)
    assert np.array_equal(X, before), "the input was modified"
    others = np.setdiff1d(np.arange(X.shape[1]), COLUMNS)
    assert np.array_equal(leaky.features[:, others], X[:, others])
    expected = X[:, COLUMNS] * (1 + 0.02 * leaky.sign[:, None])
    assert np.allclose(leaky.features[:, COLUMNS], expected, rtol=1e-12)
    assert set(np.unique(leaky.sign)) == {-1, 1}


def test_full_agreement_and_bad_arguments():
    labels = np.array([0, 1, 1, 0])
    assert plant_shortcut(np.ones((4, 2)), labels, [0], scale=0.5).sign.tolist() == [-1, 1, 1, -1]
    assert plant_shortcut(np.ones((4, 2)), labels, [0], scale=0.5, agreement=0.0).sign.tolist() == [1, -1, -1, 1]
    with pytest.raises(ValueError):
        plant_shortcut(np.ones((4, 2)), labels, [0], scale=0.5, agreement=1.5)
    with pytest.raises(ValueError):
        plant_shortcut(np.ones((4, 2)), np.array([0, 2, 1, 0]), [0], scale=0.5)
