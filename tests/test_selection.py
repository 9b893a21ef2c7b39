"""The one-standard-error rule against a hand example and a brute-force walk along the path."""
import numpy as np
import pytest

from course.models.selection import one_standard_error_alpha


def walk(alphas, mse_path):
    # Independent route: sort by decreasing penalty, take the first one within the bound.
    order = sorted(range(len(alphas)), key=lambda i: -alphas[i])
    means = [sum(row) / len(row) for row in mse_path]
    best = min(range(len(means)), key=means.__getitem__)
    row, k = mse_path[best], len(mse_path[best])
    sd = (sum((e - means[best]) ** 2 for e in row) / (k - 1)) ** 0.5
    return next(alphas[i] for i in order if means[i] <= means[best] + sd / k**0.5)


def test_hand_example():
    # means 5, 2.1, 1.8, 1.9; best 1.8 with SE std(2.0, 1.6; ddof=1)/sqrt(2) = 0.2: bound 2.0
    assert one_standard_error_alpha([1.0, 0.5, 0.1, 0.01], [[5, 5], [2.2, 2.0], [2.0, 1.6], [1.9, 1.9]]) == 0.1


def test_agrees_with_a_walk_along_the_path_in_any_order():
    rng = np.random.default_rng(0)
    for _ in range(50):
        alphas = rng.permutation(np.logspace(-4, 1, 12))
        path = rng.uniform(1, 2, size=(12, 5))
        assert one_standard_error_alpha(alphas, path) == walk(list(alphas), path.tolist())


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match="mse_path"):
        one_standard_error_alpha([1.0, 0.1], [[1.0, 2.0]])
