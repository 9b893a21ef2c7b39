"""A network's landscape database: basin-hopping for minima, :func:`transition.connect` between
pairs of them, every stationary point kept in canonical form; saved to and loaded from ``.npz``
so that a notebook's quick budget can draw graphs from a committed exploration.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from course.landscape import disconnectivity, minima, symmetry, transition
from course.landscape.network import TanhClassifier


@dataclass
class Landscape:
    """Minima (canonical weights and losses), transition states ``(i, j, loss)`` with their
    weights, and the pairs whose connection failed (with the reason), nothing dropped silently.

    >>> land = committed("breast-cancer")
    >>> (land.n_inputs, land.n_hidden), len(land.energies) == len(land.minima)
    ((30, 2), True)
    """

    n_inputs: int
    n_hidden: int
    minima: list[np.ndarray] = field(default_factory=list)
    energies: list[float] = field(default_factory=list)
    transition_states: list[tuple[int, int, float]] = field(default_factory=list)
    ts_weights: list[np.ndarray] = field(default_factory=list)
    failures: list[tuple[int, int, str]] = field(default_factory=list)

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """Symmetry-aware distance between two weight vectors of this network.

        >>> Landscape(1, 1).distance(np.array([1.0, 0.0, -1.0, 0.0]), np.array([-1.0, 0.0, 1.0, 0.0]))
        0.0
        """
        return symmetry.distance(a, b, self.n_inputs, self.n_hidden)

    def add_minimum(self, x: np.ndarray, energy: float, x_tol: float = 1e-3, e_tol: float = 1e-7) -> int:
        """Index of the minimum ``x`` (appended in canonical form if it is new).

        >>> land = Landscape(1, 1); land.add_minimum(np.array([1.0, 0.0, -1.0, 0.0]), 0.5)
        0
        >>> land.add_minimum(np.array([-1.0, 0.0, 1.0, 0.0]), 0.5)   # the sign-flipped copy
        0
        """
        for i, (known, e) in enumerate(zip(self.minima, self.energies)):
            if abs(e - energy) <= e_tol and self.distance(known, x) <= x_tol:
                return i
        self.minima.append(symmetry.canonical(x, self.n_inputs, self.n_hidden))
        self.energies.append(float(energy))
        return len(self.minima) - 1

    def add_chain(self, net: TanhClassifier, chain: list[transition.TransitionState], e_tol: float = 1e-7) -> None:
        """Record a chain from :func:`transition.connect`, adding minima it passed through.

        A transition state already recorded (same pair of minima, same loss) is not added again.

        >>> from course.landscape.datasets import checkerboard
        >>> net = TanhClassifier(*checkerboard(20, rng=0), n_hidden=2, l2=1e-2)
        >>> land = explore(net, 8, rng=0)
        >>> ts = transition.TransitionState(land.ts_weights[0], land.transition_states[0][2], np.zeros(1),
        ...                                 land.minima[0], land.minima[1])
        >>> land.add_chain(net, [ts]); len(land.transition_states)
        1
        """
        for ts in chain:
            i = self.add_minimum(ts.minus, net.loss(ts.minus))
            j = self.add_minimum(ts.plus, net.loss(ts.plus))
            duplicate = any({i, j} == {p, q} and abs(e - ts.energy) <= e_tol
                            for p, q, e in self.transition_states)
            if not duplicate:
                self.transition_states.append((i, j, ts.energy))
                self.ts_weights.append(symmetry.canonical(ts.x, self.n_inputs, self.n_hidden))

    def graph(self, n_levels: int = 10) -> disconnectivity.Graph:
        """The disconnectivity graph of the database (minima joined to nothing sit on their own).

        >>> graph = committed("breast-cancer").graph(5)
        >>> len(graph.level_energies), sorted(i for node in graph.level(5) for i in node.minima)
        (5, [0])
        """
        return disconnectivity.build(self.energies, self.transition_states, n_levels)

    def save(self, path: str | Path) -> None:
        """Write the database as ``.npz`` (arrays only, no pickles), for :meth:`load`.

        >>> import tempfile
        >>> land = committed("breast-cancer")
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     land.save(Path(folder) / "copy.npz")
        ...     again = Landscape.load(Path(folder) / "copy.npz")
        >>> [getattr(again, a) == getattr(land, a) for a in ("energies", "transition_states", "failures")]
        [True, True, True]
        """
        ts = np.array(self.transition_states, dtype=float).reshape(-1, 3)
        np.savez_compressed(path, shape=np.array([self.n_inputs, self.n_hidden]),
                            minima=np.array(self.minima).reshape(len(self.minima), -1),
                            energies=np.array(self.energies), ts=ts,
                            ts_weights=np.array(self.ts_weights).reshape(len(self.ts_weights), -1),
                            failures=np.array([f"{i} {j} {why}" for i, j, why in self.failures], dtype=str))

    @classmethod
    def load(cls, path: str | Path) -> "Landscape":
        """Read a database written by :meth:`save` (see its example)."""
        with np.load(path) as data:
            d, h = (int(v) for v in data["shape"])
            failures = [(int(f.split(" ", 2)[0]), int(f.split(" ", 2)[1]), f.split(" ", 2)[2])
                        for f in data["failures"]]
            return cls(d, h, list(data["minima"]), [float(e) for e in data["energies"]],
                       [(int(i), int(j), float(e)) for i, j, e in data["ts"]], list(data["ts_weights"]),
                       failures)


def explore(net: TanhClassifier, n_hops: int, step_size: float = 1.0, temperature: float = 0.05,
            n_neighbours: int = 2, rng: np.random.Generator | int | None = None,
            max_minima: int | None = None) -> Landscape:
    """Basin-hop for minima, then connect each of the lowest ``max_minima`` minima to the global
    minimum and to its ``n_neighbours`` nearest minima (symmetry-aware distance).

    Why these pairs: joining every minimum to the global one makes the graph one tree; the
    nearest neighbours add the low barriers between neighbouring basins that shape the funnels.
    BLAS runs on one thread: on problems this small, BLAS threads on a busy machine slow each
    L-BFGS-B step down instead of speeding it up.

    >>> from course.landscape.datasets import checkerboard
    >>> land = explore(TanhClassifier(*checkerboard(20, rng=0), n_hidden=2, l2=1e-2), 8, rng=0)
    >>> len(land.minima), [(i, j) for i, j, _ in land.transition_states], land.failures
    (2, [(0, 1)], [])
    >>> bool(land.transition_states[0][2] > max(land.energies))   # the barrier lies above both minima
    True
    """
    with threadpool_limits(limits=1, user_api="blas"):
        return _explore(net, n_hops, step_size, temperature, n_neighbours, np.random.default_rng(rng), max_minima)


def _explore(net: TanhClassifier, n_hops: int, step_size: float, temperature: float, n_neighbours: int,
             rng: np.random.Generator, max_minima: int | None) -> Landscape:
    d, h = net.n_inputs, net.n_hidden
    land = Landscape(d, h)
    found = minima.basin_hopping(net.loss_and_gradient, net.random_weights(rng), n_hops, step_size,
                                 temperature, rng, distance=land.distance,
                                 transform=lambda t: symmetry.canonical(t, d, h))
    for m in found[:max_minima]:
        land.add_minimum(m.x, m.energy)
    n = len(land.minima)
    pairs = {(0, i) for i in range(1, n)}
    for i in range(n):
        dist = [land.distance(land.minima[i], land.minima[j]) for j in range(n)]
        pairs |= {tuple(sorted((i, int(j)))) for j in np.argsort(dist)[1:n_neighbours + 1]}
    for i, j in sorted(pairs):
        try:
            chain = transition.connect(net.loss_and_gradient, net.hessian, land.minima[i], land.minima[j],
                                       distance=land.distance,
                                       align=lambda ref, x: symmetry.align(ref, x, d, h))
        except RuntimeError as error:
            land.failures.append((i, j, str(error)))
            continue
        land.add_chain(net, chain)
    return land


#: Networks whose explored landscape ships with the course (``course/landscape/data/NAME.npz``),
#: built by ``course landscapes`` (:mod:`course.experiments.landscapes`). Why these settings: on
#: the standardized breast-cancer data an L2 of 1e-2, or a subsample of 100 tumours, leaves one
#: minimum (up to symmetry), so there is nothing to connect; 450 tumours (119 held out for AUCs)
#: with 2 hidden units and L2 = 1e-3 give about ten.
COMMITTED = {"breast-cancer": dict(n_hidden=2, l2=1e-3, n_test=119, n_hops=60, step_size=1.0,
                                   max_minima=16, seed=0)}


def committed_path(name: str) -> Path:
    """Where the database ``name`` of :data:`COMMITTED` lives.

    >>> committed_path("breast-cancer").relative_to(Path(__file__).parent).as_posix()
    'data/breast-cancer.npz'
    """
    if name not in COMMITTED:
        raise KeyError(f"no committed landscape {name!r}; there are {sorted(COMMITTED)}")
    return Path(__file__).with_name("data") / f"{name}.npz"


def committed_split(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(X_train, X_test, y_train, y_test)``: a stratified split with ``n_test`` tumours held out.

    >>> X_train, X_test, y_train, y_test = committed_split("breast-cancer")
    >>> X_train.shape, X_test.shape
    ((450, 30), (119, 30))
    """
    from sklearn.model_selection import train_test_split

    from course.landscape import datasets

    settings = COMMITTED[name]
    X, y, _ = datasets.breast_cancer()
    return tuple(train_test_split(X, y, test_size=settings["n_test"], random_state=settings["seed"], stratify=y))


def committed_network(name: str) -> TanhClassifier:
    """The network (training data, width, L2) whose landscape :func:`committed` holds.

    >>> net, land = committed_network("breast-cancer"), committed("breast-cancer")
    >>> net.n_hidden, bool(np.isclose(net.loss(land.minima[0]), land.energies[0]))
    (2, True)
    """
    settings = COMMITTED[name]
    X_train, _, y_train, _ = committed_split(name)
    return TanhClassifier(X_train, y_train, n_hidden=settings["n_hidden"], l2=settings["l2"])


def build_committed(name: str) -> Landscape:
    """Explore the landscape of :func:`committed_network` with the settings of :data:`COMMITTED`.

    ``course landscapes`` runs it and saves the result; it takes minutes, so the example is not run::

        build_committed("breast-cancer").save(committed_path("breast-cancer"))
    """
    s = COMMITTED[name]
    return explore(committed_network(name), s["n_hops"], step_size=s["step_size"], rng=s["seed"],
                   max_minima=s["max_minima"])


def committed(name: str) -> Landscape:
    """Load the committed database ``name`` (see :data:`COMMITTED`): a quick budget's landscape.

    >>> land = committed("breast-cancer")
    >>> bool(min(land.energies) == land.energies[0] > 0)   # lowest minimum first
    True
    """
    return Landscape.load(committed_path(name))
