"""A plane through a molecule and a grid of points on it, for maps such as the DTNN's chemical
potential (:func:`course.models.dtnn.chemical_potential`).

The plane is the molecule's best-fitting plane: through the centre of its atoms, spanned by the two
principal axes of the atom positions (the directions of largest spread). For a planar molecule such
as benzene it contains every atom. In-plane coordinates (u, v) are in Å, so a map drawn with
``ax.set_aspect("equal")`` keeps the molecule's shape.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
