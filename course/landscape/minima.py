"""Basin-hopping: find many low minima of a rugged function by hopping between basins.

Each step perturbs the current minimum at random, minimizes locally (L-BFGS-B with the analytic
gradient) and accepts the new minimum with the Metropolis probability ``min(1, exp(-dE/T))``.
Every distinct minimum met is recorded, accepted or not; "distinct" is decided by a caller's
distance (for networks one that ignores the weight-space symmetry) and the loss.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

FunGrad = Callable[[np.ndarray], tuple[float, np.ndarray]]
Distance = Callable[[np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class Minimum:
    """One local minimum: its coordinates, its height and how often basin-hopping reached it.

    >>> Minimum(np.array([1.0]), 0.0, hits=3).hits
    3
    """

    x: np.ndarray
    energy: float
    hits: int = 1


def euclidean(a: np.ndarray, b: np.ndarray) -> float:
    """Plain distance, for landscapes without symmetry (the 2-D toy functions).

    >>> euclidean(np.zeros(2), np.array([3.0, 4.0]))
    5.0
    """
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))


def local_minimum(fun_grad: FunGrad, x0: np.ndarray, gtol: float = 1e-8, max_iter: int = 5000
                  ) -> tuple[np.ndarray, float]:
    """Quench ``x0`` to the bottom of its basin with L-BFGS-B; returns ``(x, energy)``.

    >>> x, e = local_minimum(lambda x: (float(x @ x), 2 * x), np.ones(3)); round(e, 12)
    0.0
    """
    result = minimize(fun_grad, np.asarray(x0, dtype=float), jac=True, method="L-BFGS-B",
                      options={"gtol": gtol, "ftol": 1e-15, "maxiter": max_iter, "maxcor": 30})
    return result.x, float(result.fun)


def find_match(minima: list[Minimum], x: np.ndarray, energy: float, distance: Distance,
               x_tol: float, e_tol: float) -> int | None:
    """Index of the recorded minimum that ``(x, energy)`` duplicates, or None if it is new.

    >>> find_match([Minimum(np.zeros(1), 0.0)], np.array([1e-5]), 1e-9, euclidean, 1e-3, 1e-6)
    0
    """
    for i, known in enumerate(minima):
        if abs(known.energy - energy) <= e_tol and distance(known.x, x) <= x_tol:
            return i
    return None


def basin_hopping(fun_grad: FunGrad, x0: np.ndarray, n_steps: int, step_size: float,
                  temperature: float, rng: np.random.Generator | int | None = None,
                  distance: Distance = euclidean, x_tol: float = 1e-3, e_tol: float = 1e-7,
                  transform: Callable[[np.ndarray], np.ndarray] | None = None) -> list[Minimum]:
    """All distinct minima met in ``n_steps`` hops from ``x0``, lowest energy first.

    ``step_size`` is the std of the Gaussian kick on every coordinate; ``temperature`` sets how
    readily uphill hops are accepted (in loss units). ``transform`` maps each new minimum to
    the form that is stored (e.g. the canonical form of a network's weights).

    >>> f = lambda x: (float((x[0]**2 - 1)**2), np.array([4 * x[0] * (x[0]**2 - 1)]))
    >>> sorted(round(float(m.x[0]), 6) for m in basin_hopping(f, np.array([0.9]), 30, 1.0, 1.0, 0))
    [-1.0, 1.0]
    """
    if n_steps < 0 or step_size <= 0 or temperature <= 0:
        raise ValueError(f"need n_steps >= 0, step_size > 0 and temperature > 0; got {n_steps}, "
                         f"{step_size}, {temperature}")
    rng = np.random.default_rng(rng)
    keep = transform or (lambda x: x)
    minima: list[Minimum] = []

    def record(x: np.ndarray, energy: float) -> None:
        x = keep(x)
        i = find_match(minima, x, energy, distance, x_tol, e_tol)
        if i is None:
            minima.append(Minimum(x, energy))
        else:
            minima[i] = Minimum(minima[i].x, minima[i].energy, minima[i].hits + 1)

    current, current_e = local_minimum(fun_grad, x0)
    record(current, current_e)
    for _ in range(n_steps):
        trial, trial_e = local_minimum(fun_grad, current + rng.normal(0.0, step_size, current.shape))
        record(trial, trial_e)
        if trial_e <= current_e or rng.random() < np.exp(-(trial_e - current_e) / temperature):
            current, current_e = trial, trial_e
    return sorted(minima, key=lambda m: m.energy)
