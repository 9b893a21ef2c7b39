"""The landscape engine (Module 7) against independent references: finite differences of the loss,
scikit-learn's log loss, brute force over the symmetry group, grid searches and closed-form
stationary points of toy functions, and a minimax-path brute force for disconnectivity graphs."""
import itertools

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import log_loss

from threadpoolctl import threadpool_limits

from course.landscape import conserved, datasets, disconnectivity, explore, minima, network, symmetry, transition


@pytest.fixture(autouse=True)
def one_blas_thread():
    """Small problems: BLAS threads only contend on the shared cores (L-BFGS-B 10x slower)."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def small_net(n=40, d=3, h=2, l2=1e-3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    return network.TanhClassifier(X, y, h, l2=l2)


def distinct_units(d, h, seed):
    """A weight vector whose hidden units differ clearly (so the group acts freely)."""
    theta = np.random.default_rng(seed).normal(size=network.n_params(d, h))
    _, _, v, _ = network.unpack(theta, d, h)
    v[:] = np.linspace(1.0, 2.0, h) * np.where(np.arange(h) % 2, -1, 1)
    return theta


# --- network ---------------------------------------------------------------------------------

def test_loss_is_cross_entropy_plus_l2_as_scikit_learn_computes_it():
    net = small_net(l2=0.01)
    theta = net.random_weights(1)
    expected = log_loss(net.y, net.predict_proba(theta), labels=[0, 1]) + 0.005 * theta @ theta
    assert net.loss(theta) == pytest.approx(expected, rel=1e-12)


def test_gradient_matches_central_differences_of_the_loss():
    net = small_net()
    theta = net.random_weights(2)
    eps = 1e-6
    numeric = np.array([(net.loss(theta + eps * e) - net.loss(theta - eps * e)) / (2 * eps)
                        for e in np.eye(theta.size)])
    np.testing.assert_allclose(net.gradient(theta), numeric, rtol=1e-6, atol=1e-9)


def test_hessian_is_symmetric_and_matches_second_differences_of_the_loss():
    net = small_net(d=2, h=2)
    theta = net.random_weights(3)
    hess = net.hessian(theta)
    np.testing.assert_array_equal(hess, hess.T)
    eps, n = 1e-4, theta.size
    numeric = np.empty((n, n))
    for i, j in itertools.product(range(n), repeat=2):
        ei, ej = eps * np.eye(n)[i], eps * np.eye(n)[j]
        numeric[i, j] = (net.loss(theta + ei + ej) - net.loss(theta + ei - ej)
                         - net.loss(theta - ei + ej) + net.loss(theta - ei - ej)) / (4 * eps**2)
    np.testing.assert_allclose(hess, numeric, atol=2e-6)
    assert np.abs(hess).max() > 1e-2          # not trivially zero


def test_pack_unpack_round_trip_and_clear_errors():
    theta = np.arange(network.n_params(3, 2), dtype=float)
    np.testing.assert_array_equal(network.pack(*network.unpack(theta, 3, 2)), theta)
    with pytest.raises(ValueError, match="needs"):
        network.unpack(theta[:-1], 3, 2)
    with pytest.raises(ValueError, match="row 1"):
        network.TanhClassifier(np.zeros((3, 2)), np.array([0, 2, 1]), 1)


# --- symmetry --------------------------------------------------------------------------------

@pytest.mark.parametrize("h", [1, 2, 3])
def test_group_has_h_factorial_two_to_the_h_distinct_elements(h):
    theta = distinct_units(2, h, seed=h)
    images = {tuple(np.round(symmetry.transform(theta, 2, h, p, s), 12))
              for p, s in symmetry.group_elements(h)}
    assert len(images) == symmetry.group_order(h) == np.prod(range(1, h + 1)) * 2**h


@pytest.mark.parametrize("h", [1, 2, 3])
def test_group_and_canonical_form_leave_predictions_unchanged(h):
    X = np.random.default_rng(0).normal(size=(25, 3))
    theta = distinct_units(3, h, seed=10 + h)
    reference = network.logits(theta, X, h)
    for perm, signs in symmetry.group_elements(h):
        np.testing.assert_allclose(network.logits(symmetry.transform(theta, 3, h, perm, signs), X, h),
                                   reference, atol=1e-12)
    np.testing.assert_allclose(network.logits(symmetry.canonical(theta, 3, h), X, h), reference, atol=1e-12)


@pytest.mark.parametrize("h", [1, 2, 3])
@pytest.mark.parametrize("zero_v", [False, True])
def test_canonical_form_is_invariant_under_every_group_element(h, zero_v):
    theta = distinct_units(2, h, seed=20 + h)
    if zero_v:                                   # a unit with v = 0: its sign needs the tie-break
        network.unpack(theta, 2, h)[2][-1] = 0.0
    form = symmetry.canonical(theta, 2, h)
    _, _, v, _ = network.unpack(form, 2, h)
    assert np.all(v >= 0) and np.all(np.diff(v) <= 0)
    for perm, signs in symmetry.group_elements(h):
        np.testing.assert_array_equal(symmetry.canonical(symmetry.transform(theta, 2, h, perm, signs), 2, h),
                                      form)


@pytest.mark.parametrize("h", [1, 2, 3])
@pytest.mark.parametrize("seed", range(4))
def test_alignment_finds_the_brute_force_closest_group_element(h, seed):
    rng = np.random.default_rng(seed)
    reference, theta = rng.normal(size=(2, network.n_params(2, h)))
    best = min(np.linalg.norm(reference - symmetry.transform(theta, 2, h, p, s))
               for p, s in symmetry.group_elements(h))
    moved = symmetry.align(reference, theta, 2, h)
    assert np.linalg.norm(reference - moved) == pytest.approx(best, rel=1e-12)
    assert symmetry.distance(reference, theta, 2, h) == pytest.approx(best, rel=1e-12)
    np.testing.assert_allclose(symmetry.canonical(moved, 2, h), symmetry.canonical(theta, 2, h))  # same orbit


def test_alignment_undoes_a_symmetry_operation_up_to_the_noise():
    theta = distinct_units(3, 3, seed=5)
    copy = symmetry.transform(theta, 3, 3, (2, 0, 1), np.array([-1.0, 1.0, -1.0]))
    noisy = copy + np.random.default_rng(0).normal(0, 1e-3, copy.size)
    assert np.abs(symmetry.align(theta, noisy, 3, 3) - theta).max() < 5e-3
    assert np.linalg.norm(copy - theta) > 1.0


# --- minima ----------------------------------------------------------------------------------

def rugged(x):
    """f(x) = x^2/10 + sin(3x): several minima of different depth."""
    return float(x[0] ** 2 / 10 + np.sin(3 * x[0])), np.array([x[0] / 5 + 3 * np.cos(3 * x[0])])


def test_basin_hopping_finds_every_low_minimum_of_a_grid_search():
    grid = np.linspace(-6, 6, 200001)
    f = grid**2 / 10 + np.sin(3 * grid)
    inner = (f[1:-1] < f[:-2]) & (f[1:-1] < f[2:])
    reference = [(grid[1:-1][inner][k], f[1:-1][inner][k]) for k in range(inner.sum())]
    reference = [(x, e) for x, e in reference if e < 1.0]
    found = minima.basin_hopping(rugged, np.array([4.0]), 60, 1.5, 1.0, rng=0)
    assert [m.energy for m in found] == sorted(m.energy for m in found)
    assert len(found) == len({round(float(m.x[0]), 4) for m in found})   # no duplicates
    for x, e in reference:
        assert any(abs(m.x[0] - x) < 1e-4 and abs(m.energy - e) < 1e-8 for m in found), (x, e)
    assert len(reference) >= 3


def test_basin_hopping_on_a_network_records_distinct_true_minima():
    X, y = datasets.checkerboard(60, 2, rng=0)
    net = network.TanhClassifier(X, y, 2, l2=1e-2)
    found = minima.basin_hopping(net.loss_and_gradient, net.random_weights(0), 12, 1.0, 0.05, rng=1,
                                 distance=lambda a, b: symmetry.distance(a, b, 2, 2),
                                 transform=lambda t: symmetry.canonical(t, 2, 2))
    assert sum(m.hits for m in found) == 13
    for m in found:
        np.testing.assert_array_equal(m.x, symmetry.canonical(m.x, 2, 2))
        assert np.linalg.norm(net.gradient(m.x)) < 1e-6
        assert transition.morse_index(net.hessian(m.x)) == 0
        assert net.loss(m.x) == pytest.approx(m.energy, abs=1e-12)
    for a, b in itertools.combinations(found, 2):
        assert symmetry.distance(a.x, b.x, 2, 2) > 1e-3 or abs(a.energy - b.energy) > 1e-7


# --- transition states -----------------------------------------------------------------------

def double_well(x):
    return (x[0] ** 2 - 1) ** 2 + x[1] ** 2, np.array([4 * x[0] * (x[0] ** 2 - 1), 2 * x[1]])


def double_well_hessian(x):
    return np.array([[12 * x[0] ** 2 - 4, 0.0], [0.0, 2.0]])


def test_transition_state_of_the_double_well_is_the_origin_with_eigenvalues_minus_4_and_2():
    ts = transition.transition_state(double_well, double_well_hessian, np.array([-1.0, 0.0]),
                                     np.array([1.0, 0.0]), n_images=7)
    np.testing.assert_allclose(ts.x, 0.0, atol=1e-8)
    assert ts.energy == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(ts.eigenvalues, [-4.0, 2.0], atol=1e-8)
    assert ts.index == 1
    np.testing.assert_allclose(sorted([ts.minus[0], ts.plus[0]]), [-1.0, 1.0], atol=1e-6)


A, TILT = 1.5, 0.3


def banana(x):
    """(x^2 - 1)^2 + 0.3 x + 2 (y - 1.5 x^2)^2: minima and saddle on the parabola y = 1.5 x^2,
    at the roots of 4x^3 - 4x + 0.3; the straight line between the minima misses the saddle."""
    r = x[1] - A * x[0] ** 2
    return ((x[0] ** 2 - 1) ** 2 + TILT * x[0] + 2 * r**2,
            np.array([4 * x[0] * (x[0] ** 2 - 1) + TILT - 8 * A * x[0] * r, 4 * r]))


def banana_hessian(x):
    r = x[1] - A * x[0] ** 2
    return np.array([[12 * x[0] ** 2 - 4 + 16 * A**2 * x[0] ** 2 - 8 * A * r, -8 * A * x[0]],
                     [-8 * A * x[0], 4.0]])


def test_band_and_eigenvector_following_find_the_saddle_of_a_curved_path():
    roots = np.sort(np.roots([4.0, 0.0, -4.0, TILT]).real)
    left, saddle, right = (np.array([r, A * r**2]) for r in roots)
    ts = transition.transition_state(banana, banana_hessian, left, right, n_images=9)
    np.testing.assert_allclose(ts.x, saddle, atol=1e-7)
    assert ts.index == 1 and ts.eigenvalues[0] < 0 < ts.eigenvalues[1]
    straight = max(banana(p)[0] for p in transition.interpolate(left, right, 50))
    assert straight > ts.energy + 0.5                     # the straight line overestimates the barrier
    ends = sorted([ts.minus, ts.plus], key=lambda p: p[0])
    np.testing.assert_allclose(ends[0], left, atol=1e-5)
    np.testing.assert_allclose(ends[1], right, atol=1e-5)


def test_eigenvector_following_walks_off_a_maximum_to_an_index_one_saddle():
    f = lambda x: (float(np.cos(x[0]) + np.cos(x[1])), -np.sin(x))
    hess = lambda x: np.diag(-np.cos(x))
    x = transition.eigenvector_following(f, hess, np.array([0.2, 0.1]))
    # saddles of cos x + cos y: one coordinate a multiple of 2 pi, the other an odd multiple of pi
    wrapped = np.sort(np.abs(np.angle(np.exp(1j * x))))
    np.testing.assert_allclose(wrapped, [0.0, np.pi], atol=1e-7)
    assert transition.morse_index(hess(x)) == 1


def test_morse_index_counts_negative_eigenvalues():
    assert transition.morse_index(np.diag([-1.0, -2.0, 3.0])) == 2
    assert transition.morse_index(np.diag([1.0, 2.0])) == 0


def test_network_transition_state_has_index_one_and_joins_its_two_minima():
    X, y = datasets.checkerboard(60, 2, rng=3)
    net = network.TanhClassifier(X, y, 2, l2=1e-2)
    quenched = [minima.local_minimum(net.loss_and_gradient, net.random_weights(s)) for s in range(6)]
    distinct = []
    for x, e in sorted(quenched, key=lambda q: q[1]):
        if all(symmetry.distance(x, k, 2, 2) > 1e-3 for k, _ in distinct):
            distinct.append((symmetry.canonical(x, 2, 2), e))
    assert len(distinct) >= 2
    (a, ea), (b, eb) = distinct[:2]
    ts = transition.transition_state(net.loss_and_gradient, net.hessian, a, symmetry.align(a, b, 2, 2))
    assert np.linalg.norm(net.gradient(ts.x)) < 1e-7
    assert np.sum(np.linalg.eigvalsh(net.hessian(ts.x)) < 0) == 1
    assert ts.energy > max(ea, eb)
    for side in (ts.minus, ts.plus):                  # each side falls into a true minimum below the saddle
        assert np.linalg.norm(net.gradient(side)) < 1e-6 and net.loss(side) < ts.energy
        assert transition.morse_index(net.hessian(side)) == 0
    # the band can pass through a third minimum, but the saddle touches at least one end
    assert min(symmetry.distance(side, m, 2, 2) for side in (ts.minus, ts.plus) for m in (a, b)) < 1e-4


# --- disconnectivity graphs ------------------------------------------------------------------

def test_hand_built_tree():
    # minima 0..3 at 0, 1, 2, 0.5; barriers 0-1 at 3, 2-3 at 2.5, 1-2 at 5; levels 5, 4, ..., 0
    graph = disconnectivity.build([0.0, 1.0, 2.0, 0.5], [(0, 1, 3.0), (2, 3, 2.5), (1, 2, 5.0)], n_levels=6)
    np.testing.assert_allclose(graph.level_energies, [5, 4, 3, 2, 1, 0])
    expected = {"1_1": ((0, 1, 2, 3), None),
                "2_1": ((0, 1), "1_1"), "2_2": ((2, 3), "1_1"),
                "3_1": ((0, 1), "2_1"), "3_2": ((2, 3), "2_2"),
                "4_1": ((0,), "3_1"), "4_2": ((3,), "3_2"), "4_3": ((1,), "3_1"), "4_4": ((2,), "3_2"),
                "5_1": ((0,), "4_1"), "5_2": ((3,), "4_2"), "5_3": ((1,), "4_3"),
                "6_1": ((0,), "5_1")}
    assert {n.label: (n.minima, n.parent) for n in graph.nodes} == expected
    assert [c.label for c in graph.children("3_2")] == ["4_2", "4_4"]
    ax = disconnectivity.draw(graph, labels=["2_2"], colors={"2_2": "red"})
    # one stub, 12 parent-child edges, one line to each minimum from its last node (4_4, 5_2, 5_3, 6_1)
    assert len(ax.lines) == 1 + 12 + 4
    # red: the edges into 2_2, 3_2, 4_2, 4_4, 5_2 and the lines to minima 2 and 3
    assert sum(line.get_color() == "red" for line in ax.lines) == 5 + 2
    assert [t.get_text() for t in ax.texts] == ["2_2"]


def minimax_barriers(energies, ts):
    """Brute force: the lowest possible highest barrier on any path between two minima."""
    m = len(energies)
    b = np.full((m, m), np.inf)
    np.fill_diagonal(b, energies)
    for i, j, e in ts:
        b[i, j] = b[j, i] = min(b[i, j], e)
    for k in range(m):
        b = np.minimum(b, np.maximum(b[:, [k]], b[[k], :]))
    return b


@pytest.mark.parametrize("seed", range(5))
def test_nodes_agree_with_minimax_barriers_on_random_landscapes(seed):
    rng = np.random.default_rng(seed)
    energies = rng.uniform(0, 1, 12)
    ts = [(i, j, max(energies[i], energies[j]) + rng.exponential(0.5))
          for i, j in itertools.combinations(range(12), 2) if rng.random() < 0.2]
    graph = disconnectivity.build(energies, ts, n_levels=8)
    barrier = minimax_barriers(energies, ts)
    for level, height in enumerate(graph.level_energies, start=1):
        nodes = graph.level(level)
        node_of = {i: n.label for n in nodes for i in n.minima}
        assert sorted(node_of) == sorted(np.flatnonzero(energies <= height).tolist())
        for i, j in itertools.combinations(node_of, 2):
            assert (node_of[i] == node_of[j]) == (barrier[i, j] <= height)
        lowest = [energies[list(n.minima)].min() for n in nodes]
        assert lowest == sorted(lowest)
        for n in nodes:
            if n.parent:
                assert set(n.minima) <= set(graph.node(n.parent).minima)


def test_graph_rejects_impossible_transition_states():
    with pytest.raises(ValueError, match="below minimum"):
        disconnectivity.build([0.0, 1.0], [(0, 1, 0.5)])
    with pytest.raises(ValueError, match="there are 2 minima"):
        disconnectivity.build([0.0, 1.0], [(0, 2, 3.0)])
    with pytest.raises(ValueError, match="spread of energies"):
        disconnectivity.build([0.5], [])


# --- conserved weights -----------------------------------------------------------------------

def test_conserved_weights_survive_hidden_symmetry_operations():
    d, h = 2, 3
    rng = np.random.default_rng(0)
    base = distinct_units(d, h, seed=7)
    network.unpack(base, d, h)[2][:] = [6.0, 4.0, 2.0]         # canonical, gaps far above the noise
    spread = np.where(rng.random(base.size) < 0.4, 0.2, 1e-3)           # which weights vary
    elements = list(symmetry.group_elements(h))
    thetas = []
    for _ in range(6):
        perm, signs = elements[rng.integers(len(elements))]
        thetas.append(symmetry.transform(base + rng.normal(0, spread), d, h, perm, signs))
    thetas = np.array(thetas)
    energies = np.linspace(0.0, 0.5, 6)
    graph = disconnectivity.build(energies, [(0, k, 1.0) for k in range(1, 6)], level_energies=[1.0, 0.0])
    masks = conserved.node_conserved(graph, thetas, d, h)
    ours = masks["1_1"]
    np.testing.assert_array_equal(ours, spread < 0.01)
    assert 0 < ours.sum() < ours.size
    assert not np.array_equal(conserved.conserved_mask(thetas), ours)   # raw weights hide it
    assert masks["2_1"].all()                                          # a single minimum
    assert len(conserved.weight_names(d, h)) == base.size


def test_conserved_mask_is_population_std_below_threshold():
    w = np.random.default_rng(1).normal(0, [0.001, 0.05, 0.008], size=(10, 3))
    np.testing.assert_array_equal(conserved.conserved_mask(w, 0.01), w.std(axis=0) < 0.01)
    with pytest.raises(ValueError, match="at least one"):
        conserved.conserved_mask(np.empty((0, 3)))


# --- data ------------------------------------------------------------------------------------

def test_checkerboard_labels_follow_the_board():
    X, y = datasets.checkerboard(2000, 2, rng=4)
    np.testing.assert_array_equal(y, ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(int))
    X4, y4 = datasets.checkerboard(2000, 4, rng=4)
    edges = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    for (x0, x1), label in zip(X4, y4):
        i = np.searchsorted(edges, x0) - 1
        j = np.searchsorted(edges, x1) - 1
        assert label == (i + j) % 2
    assert 0.4 < y4.mean() < 0.6
    np.testing.assert_array_equal(datasets.checkerboard(50, 3, rng=9)[0], datasets.checkerboard(50, 3, rng=9)[0])


def test_breast_cancer_is_standardized_and_complete():
    X, y, names = datasets.breast_cancer()
    raw = load_breast_cancer()
    assert X.shape == (569, 30) and len(names) == 30
    np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(X.std(axis=0), 1.0, atol=1e-12)
    np.testing.assert_array_equal(y, raw.target)
    np.testing.assert_allclose(X[:, 0] * raw.data[:, 0].std() + raw.data[:, 0].mean(), raw.data[:, 0])


# --- connecting distant minima ---------------------------------------------------------------

def washboard(x):
    return float(np.sin(3 * x[0]) + x[0] ** 2 / 10 + x[1] ** 2), np.array([3 * np.cos(3 * x[0]) + x[0] / 5, 2 * x[1]])


def test_connect_chains_the_saddles_between_minima_several_basins_apart():
    from scipy.optimize import brentq
    hess = lambda x: np.diag([-9 * np.sin(3 * x[0]) + 0.2, 2.0])
    a, _ = minima.local_minimum(washboard, np.array([-2.5, 0.0]))
    b, _ = minima.local_minimum(washboard, np.array([3.6, 0.0]))
    chain = transition.connect(washboard, hess, a, b, n_images=12)
    # reference: the maxima of the 1-D curve between a and b, roots of f' where f'' < 0
    slope = lambda x: 3 * np.cos(3 * x) + x / 5
    grid = np.linspace(a[0], b[0], 4001)
    roots = [brentq(slope, lo, hi) for lo, hi in zip(grid[:-1], grid[1:]) if slope(lo) * slope(hi) < 0]
    saddles = [r for r in roots if -9 * np.sin(3 * r) + 0.2 < 0]
    np.testing.assert_allclose([t.x[0] for t in chain], saddles, atol=1e-7)
    np.testing.assert_allclose(chain[0].minus, a, atol=1e-5)
    np.testing.assert_allclose(chain[-1].plus, b, atol=1e-5)
    for left, right in zip(chain[:-1], chain[1:]):
        np.testing.assert_allclose(left.plus, right.minus, atol=1e-5)
    assert len(chain) == len(saddles) >= 3


# --- the database --------------------------------------------------------------------------

def test_explore_builds_a_consistent_connected_database_that_round_trips(tmp_path):
    X, y = datasets.checkerboard(80, 2, rng=0)
    net = network.TanhClassifier(X, y, 3, l2=1e-2)
    land = explore.explore(net, 15, step_size=1.5, rng=0)
    assert land.failures == [] and len(land.minima) >= 3 and len(land.transition_states) >= 2
    for x, e in zip(land.minima, land.energies):
        np.testing.assert_array_equal(x, symmetry.canonical(x, 2, 3))
        assert np.linalg.norm(net.gradient(x)) < 1e-6 and net.loss(x) == pytest.approx(e, abs=1e-12)
    for (i, j, e), x in zip(land.transition_states, land.ts_weights):
        assert i != j and e > max(land.energies[i], land.energies[j])
        assert np.linalg.norm(net.gradient(x)) < 1e-7 and transition.morse_index(net.hessian(x)) == 1
    graph = land.graph(5)
    assert graph.level(1)[0].minima == tuple(range(len(land.minima)))     # one tree
    land.save(tmp_path / "land.npz")
    back = explore.Landscape.load(tmp_path / "land.npz")
    assert back.transition_states == land.transition_states and back.energies == land.energies
    np.testing.assert_array_equal(np.array(back.minima), np.array(land.minima))
    assert land.add_minimum(symmetry.transform(land.minima[0], 2, 3, (2, 0, 1), np.array([-1.0, 1.0, -1.0])),
                            land.energies[0]) == 0


def test_climbing_image_alone_reaches_the_saddle():
    roots = np.sort(np.roots([4.0, 0.0, -4.0, TILT]).real)
    left, saddle, right = (np.array([r, A * r**2]) for r in roots)
    path, energies = transition.nudged_elastic_band(banana, left, right, n_images=7)
    np.testing.assert_allclose(path[np.argmax(energies)], saddle, atol=1e-3)
    forces, _ = transition.neb_forces(banana, path, 1.0, climb=True)
    assert np.abs(forces).max() < 1e-4


def test_conserved_weights_are_read_in_the_layout_of_the_nodes_lowest_minimum():
    # units A (W = [1, -1]) and B (W = [-0.5, 2]) with close v: the lowest minimum has v_A > v_B,
    # the others v_B > v_A, so their canonical forms list the units in opposite orders
    rng = np.random.default_rng(3)
    thetas, energies = [], [0.3, 0.2, 0.0, 0.4]           # the lowest is minimum 2
    for k, e in enumerate(energies):
        v_a, v_b = (2.2, 2.0) if e == 0.0 else (2.0, 2.2 + 0.05 * k)
        w_b = np.array([-0.5, 2.0]) + rng.normal(0, 0.2, 2)
        theta = network.pack([[1.0, -1.0] + rng.normal(0, 1e-3, 2), w_b], [0.5, 0.1 + 0.3 * k], [v_a, v_b], 0.7)
        thetas.append(symmetry.transform(theta, 2, 2, (0, 1), rng.choice([-1.0, 1.0], 2)))
    graph = disconnectivity.build(energies, [(2, k, 1.0) for k in (0, 1, 3)], level_energies=[1.0, 0.0])
    mask = conserved.node_conserved(graph, np.array(thetas), 2, 2)["1_1"]
    # layout [W_A (2), W_B (2), b_A, b_B, v_A, v_B, c]
    np.testing.assert_array_equal(mask, [True, True, False, False, True, False, False, False, True])
    np.testing.assert_array_equal(conserved.aligned(np.array(thetas), 2, 2, reference=2)[2],
                                  symmetry.canonical(thetas[2], 2, 2))
