"""A single-hidden-layer tanh classifier whose weights are one flat vector, so that its loss is a
function on R^n like a potential energy surface: value, analytic gradient and Hessian.

Layout of the vector: ``[W (h x d, row by row), b (h), v (h), c]``; the logit of an input x is
``v . tanh(W x + b) + c`` and the loss is the mean binary cross-entropy plus ``l2/2 |theta|^2``.
The L2 term keeps minima isolated points (no flat directions off to infinity) and is invariant
under the network's symmetries, so permuted or sign-flipped copies of a minimum are minima too.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def n_params(n_inputs: int, n_hidden: int) -> int:
    """Length of the flat weight vector: ``h*d + 2h + 1``.

    >>> n_params(2, 3)
    13
    """
    return n_hidden * n_inputs + 2 * n_hidden + 1


def unpack(theta: np.ndarray, n_inputs: int, n_hidden: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Split a flat vector into ``(W, b, v, c)`` (views, no copy) so code reads like the formulas.

    >>> W, b, v, c = unpack(np.arange(13.0), 2, 3); W.shape, b.tolist(), v.tolist(), c
    ((3, 2), [6.0, 7.0, 8.0], [9.0, 10.0, 11.0], 12.0)
    """
    theta = np.asarray(theta, dtype=float)
    expected = n_params(n_inputs, n_hidden)
    if theta.shape != (expected,):
        raise ValueError(f"weight vector has shape {theta.shape}; a {n_inputs}-input network with "
                         f"{n_hidden} hidden units needs ({expected},)")
    hd = n_hidden * n_inputs
    W = theta[:hd].reshape(n_hidden, n_inputs)
    return W, theta[hd:hd + n_hidden], theta[hd + n_hidden:hd + 2 * n_hidden], float(theta[-1])


def pack(W: np.ndarray, b: np.ndarray, v: np.ndarray, c: float) -> np.ndarray:
    """Inverse of :func:`unpack`: one flat vector from the four blocks.

    >>> pack(np.ones((2, 1)), np.zeros(2), np.array([1.0, -1.0]), 0.5).tolist()
    [1.0, 1.0, 0.0, 0.0, 1.0, -1.0, 0.5]
    """
    W = np.asarray(W, dtype=float)
    return np.concatenate([W.ravel(), np.ravel(b), np.ravel(v), [float(c)]])


def logits(theta: np.ndarray, X: np.ndarray, n_hidden: int) -> np.ndarray:
    """Logits ``v . tanh(W x + b) + c`` for every row of ``X``: what the symmetry must preserve.

    >>> logits(pack(np.zeros((1, 2)), [0.0], [1.0], 0.3), np.ones((4, 2)), 1).tolist()
    [0.3, 0.3, 0.3, 0.3]
    """
    X = np.asarray(X, dtype=float)
    W, b, v, c = unpack(theta, X.shape[1], n_hidden)
    return np.tanh(X @ W.T + b) @ v + c


@dataclass
class TanhClassifier:
    """Loss surface of one data set: ``loss``, ``gradient`` and ``hessian`` of the flat weights.

    >>> net = TanhClassifier(np.eye(2), np.array([0, 1]), n_hidden=1, l2=0.0)
    >>> round(net.loss(np.zeros(net.n_params)), 4)   # log 2: the logit is 0 everywhere
    0.6931
    """

    X: np.ndarray
    y: np.ndarray
    n_hidden: int
    l2: float = 1e-4
    n_inputs: int = field(init=False)

    def __post_init__(self) -> None:
        self.X = np.asarray(self.X, dtype=float)
        self.y = np.asarray(self.y, dtype=float)
        if self.X.ndim != 2 or self.y.shape != (self.X.shape[0],):
            raise ValueError(f"X must be (n, d) and y (n,); got X {self.X.shape} and y {self.y.shape}")
        bad = ~np.isin(self.y, (0.0, 1.0))
        if bad.any():
            raise ValueError(f"labels must be 0 or 1; row {int(np.flatnonzero(bad)[0])} has {self.y[bad][0]}")
        if self.n_hidden < 1:
            raise ValueError(f"need at least one hidden unit, got n_hidden={self.n_hidden}")
        self.n_inputs = self.X.shape[1]

    @property
    def n_params(self) -> int:
        """Length of the weight vector, ``h*d + 2h + 1``.

        >>> TanhClassifier(np.eye(2), np.array([0, 1]), n_hidden=1).n_params
        5
        """
        return n_params(self.n_inputs, self.n_hidden)

    def random_weights(self, rng: np.random.Generator | int | None = None, scale: float = 1.0) -> np.ndarray:
        """A Gaussian starting point for a minimization (std ``scale``), reproducible from ``rng``.

        >>> net = TanhClassifier(np.eye(2), np.array([0, 1]), n_hidden=1)
        >>> net.random_weights(0).shape, bool((net.random_weights(0) == net.random_weights(0)).all())
        ((5,), True)
        """
        return np.random.default_rng(rng).normal(0.0, scale, self.n_params)

    def predict_proba(self, theta: np.ndarray, X: np.ndarray | None = None) -> np.ndarray:
        """P(y = 1 | x) for the rows of ``X`` (the training inputs by default), e.g. for an AUC.

        >>> net = TanhClassifier(np.eye(2), np.array([0, 1]), n_hidden=1)
        >>> net.predict_proba(pack(np.zeros((1, 2)), [0.0], [0.0], np.log(3.0))).round(6).tolist()  # logit log 3
        [0.75, 0.75]
        """
        z = logits(theta, self.X if X is None else X, self.n_hidden)
        return 0.5 * (1.0 + np.tanh(0.5 * z))

    def loss(self, theta: np.ndarray) -> float:
        """Mean cross-entropy plus ``l2/2 |theta|^2``: the landscape's height.

        The penalty at ``theta = 1`` (5 weights) is ``0.5/2 * 5 = 1.25``:

        >>> with_l2, without = (TanhClassifier(np.eye(2), np.array([0, 1]), 1, l2=l2) for l2 in (0.5, 0.0))
        >>> round(with_l2.loss(np.ones(5)) - without.loss(np.ones(5)), 12)
        1.25
        """
        return self.loss_and_gradient(theta)[0]

    def gradient(self, theta: np.ndarray) -> np.ndarray:
        """Analytic gradient of :meth:`loss` (backpropagation through one tanh layer).

        >>> net = TanhClassifier(np.eye(2), np.array([0, 1]), n_hidden=1)
        >>> theta, e = net.random_weights(0), 1e-6 * np.eye(5)[0]
        >>> bool(np.isclose(net.gradient(theta)[0], (net.loss(theta + e) - net.loss(theta - e)) / 2e-6))
        True
        """
        return self.loss_and_gradient(theta)[1]

    def loss_and_gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Loss and gradient in one pass, the form scipy's minimizers take with ``jac=True``.

        With ``z = tanh(XW^T + b) v + c`` and ``r = (sigmoid(z) - y)/n`` the chain rule gives
        ``dv = H^T r``, ``dc = sum r`` and ``dA = r v^T (1 - H^2)`` for the pre-activations,
        then ``dW = dA^T X`` and ``db = sum dA``.

        >>> from scipy.optimize import minimize
        >>> net = TanhClassifier(np.eye(2), np.array([0, 1]), n_hidden=1, l2=1e-2)
        >>> fit = minimize(net.loss_and_gradient, net.random_weights(0), jac=True)
        >>> p = net.predict_proba(fit.x); fit.success, bool(p[0] < 0.5 < p[1])
        (True, True)
        """
        theta = np.asarray(theta, dtype=float)
        W, b, v, c = unpack(theta, self.n_inputs, self.n_hidden)
        H = np.tanh(self.X @ W.T + b)
        z = H @ v + c
        n = len(self.y)
        loss = float(np.mean(np.logaddexp(0.0, z) - self.y * z)) + 0.5 * self.l2 * float(theta @ theta)
        r = (0.5 * (1.0 + np.tanh(0.5 * z)) - self.y) / n
        dA = np.outer(r, v) * (1.0 - H**2)
        grad = pack(dA.T @ self.X, dA.sum(axis=0), H.T @ r, r.sum()) + self.l2 * theta
        return loss, grad

    def hessian(self, theta: np.ndarray, step: float = 1e-5) -> np.ndarray:
        """Hessian by central differences of the analytic gradient, symmetrized.

        Why: the index of a stationary point (number of negative eigenvalues) tells a minimum
        (0) from a transition state (1); the error is O(step^2) from the gradient's precision.

        >>> net = TanhClassifier(np.eye(2), np.array([0, 1]), n_hidden=1)
        >>> H = net.hessian(net.random_weights(0))
        >>> H.shape, bool(np.allclose(H, H.T))
        ((5, 5), True)
        """
        theta = np.asarray(theta, dtype=float)
        n = theta.size
        hess = np.empty((n, n))
        for i in range(n):
            shift = np.zeros(n)
            shift[i] = step
            hess[i] = (self.gradient(theta + shift) - self.gradient(theta - shift)) / (2 * step)
        return 0.5 * (hess + hess.T)
