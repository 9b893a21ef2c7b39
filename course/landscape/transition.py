"""Transition states (index-1 saddles) between two minima: a climbing-image nudged elastic band
brings a chain of images close to the lowest path's highest point, eigenvector following
converges it onto the saddle, and the Hessian's eigenvalues confirm exactly one downhill mode.

Why a double-ended search: the barrier between two minima is the height of the saddle on the path
that joins them, which is what a disconnectivity graph needs; a straight line between two minima
overestimates it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from course.landscape.minima import FunGrad, local_minimum

Hessian = Callable[[np.ndarray], np.ndarray]


def interpolate(a: np.ndarray, b: np.ndarray, n_images: int) -> np.ndarray:
    """``n_images + 2`` evenly spaced points from ``a`` to ``b`` (ends included): the first band.

    >>> interpolate(np.zeros(1), np.ones(1), 3).ravel().tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    t = np.linspace(0.0, 1.0, n_images + 2)[:, None]
    return (1 - t) * np.asarray(a, dtype=float) + t * np.asarray(b, dtype=float)


def _tangents(path: np.ndarray, energies: np.ndarray) -> np.ndarray:
    """Upwind tangents of the interior images (Henkelman and Jonsson 2000), unit length."""
    forward = path[2:] - path[1:-1]
    backward = path[1:-1] - path[:-2]
    e_prev, e, e_next = energies[:-2, None], energies[1:-1, None], energies[2:, None]
    d_max = np.maximum(np.abs(e_next - e), np.abs(e_prev - e))
    d_min = np.minimum(np.abs(e_next - e), np.abs(e_prev - e))
    mixed = np.where(e_next > e_prev, forward * d_max + backward * d_min,
                     forward * d_min + backward * d_max)
    tau = np.where((e_next > e) & (e > e_prev), forward,
                   np.where((e_next < e) & (e < e_prev), backward, mixed))
    return tau / np.linalg.norm(tau, axis=1, keepdims=True)


def neb_forces(fun_grad: FunGrad, path: np.ndarray, spring: float, climb: bool
               ) -> tuple[np.ndarray, np.ndarray]:
    """NEB forces on the interior images and the energies of all images.

    Each image feels the true force perpendicular to the band and the springs' force along it;
    the climbing image (highest interior image) feels no spring and the true force with its
    component along the band reversed, so it climbs to the saddle.

    On a straight band across the double well ``(x^2 - 1)^2`` the true force is along the band,
    so only the climbing image (at the barrier top, where the gradient is 0) feels nothing:

    >>> f = lambda x: (float((x[0]**2 - 1)**2), np.array([4 * x[0] * (x[0]**2 - 1)]))
    >>> forces, energies = neb_forces(f, interpolate([-1.0], [1.0], 3), spring=1.0, climb=True)
    >>> forces.ravel().tolist(), energies.tolist()
    ([0.0, 0.0, 0.0], [0.0, 0.5625, 1.0, 0.5625, 0.0])
    """
    values = [fun_grad(x) for x in path]
    energies = np.array([e for e, _ in values])
    grads = np.array([g for _, g in values])[1:-1]
    tau = _tangents(path, energies)
    along = np.sum(grads * tau, axis=1, keepdims=True)
    lengths = np.linalg.norm(np.diff(path, axis=0), axis=1)
    forces = -grads + along * tau + spring * (lengths[1:] - lengths[:-1])[:, None] * tau
    if climb:
        top = int(np.argmax(energies[1:-1]))
        forces[top] = -grads[top] + 2 * along[top] * tau[top]
    return forces, energies


def nudged_elastic_band(fun_grad: FunGrad, a: np.ndarray, b: np.ndarray, n_images: int = 10,
                        spring: float = 1.0, n_iter: int = 2000, climb_after: int = 100,
                        f_tol: float = 1e-4, dt: float = 0.05, max_move: float = 0.1
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Relax a band of images between minima ``a`` and ``b`` with FIRE; returns (path, energies).

    FIRE (Bitzek et al. 2006) is damped dynamics that steers the velocity towards the force and
    speeds up while the force keeps pointing forward. Climbing starts after ``climb_after``
    steps, once the band has roughly found the path; it stops when the largest force on any
    image is below ``f_tol``.

    >>> f = lambda x: ((x[0]**2 - 1)**2 + x[1]**2, np.array([4*x[0]*(x[0]**2 - 1), 2*x[1]]))
    >>> path, e = nudged_elastic_band(f, np.array([-1.0, 0.3]), np.array([1.0, -0.2]), 5)
    >>> bool(np.allclose(path[np.argmax(e)], 0.0, atol=1e-3))   # the saddle of f is the origin
    True
    """
    path = interpolate(a, b, n_images)
    velocity = np.zeros_like(path[1:-1])
    alpha, steps_uphill_free, step = 0.1, 0, dt
    energies = np.zeros(len(path))
    for it in range(n_iter):
        climb = it >= climb_after
        forces, energies = neb_forces(fun_grad, path, spring, climb)
        if climb and np.abs(forces).max() < f_tol:
            break
        power = float(np.sum(forces * velocity))
        if power > 0:
            f_norm = np.linalg.norm(forces)
            velocity = (1 - alpha) * velocity + alpha * np.linalg.norm(velocity) * forces / f_norm
            steps_uphill_free += 1
            if steps_uphill_free > 5:
                step, alpha = min(step * 1.1, 10 * dt), alpha * 0.99
        else:
            velocity[:] = 0.0
            step, alpha, steps_uphill_free = step * 0.5, 0.1, 0
        velocity = velocity + step * forces
        move = step * velocity
        biggest = np.linalg.norm(move, axis=1).max()
        if biggest > max_move:
            move *= max_move / biggest
        path[1:-1] += move
    return path, energies


def morse_index(hessian: np.ndarray, tol: float = 1e-8) -> int:
    """Number of eigenvalues below ``-tol``: 0 at a minimum, 1 at a transition state.

    >>> morse_index(np.diag([-4.0, 2.0]))
    1
    """
    return int(np.sum(np.linalg.eigvalsh(hessian) < -tol))


def eigenvector_following(fun_grad: FunGrad, hessian: Hessian, x0: np.ndarray, g_tol: float = 1e-8,
                          max_step: float = 0.1, n_iter: int = 500) -> np.ndarray:
    """Converge ``x0`` onto an index-1 saddle: uphill along the lowest Hessian mode, downhill along
    all others (Cerjan-Miller / Wales step ``h_i = +-2 F_i / (|b_i| (1 + sqrt(1 + 4 F_i^2/b_i^2)))``
    with ``F_i`` the gradient's and ``b_i`` the curvature's component on mode ``i``).

    Why after the band: the band's highest image is only near the saddle; this converges it to
    the gradient tolerance in a few Newton-like steps.

    >>> f = lambda x: ((x[0]**2 - 1)**2 + x[1]**2, np.array([4*x[0]*(x[0]**2 - 1), 2*x[1]]))
    >>> h = lambda x: np.diag([12*x[0]**2 - 4, 2.0])
    >>> bool(np.allclose(eigenvector_following(f, h, np.array([0.3, 0.2])), 0.0, atol=1e-8))
    True
    """
    x = np.array(x0, dtype=float)
    for _ in range(n_iter):
        _, grad = fun_grad(x)
        if np.linalg.norm(grad) < g_tol:
            return x
        curvatures, modes = np.linalg.eigh(hessian(x))
        force = modes.T @ grad
        size = np.maximum(np.abs(curvatures), 1e-12)
        h = 2 * force / (size * (1 + np.sqrt(1 + 4 * force**2 / size**2)))
        h[1:] = -h[1:]
        h = np.clip(h, -max_step, max_step)
        x = x + modes @ h
    raise RuntimeError(f"eigenvector following did not converge in {n_iter} steps "
                       f"(|g| = {np.linalg.norm(fun_grad(x)[1]):.2e})")


@dataclass(frozen=True)
class TransitionState:
    """A converged saddle, its Hessian spectrum and the minima its two downhill sides fall into.

    Made by :func:`transition_state` (see its example).
    """

    x: np.ndarray
    energy: float
    eigenvalues: np.ndarray
    minus: np.ndarray
    plus: np.ndarray

    @property
    def index(self) -> int:
        """Number of negative eigenvalues; 1 for a true transition state.

        >>> TransitionState(np.zeros(2), 1.0, np.array([-4.0, 2.0]), np.array([-1.0, 0]), np.array([1.0, 0])).index
        1
        """
        return int(np.sum(self.eigenvalues < 0))


def transition_state(fun_grad: FunGrad, hessian: Hessian, a: np.ndarray, b: np.ndarray,
                     n_images: int = 10, spring: float = 1.0, push: float = 1e-2,
                     eig_tol: float = 1e-8, **band: float) -> TransitionState:
    """CI-NEB from ``a`` to ``b``, eigenvector following, then a quench down each side.

    Raises if the refined point is not index 1 (eigenvalues below ``-eig_tol`` counted; ones
    within ``eig_tol`` of zero make it ambiguous and also raise). The sides are found by stepping
    ``push`` along the downhill eigenvector both ways and minimizing; the caller checks that they
    are ``a`` and ``b`` (a band can pass through intermediate minima).

    >>> f = lambda x: ((x[0]**2 - 1)**2 + x[1]**2, np.array([4*x[0]*(x[0]**2 - 1), 2*x[1]]))
    >>> h = lambda x: np.array([[12*x[0]**2 - 4, 0.0], [0.0, 2.0]])
    >>> ts = transition_state(f, h, np.array([-1.0, 0.0]), np.array([1.0, 0.0]), 5)
    >>> ts.index, round(ts.energy, 8), sorted(np.round([ts.minus[0], ts.plus[0]], 6).tolist())
    (1, 1.0, [-1.0, 1.0])
    """
    path, energies = nudged_elastic_band(fun_grad, a, b, n_images, spring, **band)
    x = eigenvector_following(fun_grad, hessian, path[1 + int(np.argmax(energies[1:-1]))])
    eigenvalues, modes = np.linalg.eigh(hessian(x))
    if np.any(np.abs(eigenvalues) < eig_tol):
        raise RuntimeError(f"saddle has a zero Hessian eigenvalue ({eigenvalues[np.argmin(np.abs(eigenvalues))]:.1e}):"
                           " its index is not defined")
    index = int(np.sum(eigenvalues < 0))
    if index != 1:
        raise RuntimeError(f"the refined stationary point has index {index}, not 1 (eigenvalues "
                           f"{np.round(eigenvalues[:3], 6).tolist()}...)")
    minus, _ = local_minimum(fun_grad, x - push * modes[:, 0])
    plus, _ = local_minimum(fun_grad, x + push * modes[:, 0])
    return TransitionState(x, float(fun_grad(x)[0]), eigenvalues, minus, plus)


def connect(fun_grad: FunGrad, hessian: Hessian, a: np.ndarray, b: np.ndarray,
            distance: Callable[[np.ndarray, np.ndarray], float] = lambda p, q: float(np.linalg.norm(p - q)),
            align: Callable[[np.ndarray, np.ndarray], np.ndarray] = lambda ref, x: x,
            same_tol: float = 1e-4, max_depth: int = 4, **search: float) -> list[TransitionState]:
    """A chain of transition states leading from minimum ``a`` to minimum ``b``.

    One band search may find a saddle whose sides are ``a`` and a third minimum ``m`` (the band
    crossed another basin); then the gaps ``a``-``m`` or ``m``-``b`` are connected in turn, up to
    ``max_depth`` nested searches. Each state in the list is oriented so that ``minus`` is the
    side nearer the start; consecutive states share a minimum. ``distance`` and ``align`` make the
    search ignore a symmetry (for networks: :func:`symmetry.distance` and :func:`symmetry.align`).

    >>> f = lambda x: (float(np.sin(3 * x[0]) + x[0]**2 / 10 + x[1]**2),
    ...                np.array([3 * np.cos(3 * x[0]) + x[0] / 5, 2 * x[1]]))
    >>> h = lambda x: np.diag([-9 * np.sin(3 * x[0]) + 0.2, 2.0])
    >>> a, _ = local_minimum(f, np.array([-0.5, 0.0])); b, _ = local_minimum(f, np.array([3.6, 0.0]))
    >>> chain = connect(f, h, a, b)      # a minimum near x = 1.54 lies between them
    >>> len(chain), [round(float(t.x[0]), 3) for t in chain]
    (2, [0.536, 2.678])
    """
    if max_depth < 0:
        raise RuntimeError("connect: the search nests too deep; the minima may lie many basins apart")
    b = align(a, b)
    ts = transition_state(fun_grad, hessian, a, b, **search)
    first, second = align(a, ts.minus), align(a, ts.plus)
    if distance(second, a) + distance(first, b) < distance(first, a) + distance(second, b):
        first, second = second, first
    if distance(first, second) <= same_tol:
        raise RuntimeError("connect: both sides of the saddle fall into the same minimum")
    ts = TransitionState(ts.x, ts.energy, ts.eigenvalues, first, second)
    before = [] if distance(first, a) <= same_tol else connect(
        fun_grad, hessian, a, first, distance, align, same_tol, max_depth - 1, **search)
    after = [] if distance(second, b) <= same_tol else connect(
        fun_grad, hessian, second, b, distance, align, same_tol, max_depth - 1, **search)
    return [*before, ts, *after]
