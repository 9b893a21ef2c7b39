"""Perturbation by feature type on real QM9 molecules: the removal against a hand edit of each molecule's
own arrays, gradient × input per type against finite differences of scaling a type, and the
sensitivity against per-entry finite differences."""
import numpy as np
import pytest
from keras import ops

from course.explain.feature_types import TYPES
from course.explain.type_perturbation import TypeRemoval, feature_means
from course.features.graph import ATOM_FEATURES, FEATURE_TYPES, PAIR_FEATURES
from weave_cases import small_model


@pytest.fixture(scope="module")
def molecules():
    from course.data import qm9
    from course.features import qm9_graphs
    from course.models.weave_data import WeaveData

    data = qm9.load(verbose=False)
    _, test = data.split(test_fold=0)
    picked = test[data.usable.loc[test].to_numpy()][:7]
    return WeaveData.from_qm9(qm9_graphs.for_indices(data, picked), data, picked)


def own_arrays(data, row):
    """One molecule padded on its own to 29 atoms, and its number of atoms."""
    return {k: v.astype(float) for k, v in data.padded([row]).items()}, int(data.n_atoms[row])


def value(model, x, start):
    t = model.trace(x)
    out = t["output"] if start == "output" else model.target_scale.scale * t["net"]
    return float(ops.convert_to_numpy(out)[0, 0])


def test_feature_means_over_real_atoms_and_pairs(molecules):
    atoms, pairs = [], []
    for row in range(len(molecules)):
        x, n = own_arrays(molecules, row)
        atoms.append(x["atoms"][0, :n])
        pairs.append(x["pairs"][0, :n, :n][~np.eye(n, dtype=bool)])
    atom_means, pair_means = feature_means(molecules, np.arange(len(molecules)), batch_size=3)
    np.testing.assert_allclose(atom_means, np.concatenate(atoms).mean(0), rtol=1e-6)
    np.testing.assert_allclose(pair_means, np.concatenate(pairs).mean(0), rtol=1e-6)
    assert pair_means[-1] > 1.0  # the mean spatial distance, in Å


@pytest.mark.parametrize("start", ["output", "network"])
def test_removing_types_equals_editing_each_molecule(molecules, start):
    model = small_model(3)
    rng = np.random.default_rng(4)
    means = rng.normal(size=21), rng.normal(size=13)
    rows = np.array([3, 0, 5, 1, 6])
    keep = rng.integers(0, 2, size=(len(rows), len(TYPES)))
    keep[0], keep[1] = 1, 0  # nothing removed, everything removed
    removal = TypeRemoval(model, molecules, rows, means, start=start, batch_size=2)
    expected = []
    for row, kept in zip(rows, keep):
        x, n = own_arrays(molecules, row)
        off_diagonal = ~np.eye(n, dtype=bool)
        for f, name in enumerate(ATOM_FEATURES):
            if not kept[TYPES.index(FEATURE_TYPES[name])]:
                x["atoms"][0, :n, f] = means[0][f]
        for f, name in enumerate(PAIR_FEATURES):
            if not kept[TYPES.index(FEATURE_TYPES[name])]:
                x["pairs"][0, :n, :n, f][off_diagonal] = means[1][f]
        expected.append(value(model, x, start))
    np.testing.assert_allclose(removal(keep), expected, rtol=1e-9)
    assert removal(keep)[0] != removal(np.zeros_like(keep))[0]  # the removal changes the value


def test_gradient_times_input_is_the_rate_of_scaling_a_type(molecules):
    # With means 0, keep = 1 + h scales a type's features by 1 + h, so the central difference in h
    # is Σ x ∂f/∂x over that type's features.
    model = small_model(5)
    rows = np.arange(len(molecules))
    removal = TypeRemoval(model, molecules, rows, (np.zeros(21), np.zeros(13)), start="network", batch_size=4)
    times_input, _ = removal.gradient_relevance()
    h = 1e-6
    for k in range(len(TYPES)):
        keep = np.ones((len(rows), len(TYPES)))
        keep[:, k] = 1 + h
        up = removal(keep)
        keep[:, k] = 1 - h
        np.testing.assert_allclose(times_input[:, k], (up - removal(keep)) / (2 * h), rtol=1e-5, atol=1e-8)
    assert np.abs(times_input).max() > 1e-3


def test_sensitivity_against_per_entry_differences(molecules):
    # Σ (∂f/∂x)² over the partial charges (one per atom) and the spatial distances (one per ordered
    # pair) of the smallest molecule, each derivative by a central difference.
    model = small_model(6)
    row = int(np.argmin(molecules.n_atoms))
    removal = TypeRemoval(model, molecules, [row], (np.zeros(21), np.zeros(13)), start="output")
    _, sensitivity = removal.gradient_relevance()
    x, n = own_arrays(molecules, row)
    h = 1e-6

    def derivative(key, index):
        up, down = ({**x, key: x[key].copy()} for _ in range(2))
        up[key][index] += h
        down[key][index] -= h
        return (value(model, up, "output") - value(model, down, "output")) / (2 * h)

    charge = ATOM_FEATURES.index("partial_charge")
    charges = sum(derivative("atoms", (0, i, charge)) ** 2 for i in range(n))
    distances = sum(derivative("pairs", (0, i, j, 12)) ** 2 for i in range(n) for j in range(n) if i != j)
    np.testing.assert_allclose(sensitivity[0, TYPES.index("partial charge")], charges, rtol=1e-5)
    np.testing.assert_allclose(sensitivity[0, TYPES.index("spatial distance")], distances, rtol=1e-5)
    assert charges > 0 and distances > 0


def test_bad_arguments_are_refused(molecules):
    model = small_model(0)
    means = np.zeros(21), np.zeros(13)
    with pytest.raises(ValueError, match="start must be"):
        TypeRemoval(model, molecules, [0], means, start="logit")
    with pytest.raises(ValueError, match="21 atom and 13 pair"):
        TypeRemoval(model, molecules, [0], (np.zeros(21), np.zeros(12)))
    with pytest.raises(ValueError, match="no molecules"):
        TypeRemoval(model, molecules, [], means)
    with pytest.raises(ValueError, match=r"keep must have shape \(2, 12\)"):
        TypeRemoval(model, molecules, [0, 1], means)(np.ones((2, 11)))
    with pytest.raises(ValueError, match="no molecules"):
        feature_means(molecules, [])
