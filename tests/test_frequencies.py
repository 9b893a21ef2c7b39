"""Frequency targets against hand cases and closed forms, then on all of QM9; the masked set loss of
the weave training code against numpy; the weave model's vector output."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from course.features.frequencies import (BANDS, DEFAULT_GRID, MAX_MODES, band_of, broadened_spectrum,
                                         error_per_band, frequencies_of, highest_frequency, is_linear, line_shape,
                                         mode_count, padded_frequencies, zero_point_energy)
from course.models.autodiff import gradients
from course.models.weave_training import masked_loss


def ragged(rng, counts, low=30.0, high=3900.0):
    """Random frequencies of molecules with ``counts`` modes, unsorted, as (freqs, offsets)."""
    return rng.uniform(low, high, size=int(np.sum(counts))), np.concatenate([[0], np.cumsum(counts)])


# ------------------------------------------------------------------ mode counts and geometry
def test_mode_counts_of_hand_molecules():
    water = np.array([[0, 0, 0.12], [0, 0.76, -0.47], [0, -0.76, -0.47]])
    co2 = np.array([[0, 0, 0], [0, 0, 1.16], [0, 0, -1.16]])
    hcch = np.array([[0, 0, -1.66], [0, 0, -0.60], [0, 0, 0.60], [0, 0, 1.66]])
    methane = np.array([[0, 0, 0], [0.63, 0.63, 0.63], [-0.63, -0.63, 0.63], [-0.63, 0.63, -0.63], [0.63, -0.63, -0.63]])
    assert [mode_count(m) for m in (water, co2, hcch, methane)] == [3, 4, 7, 9]  # 3N-6, 3N-5, 3N-5, 3N-6
    rotation = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))[0]
    assert is_linear(hcch @ rotation.T + [1.0, -2.0, 3.0])  # any line, anywhere
    bent = hcch.copy()
    bent[0, 0] = 0.05  # 0.05 Å off the axis
    assert not is_linear(bent) and mode_count(bent) == 6
    assert mode_count(np.array([[0.0, 0, 0], [0, 0, 0.74]])) == 1 and mode_count(np.zeros((1, 3))) == 0


# ------------------------------------------------------------------ ω₁ and the padded set
def test_highest_frequency_and_padded_sort_equal_numpy():
    rng = np.random.default_rng(1)
    counts = np.array([3, 81, 1, 24, 4, 9])
    freqs, offsets = ragged(rng, counts)
    values, mask = padded_frequencies(freqs, offsets)
    assert values.shape == mask.shape == (len(counts), MAX_MODES) == (6, 81)
    for k, n in enumerate(counts):
        own = freqs[offsets[k]:offsets[k + 1]]
        np.testing.assert_array_equal(values[k, :n], np.sort(own))
        assert not values[k, n:].any() and mask[k].sum() == n and mask[k, :n].all()
    np.testing.assert_array_equal(highest_frequency(freqs, offsets), [f.max() for f in np.split(freqs, offsets[1:-1])])
    with pytest.raises(ValueError, match="82 modes"):
        padded_frequencies(*ragged(rng, [82]))
    with pytest.raises(ValueError, match="at least one"):
        highest_frequency(np.array([1.0]), np.array([0, 1, 1]))


# ------------------------------------------------------------------ broadened spectrum
@pytest.mark.parametrize("width", [5.0, 20.0])
def test_gaussian_spectrum_has_one_unit_of_area_per_mode(width):
    rng = np.random.default_rng(2)
    counts = np.array([3, 12, 81])
    freqs, offsets = ragged(rng, counts, low=500, high=3500)  # tails far inside the default grid
    grid = np.arange(0.0, 4400.0, width)  # the coarsest grid allowed
    spectrum = broadened_spectrum(freqs, offsets, grid=grid, width=width)
    np.testing.assert_allclose(np.trapezoid(spectrum, grid, axis=1), counts, rtol=1e-6)
    # Its first moment over area is the mean frequency (Gaussians are symmetric).
    means = np.trapezoid(spectrum * grid, grid, axis=1) / counts
    np.testing.assert_allclose(means, [f.mean() for f in np.split(freqs, offsets[1:-1])], rtol=1e-6)
    with pytest.raises(ValueError, match="too coarse"):
        broadened_spectrum(freqs, offsets, grid=np.arange(0.0, 4400.0, 1.5 * width), width=width)


def test_lorentzian_area_on_a_finite_grid_is_the_arctangent_closed_form():
    grid = np.linspace(0.0, 4000.0, 40001)
    freqs, gamma = np.array([150.0, 1650.0, 3980.0]), 15.0
    spectrum = broadened_spectrum(freqs, np.array([0, 3]), grid=grid, width=gamma, shape="lorentzian")[0]
    closed = np.sum(np.arctan((grid[-1] - freqs) / gamma) - np.arctan((grid[0] - freqs) / gamma)) / np.pi
    np.testing.assert_allclose(np.trapezoid(spectrum, grid), closed, rtol=1e-6)
    assert closed < 2.99  # the heavy tails lose area that a Gaussian would keep
    assert line_shape(np.array(1650.0 + gamma), np.array(1650.0), gamma, "lorentzian") == pytest.approx(
        0.5 / (np.pi * gamma))  # half maximum at the half width


def test_spectrum_ignores_mode_order():
    rng = np.random.default_rng(3)
    freqs, offsets = ragged(rng, [20])
    np.testing.assert_allclose(broadened_spectrum(freqs, offsets), broadened_spectrum(rng.permutation(freqs), offsets))


# ------------------------------------------------------------------ bands
def test_bands_cover_the_spectrum_and_errors_are_binned_by_the_true_frequency():
    edges = [low for _, low, _ in BANDS]
    assert edges == sorted(edges) and edges[0] == 0 and BANDS[-1][2] == np.inf
    assert all(a[2] == b[1] for a, b in zip(BANDS, BANDS[1:]))  # contiguous
    np.testing.assert_array_equal(band_of(np.array([-10.0, 0.0, 499.9, 500.0, 2499.0, 2500.0, 4000.0])),
                                  [-1, 0, 0, 1, 3, 4, 4])
    rng = np.random.default_rng(4)
    freqs, offsets = ragged(rng, [30, 12, 45])
    true, mask = padded_frequencies(freqs, offsets)
    predicted = true + rng.normal(scale=20.0, size=true.shape) + 1e4 * (mask == 0)  # garbage in the padding
    errors = error_per_band(true, predicted, mask)
    assert list(errors) == [name for name, _, _ in BANDS]
    real = mask > 0
    for k, (name, low, high) in enumerate(BANDS):  # brute force, one band at a time
        here = real & (true >= low) & (true < high)
        assert errors[name]["n_modes"] == here.sum()
        assert errors[name]["mae"] == pytest.approx(np.abs(predicted - true)[here].mean())
    assert sum(e["n_modes"] for e in errors.values()) == real.sum()


# ------------------------------------------------------------------ the masked set loss
@pytest.mark.parametrize("kind", ["mae", "mse"])
def test_masked_set_loss_equals_numpy_and_ignores_padding(kind):
    rng = np.random.default_rng(5)
    freqs, offsets = ragged(rng, [7, 3, 12])
    values, mask = padded_frequencies(freqs, offsets, n_outputs=12)
    mask[2] = 0.0  # a padding molecule of the batch
    predicted = values + rng.normal(scale=50.0, size=values.shape)
    loss = masked_loss(kind, scale=40.0)
    error = ((values - predicted) / 40.0)[mask > 0]
    expected = np.abs(error).mean() if kind == "mae" else np.square(error).mean()
    y_true = np.hstack([values, mask])
    assert float(loss(y_true, predicted)) == pytest.approx(expected, rel=1e-12)
    changed = predicted.copy()
    changed[mask == 0] = rng.normal(scale=1e6, size=int((mask == 0).sum()))
    assert float(loss(y_true, changed)) == pytest.approx(expected, rel=1e-12)
    changed[0, -1] = np.inf  # even inf in a padded slot stays out
    assert float(loss(y_true, changed)) == pytest.approx(expected, rel=1e-12)
    (grad,) = gradients(lambda p: loss(keras.ops.convert_to_tensor(y_true), p), predicted)
    assert not grad[mask == 0].any() and np.abs(grad[mask > 0]).min() > 0


def test_masked_loss_keeps_its_scalar_format():
    """(M, 2) targets: value, then 1 for a real molecule; as the weave training writes them."""
    y_true = np.array([[2.0, 1.0], [5.0, 1.0], [0.0, 0.0]])
    y_pred = np.array([[1.0], [7.0], [100.0]])
    assert float(masked_loss("mae", 0.5)(y_true, y_pred)) == pytest.approx((1 + 2) / 0.5 / 2)
    assert float(masked_loss("mse", 1.0)(y_true, y_pred)) == pytest.approx((1 + 4) / 2)


def test_weave_model_with_vector_output_keeps_a_scalar_model_unchanged():
    from weave_cases import random_batch

    from course.models.weave import build_weave_model

    small = dict(width=5, n_layers=2, readout_width=4, head=(6,), distance_centers=(0.0, 1.5), distance_width=0.7,
                 dtype="float64")
    rng = np.random.default_rng(6)
    x = random_batch(rng, [4, 6], pad_to=6)
    keras.utils.set_random_seed(0)
    scalar = build_weave_model(**small)
    keras.utils.set_random_seed(0)
    vector = build_weave_model(**small, n_outputs=MAX_MODES)
    assert "n_outputs" not in scalar.config and vector.config["n_outputs"] == MAX_MODES
    differ = [v.path.split("/", 1)[1] for s, v in zip(scalar.weights, vector.weights) if s.shape != v.shape]
    assert len(scalar.weights) == len(vector.weights) and differ == ["head_out/kernel", "head_out/bias"]
    for s, v in zip(scalar.weights, vector.weights):  # the same weights below the output layer
        if s.shape == v.shape:
            v.assign(s)
    kernel = rng.normal(size=(6, MAX_MODES))
    vector.head[-1].kernel.assign(kernel)
    scalar.head[-1].kernel.assign(kernel[:, 3:4])
    out_vector, out_scalar = (keras.ops.convert_to_numpy(m(x)) for m in (vector, scalar))
    assert out_vector.shape == (2, MAX_MODES) and out_scalar.shape == (2, 1)
    np.testing.assert_allclose(out_vector[:, 3:4], out_scalar, rtol=1e-12)


# ------------------------------------------------------------------ all of QM9
@pytest.fixture(scope="module")
def qm9():
    from course.data import qm9

    return qm9.load(verbose=False)


def test_every_qm9_molecule_has_3n_minus_6_modes_or_3n_minus_5_if_linear(qm9):
    counts = np.diff(qm9.freq_offsets)
    n = np.diff(qm9.offsets)
    assert np.all((counts == 3 * n - 6) | (counts == 3 * n - 5))
    expected = np.array([mode_count(qm9.R[a:b]) for a, b in zip(qm9.offsets[:-1], qm9.offsets[1:])])
    np.testing.assert_array_equal(counts, expected)  # 3N-5 exactly for the linear ones
    assert counts.max() == MAX_MODES == 81  # QM9's largest molecules (29 atoms) are not linear
    linear = qm9.index[counts == 3 * n - 5]
    assert qm9.table.loc[linear, "smiles"].tolist() == ["C#C", "C#N", "C#CC#C", "C#CC#N", "N#CC#CC#N"]
    usable = qm9.table.index[qm9.usable.to_numpy()].to_numpy()
    freqs, offsets = frequencies_of(qm9, usable[:50])
    values, mask = padded_frequencies(freqs, offsets)
    for k, idx in enumerate(usable[:50]):
        np.testing.assert_array_equal(values[k, mask[k] > 0], np.sort(qm9.frequencies(idx)))
    assert qm9.freqs.max() < DEFAULT_GRID[-1] - 5 * 20  # inside the default grid, tails and all
    imaginary = np.repeat(qm9.index, counts)[qm9.freqs < 0]
    assert imaginary.tolist() == [6620, 59818, 129158]  # one imaginary mode each, as the docstring says
    values, mask = padded_frequencies(*frequencies_of(qm9, imaginary))
    assert (values[:, 0] < 0).all() and (band_of(values[:, 0]) == -1).all()


def test_zero_point_energy_is_half_h_c_times_the_sum_of_real_modes():
    from scipy import constants

    rng = np.random.default_rng(8)
    freqs, offsets = ragged(rng, [3, 1, 9])
    freqs[0] = -120.0  # an imaginary mode: no zero-point energy
    joules = [0.5 * constants.h * constants.c * 100 * sum(f for f in freqs[a:b] if f > 0)
              for a, b in zip(offsets[:-1], offsets[1:])]
    np.testing.assert_allclose(zero_point_energy(freqs, offsets), np.array(joules) / constants.e, rtol=1e-12)
    with pytest.raises(ValueError, match="at least one frequency"):
        zero_point_energy(freqs, np.array([0, 0, 13]))


def test_zero_point_energy_reproduces_qm9s_zpve_column(qm9):
    from scipy import constants

    zpve = zero_point_energy(qm9.freqs, qm9.freq_offsets)
    hartree = zpve / constants.physical_constants["Hartree energy in eV"][0]
    odd = qm9.index[np.abs(hartree - qm9.table["zpve_Ha"].to_numpy()) > 1e-6]  # QM9 prints 6 decimals of Ha
    assert odd.tolist() == [129152]  # the docstring's exception: its CSV lists two frequency sets
    relative = np.abs(zpve / qm9.table["zpve_eV"].to_numpy() - 1)
    assert qm9.table.loc[129152, "n_freq_sets"] == 2 and 0.06 < relative.max() < 0.07


def test_highest_last_puts_each_molecules_sorted_modes_in_its_last_slots():
    rng = np.random.default_rng(3)
    counts = rng.integers(1, 8, size=20)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    freqs = rng.uniform(0, 4000, size=offsets[-1])
    values, mask = padded_frequencies(freqs, offsets, 8, highest_last=True)
    for k, n in enumerate(counts):
        expected = np.concatenate([np.zeros(8 - n), np.sort(freqs[offsets[k]:offsets[k + 1]])])
        np.testing.assert_array_equal(values[k], expected)
        np.testing.assert_array_equal(mask[k], np.r_[np.zeros(8 - n), np.ones(n)])
    np.testing.assert_array_equal(values[:, -1], highest_frequency(freqs, offsets))


def test_masked_errors_count_real_entries_only():
    from course.stats import masked_mae, relative_error

    rng = np.random.default_rng(4)
    true, predicted = rng.normal(size=(15, 6)), rng.normal(size=(15, 6))
    mask = (rng.random((15, 6)) < 0.5).astype(float)
    mask[:, 0] = 1
    by_hand = sum(abs(predicted[i, j] - true[i, j]) for i in range(15) for j in range(6) if mask[i, j]) / mask.sum()
    assert masked_mae(np.where(mask > 0, true, 1e12), predicted, mask) == pytest.approx(by_hand, rel=1e-12)
    reference = rng.normal(size=6)
    baseline = sum(abs(reference[j] - true[i, j]) for i in range(15) for j in range(6) if mask[i, j]) / mask.sum()
    assert relative_error(true, predicted, reference, mask) == pytest.approx(by_hand / baseline, rel=1e-12)
    assert relative_error(true, true, reference, mask) == 0.0
