"""The dense property model of Module 8 against a known function and its bookkeeping of the target scale."""
from __future__ import annotations

import numpy as np
import pytest

from course.models.dense_regressor import fit_dense_regressor


def data(seed=0, n=400):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    return x, 50.0 + 3.0 * np.abs(x[:, 0]) - 2.0 * x[:, 1] + x[:, 2] * x[:, 3]


def test_learns_a_nonlinear_function_in_the_targets_units():
    x, y = data()
    fitted = fit_dense_regressor(x[:300], y[:300], hidden=(32,), epochs=60, learning_rate=3e-3)
    assert fitted.mean == pytest.approx(y[:300].mean()) and fitted.std == pytest.approx(y[:300].std())
    mae = np.abs(fitted.predict(x[300:]) - y[300:]).mean()
    baseline = np.abs(y[300:] - y[:300].mean()).mean()
    assert mae < 0.3 * baseline, (mae, baseline)
    assert fitted.losses[-1] < fitted.losses[0]
    # the network itself predicts the standardized target
    z = fitted.model.predict(x[300:], verbose=0)[:, 0]
    np.testing.assert_allclose(fitted.mean + fitted.std * z, fitted.predict(x[300:]), rtol=1e-5)


def test_keeps_the_best_validation_epoch_and_rejects_bad_input():
    x, y = data(1)
    fitted = fit_dense_regressor(x[:300], y[:300], epochs=12, learning_rate=0.05, x_val=x[300:], y_val=y[300:])
    kept = np.abs(fitted.predict(x[300:]) - y[300:]).mean() / fitted.std
    assert kept == pytest.approx(min(fitted.model.history.history["val_loss"]), rel=1e-4)
    with pytest.raises(ValueError, match="both"):
        fit_dense_regressor(x, y, x_val=x)
    with pytest.raises(ValueError, match="constant"):
        fit_dense_regressor(x, np.ones(len(x)))
    with pytest.raises(ValueError, match="shape|must be"):
        fit_dense_regressor(x, y[:10])
