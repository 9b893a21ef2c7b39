"""Disconnectivity graphs with the levels and nodes of Niroomand and Wales: evenly spaced loss
levels (level 1 the highest), and at each level one node per group of minima that lie below it
and are joined by transition states below it; a node's parent is the node one level up that
contains it. Nodes are labelled ``level_node``.

Why: the graph shows which minima are separated by high barriers (funnels), which is what the
conserved weights are computed over.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


@dataclass(frozen=True)
class Node:
    """Minima (indices) grouped at one level; ``index`` 1 holds the level's lowest minimum.

    >>> build([0.0, 1.0], [(0, 1, 2.0)], level_energies=[2.0, 1.0]).nodes[0]
    Node(level=1, index=1, minima=(0, 1), parent=None)
    """

    level: int
    index: int
    minima: tuple[int, ...]
    parent: str | None

    @property
    def label(self) -> str:
        """``level_node``, as the paper labels groups.

        >>> Node(2, 1, (0,), "1_1").label
        '2_1'
        """
        return f"{self.level}_{self.index}"


@dataclass(frozen=True)
class Graph:
    """Levels (their energies, level 1 first), nodes, and the minima's energies (see :func:`build`).

    >>> build([0.0, 1.0], [(0, 1, 2.0)], 3).level_energies.tolist()
    [2.0, 1.0, 0.0]
    """

    level_energies: np.ndarray
    nodes: tuple[Node, ...]
    minimum_energies: np.ndarray

    def node(self, label: str) -> Node:
        """The node called ``label``.

        >>> build([0.0, 1.0], [(0, 1, 2.0)], 3).node("2_2").minima
        (1,)
        """
        for node in self.nodes:
            if node.label == label:
                return node
        raise KeyError(f"no node {label!r}; the graph has levels 1..{len(self.level_energies)}")

    def level(self, level: int) -> list[Node]:
        """The nodes of one level, node 1 first.

        >>> [n.label for n in build([0.0, 1.0], [(0, 1, 2.0)], 3).level(2)]
        ['2_1', '2_2']
        """
        return [n for n in self.nodes if n.level == level]

    def children(self, label: str) -> list[Node]:
        """The nodes one level down whose parent is ``label``.

        >>> [n.minima for n in build([0.0, 1.0], [(0, 1, 2.0)], 3).children("1_1")]
        [(0,), (1,)]
        """
        return [n for n in self.nodes if n.parent == label]


def even_levels(minimum_energies: Sequence[float], ts_energies: Sequence[float], n_levels: int
                ) -> np.ndarray:
    """``n_levels`` evenly spaced energies from the highest transition state (level 1) down to
    the global minimum (the last level), the paper's choice.

    >>> even_levels([0.0, 1.0], [3.0], 4).tolist()
    [3.0, 2.0, 1.0, 0.0]
    """
    if n_levels < 2:
        raise ValueError(f"need at least 2 levels, got {n_levels}")
    top = max(ts_energies) if len(ts_energies) else max(minimum_energies)
    if top <= min(minimum_energies):
        raise ValueError(f"every minimum and transition state lies at {top}: evenly spaced levels need "
                         "a spread of energies (a second minimum, or explicit level_energies)")
    return np.linspace(top, min(minimum_energies), n_levels)


def build(minimum_energies: Sequence[float], transition_states: Iterable[tuple[int, int, float]],
          n_levels: int = 10, level_energies: Sequence[float] | None = None) -> Graph:
    """The tree of nodes from minima energies and ``(i, j, energy)`` transition states.

    A minimum belongs to a level when its energy is at or below the level's; two minima share a
    node when a chain of transition states at or below the level joins them.

    >>> g = build([0.0, 1.0, 0.5], [(0, 1, 2.0), (1, 2, 3.0)], level_energies=[3.0, 2.0, 0.5])
    >>> [(n.label, n.minima, n.parent) for n in g.nodes]
    [('1_1', (0, 1, 2), None), ('2_1', (0, 1), '1_1'), ('2_2', (2,), '1_1'), ('3_1', (0,), '2_1'), ('3_2', (2,), '2_2')]
    """
    energies = np.asarray(minimum_energies, dtype=float)
    m = len(energies)
    ts = list(transition_states)
    for k, (i, j, e) in enumerate(ts):
        if not (0 <= i < m and 0 <= j < m):
            raise ValueError(f"transition state {k} joins minima {i} and {j}; there are {m} minima")
        if e < max(energies[i], energies[j]):
            raise ValueError(f"transition state {k} ({e}) lies below minimum {i} ({energies[i]}) "
                             f"or {j} ({energies[j]}); a barrier must be above both")
    levels = (even_levels(energies, [e for *_, e in ts], n_levels) if level_energies is None
              else np.asarray(level_energies, dtype=float))
    if np.any(np.diff(levels) >= 0):
        raise ValueError(f"level energies must decrease from level 1 down: {levels.tolist()}")
    nodes: list[Node] = []
    previous: dict[int, str] = {}
    for level, height in enumerate(levels, start=1):
        pairs = [(i, j) for i, j, e in ts if e <= height]
        adjacency = coo_matrix((np.ones(len(pairs)), ([p[0] for p in pairs], [p[1] for p in pairs])),
                               shape=(m, m))
        _, component = connected_components(adjacency, directed=False)
        below = np.flatnonzero(energies <= height)
        groups: dict[int, list[int]] = {}
        for i in below:
            groups.setdefault(int(component[i]), []).append(int(i))
        ordered = sorted(groups.values(), key=lambda g: (energies[g].min(), min(g)))
        current: dict[int, str] = {}
        for index, members in enumerate(ordered, start=1):
            node = Node(level, index, tuple(members), previous.get(members[0]))
            nodes.append(node)
            current.update({i: node.label for i in members})
        previous = current
    return Graph(levels, tuple(nodes), energies)


def _layout(graph: Graph) -> tuple[dict[str, float], dict[int, float]]:
    """x positions: minima in depth-first order (lowest branch first), each node above the
    mean of what hangs directly below it."""
    node_x: dict[str, float] = {}
    minimum_x: dict[int, float] = {}
    energies = graph.minimum_energies

    def place(node: Node) -> float:
        children = graph.children(node.label)
        in_children = {i for c in children for i in c.minima}
        items: list[tuple[float, Node | int]] = [(energies[list(c.minima)].min(), c) for c in children]
        items += [(energies[i], i) for i in node.minima if i not in in_children]
        xs = []
        for _, item in sorted(items, key=lambda t: t[0]):
            if isinstance(item, Node):
                xs.append(place(item))
            else:
                minimum_x[item] = float(len(minimum_x))
                xs.append(minimum_x[item])
        node_x[node.label] = float(np.mean(xs))
        return node_x[node.label]

    for top in graph.level(1):
        place(top)
    return node_x, minimum_x


def draw(graph: Graph, ax=None, colors: dict[str, str] | None = None,
         labels: Iterable[str] | bool = False, color: str = "0.3"):
    """Draw the tree with matplotlib: a line from each node down to each child node and to each
    minimum that first hangs from it; returns the Axes.

    ``colors`` maps node labels to colours (the node and everything below it), ``labels`` is
    True for every node's ``level_node`` label or a selection of labels to print.

    >>> ax = draw(build([0.0, 1.0], [(0, 1, 2.0)], 3), labels=True)
    >>> len(ax.lines)   # stub above 1_1, 1_1 -> 2_1 and 2_2, 2_1 -> 3_1, one line to each minimum
    6
    """
    import matplotlib.pyplot as plt

    ax = ax if ax is not None else plt.subplots(figsize=(6, 4))[1]
    node_x, minimum_x = _layout(graph)
    levels = graph.level_energies
    spacing = abs(levels[0] - levels[-1]) / max(len(levels) - 1, 1) or 1.0
    colors = colors or {}
    chosen = {n.label for n in graph.nodes} if labels is True else set(labels or ())

    def colour_of(node: Node) -> str:
        while node is not None:
            if node.label in colors:
                return colors[node.label]
            node = graph.node(node.parent) if node.parent else None
        return color

    for node in graph.nodes:
        x, e = node_x[node.label], levels[node.level - 1]
        c = colour_of(node)
        if node.parent is None:
            ax.plot([x, x], [e, e + 0.5 * spacing], color=c, lw=1)
        children = graph.children(node.label)
        for child in children:
            ax.plot([x, node_x[child.label]], [e, levels[child.level - 1]], color=colour_of(child), lw=1)
        in_children = {i for ch in children for i in ch.minima}
        for i in node.minima:
            if i not in in_children:
                ax.plot([x, minimum_x[i]], [e, graph.minimum_energies[i]], color=c, lw=1)
        if node.label in chosen:
            ax.annotate(node.label, (x, e), fontsize=7, ha="left", va="bottom", color=c)
    ax.set_xticks([])
    ax.set_ylabel("loss")
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    return ax
