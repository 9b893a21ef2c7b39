"""Shares of relevance per feature type: the bootstrap against normal theory, the interval across models
against scipy's t interval, the verdict and the per-input normalization against hand counts."""
import numpy as np
import pytest
from scipy import stats

from course.explain.feature_types import TYPES
from course.explain.type_shares import READINGS, nonzero_inputs, per_input_relevance, zero_reference_shares
from course.stats import Interval, across_models, bootstrap, verdict
from course.features.graph import ATOM_FEATURES, FEATURE_TYPES, PAIR_FEATURES


def test_bootstrap_interval_of_a_mean_matches_normal_theory_on_a_large_sample():
    values = np.random.default_rng(3).normal(3.0, 2.0, size=20_000)
    interval = bootstrap(lambda rows: values[rows].mean(), len(values), n_resamples=2000, seed=5)
    half = stats.norm.ppf(0.975) * values.std(ddof=1) / np.sqrt(len(values))
    assert interval.estimate == pytest.approx(values.mean())
    assert interval.low == pytest.approx(values.mean() - half, abs=0.1 * half)
    assert interval.high == pytest.approx(values.mean() + half, abs=0.1 * half)


def test_bootstrap_is_seeded_and_gives_one_interval_per_entry_of_the_statistic():
    table = np.random.default_rng(0).exponential(size=(300, 12))
    first, again = (bootstrap(lambda rows: zero_reference_shares(table[rows]), 300, n_resamples=200, seed=7)
                    for _ in range(2))
    np.testing.assert_array_equal(first.low, again.low)
    assert first.low.shape == (12,) and np.all(first.low <= first.estimate) and np.all(first.estimate <= first.high)


def test_a_paired_difference_removes_the_noise_both_properties_share():
    rng = np.random.default_rng(1)
    shared = rng.exponential(size=(500, 2)) * np.array([1.0, 0.05])  # molecule-to-molecule noise
    alpha, zpve = shared, shared + np.array([0.0, 0.01])              # zpve: +0.01 on type 1, every molecule
    paired = bootstrap(lambda r: zero_reference_shares(zpve[r])[1] - zero_reference_shares(alpha[r])[1], 500, seed=2)
    other = rng.permutation(500)  # the same difference on unrelated molecules
    unpaired = bootstrap(lambda r: zero_reference_shares(zpve[other][r])[1] - zero_reference_shares(alpha[r])[1],
                         500, seed=2)
    assert paired.low > 0
    assert paired.high - paired.low < 0.5 * (unpaired.high - unpaired.low)
    same = bootstrap(lambda r: zero_reference_shares(alpha[r]) - zero_reference_shares(alpha[r]), 500, seed=2)
    assert verdict(same[0]) == "no detectable difference" and np.all(same.low == 0) and np.all(same.high == 0)


def test_across_models_is_the_t_interval_of_the_mean():
    estimates = np.array([0.012, 0.030, -0.004, 0.020])
    low, high = stats.t.interval(0.9, 3, loc=estimates.mean(), scale=stats.sem(estimates))
    interval = across_models(estimates, level=0.9)
    assert (interval.low, interval.high) == (pytest.approx(low), pytest.approx(high))
    with pytest.raises(ValueError, match="two models"):
        across_models([0.1])


@pytest.mark.parametrize("ends, expected", [
    ([(0.01, 0.03)], "supported"),
    ([(-0.03, -0.01), (-0.5, -0.2)], "against"),
    ([(-0.01, 0.03)], "no detectable difference"),          # covers 0
    ([(0.01, 0.03), (-0.03, -0.01)], "no detectable difference"),  # two readings that disagree
    ([(0.01, 0.03), (0.0, 0.02)], "no detectable difference"),     # touches 0
])
def test_verdict_by_hand(ends, expected):
    assert verdict(*(Interval((lo + hi) / 2, lo, hi, 0.95) for lo, hi in ends)) == expected


def test_per_input_relevance_by_hand():
    # type 0: relevance 2 + 4 over 3 + 3 inputs = 1 per input; type 1: 1 + 1 over 1 + 0 = 2; type 2: no inputs;
    # all inputs: 8 over 7
    absolute = np.array([[2.0, 1.0, 0.0], [4.0, 1.0, 0.0]])
    counts = np.array([[3, 1, 0], [3, 0, 0]])
    np.testing.assert_allclose(per_input_relevance(absolute, counts), [1 / (8 / 7), 2 / (8 / 7), 0.0])
    np.testing.assert_allclose(zero_reference_shares(absolute), [0.75, 0.25, 0.0])
    np.testing.assert_allclose(per_input_relevance(1e3 * absolute, counts), per_input_relevance(absolute, counts))


def test_nonzero_inputs_by_a_count_over_each_molecules_own_arrays():
    from course.data import qm9
    from course.features import qm9_graphs
    from course.models.weave_data import WeaveData

    data = qm9.load(verbose=False)
    _, test = data.split(test_fold=0)
    picked = test[data.usable.loc[test].to_numpy()][:5]
    molecules = WeaveData.from_qm9(qm9_graphs.for_indices(data, picked), data, picked)
    counts = nonzero_inputs(molecules, np.array([4, 0, 2]), batch_size=2)
    for line, row in zip(counts, (4, 0, 2)):
        x, n = molecules.padded([row]), int(molecules.n_atoms[row])
        expected = dict.fromkeys(TYPES, 0)
        for i in range(n):
            for f, name in enumerate(ATOM_FEATURES):
                expected[FEATURE_TYPES[name]] += x["atoms"][0, i, f] != 0
            for j in range(n):
                for f, name in enumerate(PAIR_FEATURES):
                    expected[FEATURE_TYPES[name]] += i != j and x["pairs"][0, i, j, f] != 0
        np.testing.assert_allclose(line * n, [expected[t] for t in TYPES])
        assert expected["spatial distance"] == n * (n - 1)  # no two atoms at the same place


def test_the_two_readings_by_name_and_the_absorbed_share_against_hand_counts():
    absolute, counts = np.array([[3.0, 1.0], [1.0, 1.0]]), np.array([[3, 1], [1, 3]])
    assert READINGS["zero reference"](absolute, counts).tolist() == [4 / 6, 2 / 6]
    # type 0: 4 from 4 inputs, type 1: 2 from 4, against 6 from 8 on average
    np.testing.assert_allclose(READINGS["per non-zero input"](absolute, counts), [1 / 0.75, 0.5 / 0.75])
    from course.explain.feature_types import TypeRelevance
    table = TypeRelevance(signed=np.zeros((3, 12)), absolute=np.zeros((3, 12)), start=np.array([2.0, -4.0, 10.0]),
                          prediction=np.zeros(3), absorbed_relevance=np.array([1.0, 1.0, -1.0]), n_atoms=np.ones(3))
    assert table.absorbed_share() == 0.25  # the median of 1/2, 1/4 and 1/10
