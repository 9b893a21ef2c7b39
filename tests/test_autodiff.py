"""Backend autodiff against closed forms and finite differences."""
import keras
import numpy as np
from keras import ops

from course.models.autodiff import gradients


def test_quadratic_form_gradient_is_symmetrized_matrix_times_x():
    rng = np.random.default_rng(0)
    A, x = rng.normal(size=(4, 4)), rng.normal(size=4)
    (grad,) = gradients(lambda v: ops.sum(v * ops.matmul(ops.convert_to_tensor(A), v)), x)
    np.testing.assert_allclose(grad, (A + A.T) @ x, rtol=1e-5)


def test_two_layer_network_gradients_match_central_differences():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 1))
    W1, W2 = rng.normal(size=(3, 4)), rng.normal(size=(4, 1))

    def loss(w1, w2):
        hidden = ops.tanh(ops.matmul(ops.convert_to_tensor(X), w1))
        return ops.mean((ops.matmul(hidden, w2) - ops.convert_to_tensor(y)) ** 2)

    def loss_np(w1, w2):
        return float(np.mean((np.tanh(X @ w1) @ w2 - y) ** 2))

    g1, g2 = gradients(loss, W1, W2)
    h = 1e-6
    for grad, which in ((g1, 0), (g2, 1)):
        numeric = np.zeros_like(grad)
        for idx in np.ndindex(grad.shape):
            plus, minus = [W1.copy(), W2.copy()], [W1.copy(), W2.copy()]
            plus[which][idx] += h
            minus[which][idx] -= h
            numeric[idx] = (loss_np(*plus) - loss_np(*minus)) / (2 * h)
        np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-6)


def test_unused_argument_gets_zero_gradient():
    a, b = np.ones(3), np.ones(2)
    ga, gb = gradients(lambda u, v: ops.sum(u ** 2), a, b)
    np.testing.assert_allclose(ga, 2 * a)
    assert np.all(gb == 0) and gb.shape == b.shape
    assert keras.backend.backend() in {"tensorflow", "jax", "torch"}
