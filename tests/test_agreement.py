"""Agreement measures against scipy's Spearman correlation and hand-counted top-k sets."""
import numpy as np
import pytest
from scipy.stats import spearmanr

from course.explain.agreement import agreement_table, rank_agreement, top_k_overlap


def test_rank_agreement_is_spearman_of_the_signed_values_per_row():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20, 7))
    b = a + rng.normal(0, 0.7, size=a.shape)
    b[3, :4] = b[3, 0]  # ties get average ranks, as in scipy
    expected = [spearmanr(x, y).statistic for x, y in zip(a, b)]
    np.testing.assert_allclose(rank_agreement(a, b), expected, rtol=1e-12)


def test_rank_agreement_by_hand():
    a = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [-3.0, 0.0, 1.0]])
    b = np.array([[10.0, 20.0, 30.0], [3.0, 2.0, 1.0], [3.0, 0.0, 1.0]])
    # Same order; reversed; ranks (1, 2, 3) vs (3, 1, 2): signs matter, not |value|.
    np.testing.assert_allclose(rank_agreement(a, b), [1.0, -1.0, -0.5])


def test_constant_rows_give_nan():
    result = rank_agreement(np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 3.0]]), np.array([[1.0, 2.0, 3.0]] * 2))
    assert np.isnan(result[0]) and result[1] == pytest.approx(1.0)


def test_top_k_overlap_by_hand():
    a = np.array([[5.0, -4.0, 0.1, 3.0], [1.0, 2.0, 3.0, 4.0]])
    b = np.array([[-9.0, 0.0, 8.0, 7.0], [4.0, 3.0, 2.0, 1.0]])
    # Row 0: top 2 of |a| = {0, 1}, of |b| = {0, 2}; top 3: {0, 1, 3} and {0, 2, 3}.
    # Row 1: top 2 {2, 3} vs {0, 1}; top 3: {1, 2, 3} vs {0, 1, 2}.
    np.testing.assert_allclose(top_k_overlap(a, b, 2), [0.5, 0.0])
    np.testing.assert_allclose(top_k_overlap(a, b, 3), [2 / 3, 2 / 3])
    np.testing.assert_allclose(top_k_overlap(a, b, 4), [1.0, 1.0])
    np.testing.assert_allclose(top_k_overlap(a, -a, 2), [1.0, 1.0])  # sign does not matter


def test_table_is_symmetric_with_unit_diagonal_and_means_over_samples():
    rng = np.random.default_rng(1)
    exact = rng.normal(size=(15, 6))
    methods = {"exact": exact, "noisy": exact + rng.normal(0, 0.5, exact.shape), "random": rng.normal(size=(15, 6))}
    for measure in (rank_agreement, lambda a, b: top_k_overlap(a, b, 2)):
        table = agreement_table(methods, measure)
        assert list(table.index) == list(table.columns) == list(methods)
        np.testing.assert_allclose(table.to_numpy(), table.to_numpy().T, rtol=1e-12)
        np.testing.assert_allclose(np.diag(table.to_numpy()), 1.0)
        assert table.loc["exact", "noisy"] == pytest.approx(np.mean(measure(exact, methods["noisy"])))
        assert table.loc["exact", "noisy"] > table.loc["exact", "random"]


def test_table_leaves_out_undefined_samples():
    a = np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 3.0]])
    table = agreement_table({"a": a, "b": np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])})
    assert table.loc["a", "b"] == pytest.approx(-1.0)  # only the second sample has a ranking in a


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="a and b must be"):
        rank_agreement(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="k must be between 1 and the number of features"):
        top_k_overlap(np.zeros((2, 3)), np.zeros((2, 3)), 4)
