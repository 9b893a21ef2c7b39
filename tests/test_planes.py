"""The plane through a molecule and its grid, against a covariance eigenvector and plain geometry."""
import numpy as np
import pytest

from course.features.planes import draw_on_plane, molecular_plane, plane_grid


def rotation(seed):
    return np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))[0]


def ring(n=6, radius=1.4):
    angles = 2 * np.pi * np.arange(n) / n
    return np.stack([radius * np.cos(angles), radius * np.sin(angles), np.zeros(n)], axis=1)


def test_a_planar_molecule_lies_in_its_plane_with_its_distances_kept():
    xyz = ring() @ rotation(0).T + [1.0, -2.0, 3.0]
    grid = plane_grid(xyz, spacing=0.2, margin=1.5)
    np.testing.assert_allclose(grid.atoms_height, 0.0, atol=1e-12)
    in_plane = np.linalg.norm(grid.atoms_uv[:, None] - grid.atoms_uv[None], axis=-1)
    np.testing.assert_allclose(in_plane, np.linalg.norm(xyz[:, None] - xyz[None], axis=-1), atol=1e-12)
    np.testing.assert_allclose(abs(grid.normal @ rotation(0)[:, 2]), 1.0, atol=1e-12)  # the ring's own axis


def test_the_normal_is_the_direction_of_least_spread():
    xyz = np.random.default_rng(1).normal(size=(9, 3)) * [2.0, 1.0, 0.3] @ rotation(2).T
    origin, axes, normal = molecular_plane(xyz)
    values, vectors = np.linalg.eigh(np.cov(xyz.T))
    np.testing.assert_allclose(abs(normal @ vectors[:, 0]), 1.0, atol=1e-10)
    np.testing.assert_allclose(abs(axes[0] @ vectors[:, 2]), 1.0, atol=1e-10)
    np.testing.assert_allclose(np.vstack([axes, normal]) @ np.vstack([axes, normal]).T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(origin, xyz.mean(0), atol=1e-12)


def test_grid_points_sit_at_the_height_and_cover_the_atoms():
    xyz = np.random.default_rng(3).normal(size=(7, 3)) * [2.0, 1.5, 0.4]
    grid = plane_grid(xyz, spacing=0.25, margin=1.0, height=0.8)
    assert grid.points.shape == (grid.shape[0] * grid.shape[1], 3)
    np.testing.assert_allclose((grid.points - grid.origin) @ grid.normal, 0.8, atol=1e-12)
    uv = (grid.points - grid.origin) @ grid.axes.T
    uu, vv = np.meshgrid(grid.u, grid.v)
    np.testing.assert_allclose(uv, np.stack([uu.ravel(), vv.ravel()], 1), atol=1e-12)  # row-major over (v, u)
    np.testing.assert_allclose(np.diff(grid.u), 0.25, atol=1e-12)
    for k, axis in enumerate((grid.u, grid.v)):
        assert axis.min() <= grid.atoms_uv[:, k].min() - 1.0 + 1e-9 and axis.max() >= grid.atoms_uv[:, k].max() + 1.0 - 1e-9
    np.testing.assert_allclose(grid.atoms_uv @ grid.axes + grid.atoms_height[:, None] * grid.normal + grid.origin, xyz,
                               atol=1e-12)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="one line"):
        molecular_plane(np.array([[0, 0, 0], [1, 1, 1], [2, 2, 2.0]]))
    with pytest.raises(ValueError, match="shape"):
        molecular_plane(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="spacing"):
        plane_grid(ring(), spacing=0.0)


def test_the_drawing_puts_atoms_where_the_grid_has_them():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xyz = ring() @ rotation(4).T
    fig, ax = plt.subplots()
    atoms = draw_on_plane(ax, xyz, [6, 6, 7, 6, 6, 8], [(k, (k + 1) % 6) for k in range(6)], colors=np.arange(6.0))
    np.testing.assert_allclose(atoms.get_offsets(), plane_grid(xyz).atoms_uv, atol=1e-12)
    np.testing.assert_allclose(atoms.get_array(), np.arange(6.0))
    assert len(ax.lines) == 6 and [t.get_text() for t in ax.texts] == ["C", "C", "N", "C", "C", "O"]
    with pytest.raises(ValueError, match="atomic numbers"):
        draw_on_plane(ax, xyz, [6, 6], [])
    plt.close(fig)
