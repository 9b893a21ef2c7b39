"""A plane through a molecule, a grid of points on it and a drawing of the molecule in it, for maps
such as the DTNN's chemical potential (:func:`course.models.dtnn.chemical_potential`) and for
per-atom values such as its atomic contributions.

The plane is the molecule's best-fitting plane: through the centre of its atoms, spanned by the two
principal axes of the atom positions (the directions of largest spread). For a planar molecule such
as benzene it contains every atom. In-plane coordinates (u, v) are in Å, so a map drawn with
``ax.set_aspect("equal")`` keeps the molecule's shape.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

#: Element symbols of QM9's atomic numbers, for atom labels.
SYMBOLS = {1: "H", 6: "C", 7: "N", 8: "O", 9: "F"}


@dataclass(frozen=True)
class PlaneGrid:
    """Points on a plane through a molecule.

    ``points`` (n_v · n_u, 3) in Å, row-major over (v, u) so that ``values.reshape(shape)`` suits
    ``plt.contourf(u, v, ...)``; ``u`` (n_u,) and ``v`` (n_v,) the in-plane coordinates; ``atoms_uv``
    (A, 2) the atoms projected onto the plane; ``atoms_height`` (A,) their distances above it;
    ``origin`` (3,), ``axes`` (2, 3) and ``normal`` (3,) the plane itself."""

    points: np.ndarray
    u: np.ndarray
    v: np.ndarray
    atoms_uv: np.ndarray
    atoms_height: np.ndarray
    origin: np.ndarray
    axes: np.ndarray
    normal: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """(n_v, n_u): the shape of a map of values over the grid."""
        return len(self.v), len(self.u)


def molecular_plane(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(origin, axes (2, 3), normal): the centre of the atoms ``xyz`` (A, 3) and the orthonormal
    principal axes of their positions, largest spread first. Needs at least three atoms not on
    one line.

    >>> origin, axes, normal = molecular_plane(np.array([[0, 0, 5.0], [4, 0, 5], [0, 1, 5], [4, 1, 5]]))
    >>> origin.round(3).tolist(), np.abs(axes).round(3).tolist(), np.abs(normal).round(3).tolist()
    ([2.0, 0.5, 5.0], [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], [0.0, 0.0, 1.0])
    """
    xyz = np.asarray(xyz, dtype=float)
    if xyz.ndim != 2 or xyz.shape[1] != 3:
        raise ValueError(f"xyz must have shape (atoms, 3), got {xyz.shape}")
    origin = xyz.mean(axis=0)
    _, spread, directions = np.linalg.svd(xyz - origin)
    if len(spread) < 2 or spread[1] < 1e-8 * max(spread[0], 1.0):
        raise ValueError("a plane needs at least three atoms that are not on one line")
    return origin, directions[:2], np.cross(directions[0], directions[1])


def plane_grid(xyz: np.ndarray, spacing: float = 0.1, margin: float = 2.0, height: float = 0.0) -> PlaneGrid:
    """A grid with ``spacing`` (Å) on the plane of :func:`molecular_plane`, lifted ``height`` Å
    along its normal, covering the projected atoms and ``margin`` Å around them.

    >>> grid = plane_grid(np.array([[0, 0, 5.0], [4, 0, 5], [0, 1, 5], [4, 1, 5]]), spacing=0.5, margin=1.0)
    >>> grid.shape, grid.points.shape, float(grid.u.min()), float(grid.u.max())
    ((7, 13), (91, 3), -3.0, 3.0)
    >>> bool(np.abs(grid.points[:, 2] - 5.0).max() < 1e-12)      # the plane z = 5 holds every point
    True
    """
    if spacing <= 0 or margin < 0:
        raise ValueError(f"spacing must be > 0 and margin >= 0, got spacing={spacing}, margin={margin}")
    origin, axes, normal = molecular_plane(xyz)
    relative = np.asarray(xyz, dtype=float) - origin
    atoms_uv = relative @ axes.T
    low, high = atoms_uv.min(axis=0) - margin, atoms_uv.max(axis=0) + margin
    u, v = (spacing * np.arange(np.floor(a / spacing), np.ceil(b / spacing) + 0.5) for a, b in zip(low, high))
    uu, vv = np.meshgrid(u, v)
    points = origin + height * normal + uu.reshape(-1, 1) * axes[0] + vv.reshape(-1, 1) * axes[1]
    return PlaneGrid(points, u, v, atoms_uv, relative @ normal, origin, axes, normal)


def draw_on_plane(ax, xyz: np.ndarray, Z: Sequence[int], bonds: Iterable[tuple[int, int]], colors=None, **scatter):
    """Draw a molecule projected onto its :func:`molecular_plane` in the (u, v) frame of
    :func:`plane_grid`: ``bonds`` (pairs of atom indices) as grey lines, atoms as circles coloured
    by ``colors`` (one value per atom, or one colour) and labelled with their element. Extra
    keywords go to ``ax.scatter`` (e.g. ``cmap``, ``vmin``, ``s``). Returns the scatter, for a colour bar.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> water = np.array([[0, 0, 0], [0.76, 0.59, 0], [-0.76, 0.59, 0]])
    >>> atoms = draw_on_plane(ax, water, [8, 1, 1], [(0, 1), (0, 2)], colors=[-0.8, 0.4, 0.4], cmap="coolwarm")
    >>> len(ax.lines), [t.get_text() for t in ax.texts]
    (2, ['O', 'H', 'H'])
    """
    origin, axes, _ = molecular_plane(xyz)
    uv = (np.asarray(xyz, dtype=float) - origin) @ axes.T
    if len(Z) != len(uv):
        raise ValueError(f"{len(Z)} atomic numbers for {len(uv)} positions")
    for i, j in bonds:
        ax.plot(uv[[i, j], 0], uv[[i, j], 1], color="0.4", lw=1.5, zorder=1)
    atoms = ax.scatter(uv[:, 0], uv[:, 1], c=colors, edgecolors="k", zorder=2, **{"s": 330, **scatter})
    for (u, v), z in zip(uv, Z):
        ax.annotate(SYMBOLS.get(int(z), str(int(z))), (u, v), ha="center", va="center", fontsize=8, zorder=3)
    ax.set_aspect("equal")
    ax.margins(0.15)
    ax.axis("off")
    return atoms
