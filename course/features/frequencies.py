"""Targets built from QM9's harmonic vibrational frequencies {ν̃} (cm⁻¹), for seed 001's Aim 3.

A molecule of N atoms has 3N − 6 normal modes (3N − 5 if it is linear), so the set {ν̃} changes
size from molecule to molecule, and a network with a fixed number of outputs needs a convention.
This module offers three, plus a way to report errors by region of the spectrum:

* :func:`highest_frequency`: ω₁, the highest harmonic frequency, one number per molecule (the
  scalar target of the seed's literature baseline, MAE 3.15 cm⁻¹).
* :func:`padded_frequencies`: the seed's convention, one output per possible mode
  (:data:`MAX_MODES` = 3·29 − 6 = 81 for QM9), the first 3N − 6 holding the molecule's frequencies
  and the rest zeros, with a mask of the real modes for a masked loss. The set is unordered, so
  the frequencies are sorted ascending to write it down in one order: output k is the molecule's
  (k+1)-th lowest mode. A rank is not a kind of mode, though: output 8 is the highest C–H stretch
  of methane (9 modes) and one of the lowest modes of a 20-atom molecule, so one output must learn very
  different things for molecules of different sizes.
* :func:`broadened_spectrum`: the stick spectrum convolved with a Gaussian or Lorentzian of one
  width on a fixed wavenumber grid, unit area per mode. Its length does not depend on N and it
  does not care about the order of the modes, nor about near-degenerate modes swapping places.
* :func:`zero_point_energy`: the harmonic ZPVE = ½ h c Σ ν̃ of each molecule in eV, which is how
  QM9's ZPVE column was computed from these frequencies: it agrees to within 10⁻⁶ hartree (one unit of
  the last digit QM9 prints) for every molecule except QM9 129152, whose CSV lists two frequency sets
  484 cm⁻¹ apart (6.7 %).
* :func:`band_of` and :func:`error_per_band`: errors grouped by wavenumber range (:data:`BANDS`):
  X–H stretches above 2500 cm⁻¹, the fingerprint region, low-frequency torsions below 500 cm⁻¹.

Measured on QM9: 5 molecules are linear (HC≡CH, HCN, HC≡C–C≡CH, HC≡C–C≡N, N≡C–C≡C–C≡N) and
have 3N − 5 frequencies, every other one 3N − 6, at most 81. Three list one imaginary mode as a
negative number (QM9 indices 6620: −2.0 cm⁻¹, 59818: −10.1, 129158: −544.9): the padded sort puts it
first, :func:`band_of` gives it no band and the default grid of :func:`broadened_spectrum` starts
at 0, so it drops out of both.

The frequencies come as one concatenated array with offsets (``QM9.freqs`` and
``QM9.freq_offsets``; :func:`frequencies_of` picks molecules out of it). numpy only: no RDKit.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from course.features.layout import MAX_ATOMS, ragged_positions

if TYPE_CHECKING:
    from course.data.qm9 import QM9

#: Outputs of the padded convention: the mode count of the largest (non-linear) QM9 molecule.
MAX_MODES = 3 * MAX_ATOMS - 6

#: (name, lowest, highest) wavenumbers (cm⁻¹) of the bands of :func:`band_of`; lowest inclusive.
BANDS: tuple[tuple[str, float, float], ...] = (
    ("torsions and skeletal bends (< 500)", 0.0, 500.0),
    ("fingerprint (500-1500)", 500.0, 1500.0),
    ("double bonds and H-X-H bends (1500-2000)", 1500.0, 2000.0),
    ("triple bonds (2000-2500)", 2000.0, 2500.0),
    ("X-H stretches (>= 2500)", 2500.0, np.inf),
)


def is_linear(coordinates: np.ndarray, tolerance: float = 1e-4) -> bool:
    """Whether the atoms lie on one line (within ``tolerance`` Å of it): such a molecule has only
    two rotations, hence 3N − 5 vibrations instead of 3N − 6. QM9's linear molecules lie on their
    line within 1e-10 Å, and its most nearly linear other molecule is 4.5e-4 Å off it.

    >>> is_linear(np.array([[0, 0, -1.16], [0, 0, 0], [0, 0, 1.16]]))     # CO2
    True
    >>> is_linear(np.array([[0, 0, 0], [0.76, 0.59, 0], [-0.76, 0.59, 0]]))  # H2O
    False
    """
    centred = np.asarray(coordinates, dtype=float) - np.mean(coordinates, axis=0)
    if len(centred) < 3:
        return True
    # The second singular value measures the spread of the atoms away from their best line.
    return bool(np.linalg.svd(centred, compute_uv=False)[1] < tolerance)


def mode_count(coordinates: np.ndarray) -> int:
    """Number of vibrational modes of a molecule with these atom positions: 3N − 6, 3N − 5 if
    linear, 0 for a single atom.

    >>> mode_count(np.array([[0, 0, 0], [0, 0, 1.1]]))                      # a diatomic
    1
    >>> mode_count(np.array([[0, 0, 0], [0.76, 0.59, 0], [-0.76, 0.59, 0]]))  # H2O
    3
    """
    n = len(coordinates)
    if n < 2:
        return 0
    return 3 * n - (5 if is_linear(coordinates) else 6)


def frequencies_of(data: QM9, qm9_indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(freqs, offsets) of the molecules ``qm9_indices`` in that order: molecule k owns
    ``freqs[offsets[k]:offsets[k + 1]]`` (cm⁻¹), the layout every function here takes.

    Example (``data = course.data.qm9.load()``)::

        values, mask = padded_frequencies(*frequencies_of(data, data.fold(0)))
    """
    rows = data.rows(qm9_indices)
    start, stop = data.freq_offsets[rows], data.freq_offsets[rows + 1]
    block, local = ragged_positions(stop - start)
    return data.freqs[start[block] + local], np.concatenate([[0], np.cumsum(stop - start)])


def _blocks(offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    counts = np.diff(np.asarray(offsets, dtype=np.int64))
    if (counts < 1).any():
        raise ValueError("every molecule needs at least one frequency")
    return ragged_positions(counts)


def highest_frequency(freqs: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """ω₁ of every molecule: the highest harmonic frequency (cm⁻¹), in QM9 nearly always an X–H
    stretch, the seed's scalar frequency target.

    >>> highest_frequency(np.array([1595.0, 3657.0, 3756.0, 1000.0, 2000.0]), np.array([0, 3, 5]))
    array([3756., 2000.])
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    _blocks(offsets)
    return np.maximum.reduceat(np.asarray(freqs, dtype=float), offsets[:-1])


#: h c in eV·cm (exact in the SI since 2019): the energy in eV of a photon of 1 cm⁻¹.
HC_EV_CM = 6.62607015e-34 * 299792458e2 / 1.602176634e-19


def zero_point_energy(freqs: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Harmonic zero-point vibrational energy (eV) of every molecule: ½ h c Σ ν̃ over its real modes.

    An imaginary mode (listed as a negative number) is no vibration and has no zero-point energy, so
    only ν̃ > 0 count. Example, water's three harmonic modes (1595, 3657 and 3756 cm⁻¹: 0.558 eV)
    and one mode of 1000 cm⁻¹ with an imaginary one:

    >>> zero_point_energy(np.array([1595.0, 3657.0, 3756.0, 1000.0, -50.0]), np.array([0, 3, 5])).round(4)
    array([0.5584, 0.062 ])
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    _blocks(offsets)
    freqs = np.asarray(freqs, dtype=float)
    return 0.5 * HC_EV_CM * np.add.reduceat(np.where(freqs > 0, freqs, 0.0), offsets[:-1])


def padded_frequencies(freqs: np.ndarray, offsets: np.ndarray, n_outputs: int = MAX_MODES, *,
                       highest_last: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(values, mask), both (M, ``n_outputs``): each molecule's frequencies sorted ascending in the
    first slots, zeros after them, and mask 1.0 on the real modes, 0.0 on the padding.
    ``highest_last`` pads at the start instead, so that the last output holds every molecule's ω₁
    (Module 8, Exercise 2, is graded against this).

    The seed's fixed-size output: outputs beyond a molecule's 3N − 6 are padding that a loss must
    ignore (:func:`course.models.weave_training.masked_loss` takes the mask), not zeros to learn.

    >>> values, mask = padded_frequencies(np.array([3756.0, 1595.0, 3657.0, 2000.0]), np.array([0, 3, 4]), 4)
    >>> values
    array([[1595., 3657., 3756.,    0.],
           [2000.,    0.,    0.,    0.]])
    >>> mask
    array([[1., 1., 1., 0.],
           [1., 0., 0., 0.]])
    >>> padded_frequencies(np.array([3756.0, 1595.0, 3657.0, 2000.0]), np.array([0, 3, 4]), 4, highest_last=True)[0]
    array([[   0., 1595., 3657., 3756.],
           [   0.,    0.,    0., 2000.]])
    """
    block, local = _blocks(offsets)
    counts = np.diff(np.asarray(offsets, dtype=np.int64))
    if counts.max() > n_outputs:
        raise ValueError(f"a molecule has {counts.max()} modes > n_outputs={n_outputs}")
    if highest_last:
        local = local + (n_outputs - counts)[block]
    order = np.lexsort((np.asarray(freqs), block))  # by molecule, then by frequency
    values, mask = np.zeros((len(counts), n_outputs)), np.zeros((len(counts), n_outputs))
    values[block, local] = np.asarray(freqs, dtype=float)[order]
    mask[block, local] = 1.0
    return values, mask


#: Default wavenumber grid (cm⁻¹) of :func:`broadened_spectrum`: QM9's frequencies lie within it.
DEFAULT_GRID = np.arange(0.0, 4400.0 + 1e-9, 10.0)


def line_shape(x: np.ndarray, centre: np.ndarray, width: float, shape: str = "gaussian") -> np.ndarray:
    """Unit-area line of one mode at ``centre`` evaluated at ``x`` (broadcast): a Gaussian of
    standard deviation ``width`` or a Lorentzian of half width at half maximum ``width`` (cm⁻¹).

    >>> round(float(line_shape(np.array(0.0), np.array(0.0), 1.0, "lorentzian")), 6)  # 1 / (π γ)
    0.31831
    """
    d = np.asarray(x, dtype=float) - np.asarray(centre, dtype=float)
    if shape == "gaussian":
        return np.exp(-0.5 * np.square(d / width)) / (width * np.sqrt(2 * np.pi))
    if shape == "lorentzian":
        return width / (np.pi * (np.square(d) + width ** 2))
    raise ValueError(f"shape must be 'gaussian' or 'lorentzian', not {shape!r}")


def broadened_spectrum(freqs: np.ndarray, offsets: np.ndarray, grid: np.ndarray = DEFAULT_GRID,
                       width: float = 20.0, shape: str = "gaussian", chunk: int = 2048) -> np.ndarray:
    """(M, len(grid)) spectra: Σ over each molecule's modes of a unit-area :func:`line_shape`.

    An order-free, fixed-length target: swapping two modes or splitting a near-degenerate pair
    moves the spectrum by little, where the padded vector's slots would jump. Every mode has the
    same area (no IR intensities: QM9 has none), so the area under a spectrum counts its modes, up
    to the tails that fall outside the grid, provided the grid step is at most ``width`` (a coarser
    grid samples a line too sparsely to keep its area, and is refused). Molecules go through
    ``chunk`` at a time.

    >>> spectrum = broadened_spectrum(np.array([1000.0, 3000.0]), np.array([0, 2]))
    >>> round(float(np.trapezoid(spectrum[0], DEFAULT_GRID)), 6)   # two modes, area 2
    2.0
    """
    values, mask = padded_frequencies(freqs, offsets, n_outputs=int(np.diff(offsets).max()))
    grid = np.asarray(grid, dtype=float)
    if len(grid) > 1 and np.diff(grid).max() > width:
        raise ValueError(f"grid steps up to {np.diff(grid).max():g} cm⁻¹ are too coarse for lines of width {width:g}")
    out = np.empty((len(values), len(grid)))
    for start in range(0, len(values), chunk):
        v, m = values[start:start + chunk], mask[start:start + chunk]
        out[start:start + chunk] = np.einsum("mk,mkg->mg", m, line_shape(grid, v[..., None], width, shape))
    return out


def band_of(frequencies: np.ndarray) -> np.ndarray:
    """Index into :data:`BANDS` of each frequency (cm⁻¹); −1 below 0 (imaginary modes).

    A band by wavenumber is *not* a normal-mode assignment: a mode at 1600 cm⁻¹ may be a C=C
    stretch or an H–N–H scissor, and a fingerprint mode mixes many internal coordinates. Only the
    normal-mode vectors, which QM9 does not ship, would say what moves. The bands say where in the
    spectrum errors are large, which is what a chemist reading a spectrum sees.

    >>> band_of(np.array([120.0, 1100.0, 1700.0, 2250.0, 3050.0]))
    array([0, 1, 2, 3, 4])
    """
    lows = np.array([low for _, low, _ in BANDS])
    return np.searchsorted(lows, np.asarray(frequencies, dtype=float), side="right") - 1


def error_per_band(true: np.ndarray, predicted: np.ndarray, mask: np.ndarray) -> dict[str, dict[str, float | int]]:
    """MAE (cm⁻¹) and number of modes per band of :data:`BANDS`, each mode binned by its *true*
    frequency; padded slots (``mask`` 0) are left out. Arrays as from :func:`padded_frequencies`.

    >>> true = np.array([[300.0, 1200.0, 3000.0, 0.0]])
    >>> error = error_per_band(true, true + [[10.0, -4.0, 6.0, 99.0]], np.array([[1.0, 1, 1, 0]]))
    >>> error["X-H stretches (>= 2500)"]
    {'mae': 6.0, 'n_modes': 1}
    >>> error["fingerprint (500-1500)"]["mae"]
    4.0
    """
    real = np.asarray(mask) > 0
    t, abs_error = np.asarray(true)[real], np.abs(np.asarray(predicted) - np.asarray(true))[real]
    band = band_of(t)
    out = {}
    for k, (name, _, _) in enumerate(BANDS):
        here = band == k
        out[name] = {"mae": float(abs_error[here].mean()) if here.any() else float("nan"),
                     "n_modes": int(here.sum())}
    return out
