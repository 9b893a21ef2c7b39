"""The dense property model of Module 8 against a known function and its bookkeeping of the target scale."""
from __future__ import annotations

import numpy as np
import pytest

from course.models.dense_regressor import fit_dense_regressor
from course.models.resumable import TrainConfig


def data(seed=0, n=400):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    return x, 50.0 + 3.0 * np.abs(x[:, 0]) - 2.0 * x[:, 1] + x[:, 2] * x[:, 3]


def test_learns_a_nonlinear_function_in_the_targets_units():
    x, y = data()
    fitted = fit_dense_regressor((x[:250], y[:250]), (x[250:300], y[250:300]),
                                 TrainConfig(epochs=60, batch_size=32, learning_rate=3e-3, patience=60), hidden=(32,))
    assert fitted.mean == pytest.approx(y[:250].mean()) and fitted.std == pytest.approx(y[:250].std())
    mae = np.abs(fitted.predict(x[300:]) - y[300:]).mean()
    baseline = np.abs(y[300:] - y[:250].mean()).mean()
    assert mae < 0.3 * baseline, (mae, baseline)
    assert fitted.history["curve"][-1]["loss"] < fitted.history["curve"][0]["loss"]
    # the network itself predicts the standardized target
    z = fitted.model.predict(x[300:], verbose=0)[:, 0]
    np.testing.assert_allclose(fitted.mean + fitted.std * z, fitted.predict(x[300:]), rtol=1e-5)


def test_keeps_the_best_validation_epoch_and_rejects_bad_input():
    x, y = data(1)
    config = TrainConfig(epochs=12, batch_size=32, learning_rate=0.05, patience=12)
    fitted = fit_dense_regressor((x[:300], y[:300]), (x[300:], y[300:]), config)
    kept = np.abs(fitted.predict(x[300:]) - y[300:]).mean()
    assert kept == pytest.approx(min(r["val_mae"] for r in fitted.history["curve"]), rel=1e-4)
    with pytest.raises(ValueError, match="constant"):
        fit_dense_regressor((x, np.ones(len(x))), (x, y), config)
    with pytest.raises(ValueError, match="must be"):
        fit_dense_regressor((x, y[:10]), (x, y), config)
