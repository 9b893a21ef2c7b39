"""Conserved weights: per node of a disconnectivity graph, the weights that barely vary across
the node's minima once the symmetry is taken out (std below ``threshold``, 0.01 in the paper).

Why: Niroomand and Wales read a weight that a whole funnel of minima agrees on as one the model
relies on; an input whose outgoing weights are conserved is then a candidate driver.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from course.landscape.disconnectivity import Graph
from course.landscape.symmetry import align, canonical


def weight_names(n_inputs: int, n_hidden: int) -> list[str]:
    """Names of the flat vector's entries, in its layout, to report conserved weights.

    >>> weight_names(2, 1)
    ['W[0,0]', 'W[0,1]', 'b[0]', 'v[0]', 'c']
    """
    return ([f"W[{j},{i}]" for j in range(n_hidden) for i in range(n_inputs)]
            + [f"b[{j}]" for j in range(n_hidden)] + [f"v[{j}]" for j in range(n_hidden)] + ["c"])


def conserved_mask(weights: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    """True for each column (weight) whose population std across the rows (minima) is below
    ``threshold``; a single minimum conserves every weight.

    >>> conserved_mask(np.array([[1.0, 0.0], [1.001, 1.0]])).tolist()
    [True, False]
    """
    weights = np.atleast_2d(np.asarray(weights, dtype=float))
    if weights.shape[0] == 0:
        raise ValueError("no minima given: conserved weights need at least one")
    return weights.std(axis=0) < threshold


def aligned(thetas: np.ndarray, n_inputs: int, n_hidden: int, reference: int = 0) -> np.ndarray:
    """Every minimum moved onto the canonical form of ``thetas[reference]`` (rows out = rows in).

    Why align and not only canonicalize: the canonical sort by ``v`` can swap two units whose
    ``v`` are close in different minima; aligning to one reference matches units by all weights.

    >>> from course.landscape.symmetry import transform
    >>> t = np.array([1.0, 2.0, 0.0, 0.0, 1.0, 3.0, 0.0])
    >>> aligned(np.array([t, transform(t, 1, 2, (1, 0), np.array([-1.0, 1.0]))]), 1, 2)[1].tolist()
    [2.0, 1.0, 0.0, 0.0, 3.0, 1.0, 0.0]
    """
    thetas = np.atleast_2d(np.asarray(thetas, dtype=float))
    ref = canonical(thetas[reference], n_inputs, n_hidden)
    return np.array([align(ref, t, n_inputs, n_hidden) for t in thetas])


def node_conserved(graph: Graph, thetas: np.ndarray, n_inputs: int, n_hidden: int,
                   threshold: float = 0.01, labels: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Conserved-weight mask of each node (or of ``labels``), aligned to the node's lowest minimum.

    >>> from course.landscape.disconnectivity import build
    >>> g = build([0.0, 0.1], [(0, 1, 1.0)], level_energies=[1.0, 0.0])
    >>> thetas = np.array([[1.0, 0.0, 1.0, 0.0], [1.0, 0.5, 1.0, 0.0]])
    >>> {k: m.tolist() for k, m in node_conserved(g, thetas, 1, 1).items()}
    {'1_1': [True, False, True, True], '2_1': [True, True, True, True]}
    """
    thetas = np.atleast_2d(np.asarray(thetas, dtype=float))
    if thetas.shape[0] != len(graph.minimum_energies):
        raise ValueError(f"{thetas.shape[0]} weight vectors for a graph of "
                         f"{len(graph.minimum_energies)} minima")
    wanted = set(labels) if labels is not None else None
    out: dict[str, np.ndarray] = {}
    for node in graph.nodes:
        if wanted is not None and node.label not in wanted:
            continue
        members = list(node.minima)
        lowest = int(np.argmin(graph.minimum_energies[members]))
        out[node.label] = conserved_mask(aligned(thetas[members], n_inputs, n_hidden, lowest), threshold)
    return out


def permuted_auc(net, theta: np.ndarray, indices: np.ndarray, rng: np.random.Generator,
                 X: np.ndarray | None = None, y: np.ndarray | None = None) -> float:
    """ROC AUC of ``net`` on ``X, y`` (its training data by default) after shuffling the weights ``theta[indices]`` among
    themselves with ``rng.permutation(len(indices))`` (one call; ``theta`` is not changed).

    Why: the paper's test of conserved weights: if a model relies on them, scrambling them should
    cost more AUC than scrambling as many weights picked at random.

    >>> from course.landscape.network import TanhClassifier, pack
    >>> net = TanhClassifier(np.array([[0.0], [1.0]]), np.array([0, 1]), 1, l2=0.0)
    >>> permuted_auc(net, pack([[1.0]], [0.0], [1.0], 0.0), np.array([], dtype=int), np.random.default_rng(0))
    1.0
    """
    from sklearn.metrics import roc_auc_score

    indices = np.asarray(indices, dtype=int)
    shuffled = np.array(theta, dtype=float)
    shuffled[indices] = shuffled[indices][rng.permutation(len(indices))]
    return float(roc_auc_score(net.y if y is None else y, net.predict_proba(shuffled, X)))


def permutation_test(net, thetas: np.ndarray, indices: np.ndarray, n_repeats: int,
                     rng: np.random.Generator | int | None = None, X: np.ndarray | None = None,
                     y: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Best AUC over the minima ``thetas`` (aligned rows) after permuting ``indices`` the same way
    in each, ``n_repeats`` times (AUC on ``X, y``, default the training data); and the same for random weight sets of the same size (a new set
    each repetition). Returns ``(conserved_aucs, random_aucs)``, one entry per repetition.

    >>> from course.landscape.network import TanhClassifier, pack
    >>> net = TanhClassifier(np.array([[0.0], [1.0]]), np.array([0, 1]), 1, l2=0.0)
    >>> a, b = permutation_test(net, np.array([pack([[1.0]], [0.0], [1.0], 0.0)]), np.array([0]), 3, 0)
    >>> a.tolist(), b.shape
    ([1.0, 1.0, 1.0], (3,))
    """
    rng = np.random.default_rng(rng)
    thetas = np.atleast_2d(np.asarray(thetas, dtype=float))
    indices = np.asarray(indices, dtype=int)
    out = np.empty((2, n_repeats))
    for r in range(n_repeats):
        random_set = rng.choice(thetas.shape[1], size=len(indices), replace=False)
        for k, chosen in enumerate((indices, random_set)):
            state = rng.bit_generator.state
            aucs = []
            for theta in thetas:          # the same permutation in every minimum of the group
                rng.bit_generator.state = state
                aucs.append(permuted_auc(net, theta, chosen, rng, X, y))
            out[k, r] = max(aucs)
    return out[0], out[1]


def input_scores(mask: np.ndarray, theta: np.ndarray, n_inputs: int, n_hidden: int) -> np.ndarray:
    """Per input ``i``, the sum over hidden units ``j`` of ``|W[j, i]|`` where ``W[j, i]`` is conserved.

    >>> input_scores(np.array([True, False, True, True, True]), np.array([2.0, -3.0, 0.0, 1.0, 0.0]), 2, 1).tolist()
    [2.0, 0.0]
    """
    hd = n_inputs * n_hidden
    W = np.abs(np.asarray(theta, dtype=float)[:hd]).reshape(n_hidden, n_inputs)
    return (W * np.asarray(mask, dtype=bool)[:hd].reshape(n_hidden, n_inputs)).sum(axis=0)
