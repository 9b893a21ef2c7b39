"""Generate the CMB power-spectrum data set shipped as ``course/data/cmb_spectra.npz``.

Each spectrum is a binned, lensed TT and EE band power D_ell = ell(ell+1)C_ell/2pi in muK^2,
computed with CAMB for a flat cosmology and perturbed by full-sky cosmic-variance noise.
Half the spectra are LCDM with parameters scattered around Planck 2018; the other half are
"alternatives" (dynamical dark energy w0-wa, or non-standard primordial physics: running of
the spectral index plus tensor modes) drawn with the same LCDM nuisance parameters, so a
classifier must find the alternative's imprint under the LCDM parameter scatter and the noise.

Every spectrum is fully determined by (global seed, index): its class comes from the index,
its parameters and noise from ``SeedSequence(seed, spawn_key=(index,))``. Any subset can
therefore be regenerated exactly with :func:`make_spectrum`.

Made by ``course cmb-dataset`` (the shipped file: 4000 requested, stopped by the time budget, see
its metadata); CAMB is needed only here, not to load the data set::

    nice -n 10 course cmb-dataset --n 4000 --workers 2 --max-minutes 42
"""
from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import time
from pathlib import Path

import numpy as np

from course.machine import stamp

#: The seed of the shipped data set.
DEFAULT_SEED = 20250115

# Planck 2018 TT,TE,EE+lowE+lensing (Table 2, arXiv:1807.06209): central values and 1-sigma.
PLANCK_2018 = {
    "H0": (67.36, 0.54),
    "ombh2": (0.02237, 0.00015),
    "omch2": (0.1200, 0.0012),
    "ln10As": (3.044, 0.014),  # ln(10^10 A_s)
    "ns": (0.9649, 0.0042),
    "tau": (0.0544, 0.0073),
}
# LCDM draws are Gaussian with this many Planck sigmas, so the nuisance scatter is wider than
# the measurement; the alternatives must stand out against it.
SIGMA_SCALE = 3.0
# Neutrinos massless (N_eff = 3.044): Planck's 0.06 eV changes D_ell by <~1.3% (TT), 2.3% (EE),
# the same for every class, but a massive eigenstate makes CAMB ~30% slower.
MNU_EV = 0.0

# Alternative models: ranges of the extra parameters (uniform draws).
W0_RANGE = (-1.25, -0.75)
WA_RANGE = (-0.6, 0.6)
NRUN_ABS_RANGE = (0.005, 0.03)  # |dn_s/dlnk|, random sign
R_RANGE = (0.0, 0.15)

# Class of spectrum i is CLASS_CYCLE[i % 4]: any prefix of length 4k is balanced (half LCDM).
CLASS_NAMES = ("lcdm", "dark_energy", "primordial")
CLASS_CYCLE = (0, 1, 0, 2)

# Binning: 80 bins of 25 multipoles covering ell = 2 ... 2001.
ELL_MIN, BIN_WIDTH, N_BINS = 2, 25, 80
ELL_MAX = ELL_MIN + BIN_WIDTH * N_BINS - 1

# CAMB accuracy: chosen from timing tests (see docs/cmb-dataset.md). Against AccuracyBoost=2,
# lSampleBoost=2 these settings agree to 0.25% (TT) and 0.5% (EE, ell>=30).
ACCURACY = {"AccuracyBoost": 0.8, "IntTolBoost": 0.5, "lens_potential_accuracy": 0}

PARAM_NAMES = ("H0", "ombh2", "omch2", "As", "ns", "tau", "w0", "wa", "nrun", "r")


def spectrum_rng(seed: int, index: int) -> np.random.Generator:
    """Random generator of spectrum ``index``: independent of all others, so subsets regenerate.

    >>> spectrum_rng(1, 7).random() == spectrum_rng(1, 7).random() != spectrum_rng(1, 8).random()
    True
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))


def class_of(index: int) -> int:
    """Class id (index into CLASS_NAMES) of spectrum ``index``; fixed by the index alone.

    >>> [CLASS_NAMES[class_of(i)] for i in range(4)]
    ['lcdm', 'dark_energy', 'lcdm', 'primordial']
    """
    return CLASS_CYCLE[index % len(CLASS_CYCLE)]


def draw_parameters(rng: np.random.Generator, class_id: int) -> dict[str, float]:
    """Cosmological parameters of one spectrum: LCDM scatter plus the class's extra physics.

    >>> lcdm = draw_parameters(spectrum_rng(0, 0), 0)
    >>> (lcdm["w0"], lcdm["wa"], lcdm["nrun"], lcdm["r"]), tuple(lcdm) == PARAM_NAMES
    ((-1.0, 0.0, 0.0, 0.0), True)
    >>> draw_parameters(spectrum_rng(0, 1), 1)["w0"] != -1.0
    True
    """
    p = {name: rng.normal(mu, SIGMA_SCALE * sd) for name, (mu, sd) in PLANCK_2018.items()}
    p["As"] = float(np.exp(p.pop("ln10As")) * 1e-10)
    p["tau"] = max(p["tau"], 0.01)  # a 3-sigma scatter can reach unphysical tau <= 0
    p.update(w0=-1.0, wa=0.0, nrun=0.0, r=0.0)
    if CLASS_NAMES[class_id] == "dark_energy":
        p["w0"] = rng.uniform(*W0_RANGE)
        p["wa"] = rng.uniform(*WA_RANGE)
    elif CLASS_NAMES[class_id] == "primordial":
        p["nrun"] = rng.choice([-1.0, 1.0]) * rng.uniform(*NRUN_ABS_RANGE)
        p["r"] = rng.uniform(*R_RANGE)
    return {k: float(p[k]) for k in PARAM_NAMES}


def camb_dls(params: dict[str, float]) -> np.ndarray:
    """Lensed total D_ell [muK^2] for ell = 0..ELL_MAX, columns TT, EE, BB, TE (CAMB order).

    Needs CAMB and takes seconds, so the example is not run::

        dls = camb_dls(draw_parameters(spectrum_rng(DEFAULT_SEED, 0), 0))
        dls.shape  # (ELL_MAX + 1, 4)
    """
    import camb

    cp = camb.CAMBparams()
    cp.set_cosmology(H0=params["H0"], ombh2=params["ombh2"], omch2=params["omch2"],
                     tau=params["tau"], mnu=MNU_EV)
    cp.InitPower.set_params(As=params["As"], ns=params["ns"], nrun=params["nrun"], r=params["r"])
    if params["w0"] != -1.0 or params["wa"] != 0.0:
        # PPF lets w(a) = w0 + wa(1-a) cross -1 without the fluid model's perturbation blow-up.
        cp.set_dark_energy(w=params["w0"], wa=params["wa"], dark_energy_model="ppf")
    cp.WantTensors = params["r"] > 0
    cp.WantTransfer = False
    cp.set_for_lmax(ELL_MAX, lens_potential_accuracy=ACCURACY["lens_potential_accuracy"])
    cp.set_accuracy(AccuracyBoost=ACCURACY["AccuracyBoost"])
    cp.Accuracy.IntTolBoost = ACCURACY["IntTolBoost"]
    results = camb.get_results(cp)
    return results.get_total_cls(ELL_MAX, CMB_unit="muK")


def bin_matrix() -> np.ndarray:
    """(N_BINS, ELL_MAX+1) matrix averaging D_ell uniformly over each bin's multipoles.

    >>> w = bin_matrix()
    >>> w.shape == (N_BINS, ELL_MAX + 1), bool(np.allclose(w.sum(axis=1), 1)), int(w[:, :ELL_MIN].sum())
    (True, True, 0)
    """
    w = np.zeros((N_BINS, ELL_MAX + 1))
    for b in range(N_BINS):
        lo = ELL_MIN + b * BIN_WIDTH
        w[b, lo:lo + BIN_WIDTH] = 1.0 / BIN_WIDTH
    return w


def ell_centres() -> np.ndarray:
    """Mean multipole of each bin: the x axis of the binned spectra.

    >>> ell_centres()[:3].tolist(), float(ell_centres()[-1])
    ([14.0, 39.0, 64.0], 1989.0)
    """
    return bin_matrix() @ np.arange(ELL_MAX + 1, dtype=float)


def binned_cosmic_variance(dls: np.ndarray) -> np.ndarray:
    """Covariance (N_BINS, 2, 2) of the binned (TT, EE) band powers from cosmic variance alone.

    Full sky, per multipole the 2l+1 a_lm give Var(D_l^XX) = 2/(2l+1) (D_l^XX)^2 and
    Cov(D_l^TT, D_l^EE) = 2/(2l+1) (D_l^TE)^2; different l are independent. A bin is the plain
    mean over its N_b multipoles, so its covariance is sum_l 2/(2l+1) D_l D_l / N_b^2.

    Flat spectra D_l = 1 with no TE correlation: the first bin's TT variance by hand.

    >>> dls = np.zeros((ELL_MAX + 1, 4)); dls[:, :2] = 1.0
    >>> cov = binned_cosmic_variance(dls)
    >>> ell = np.arange(ELL_MIN, ELL_MIN + BIN_WIDTH)
    >>> bool(np.isclose(cov[0, 0, 0], np.sum(2 / (2 * ell + 1)) / BIN_WIDTH**2)), float(cov[0, 0, 1])
    (True, 0.0)
    """
    ell = np.arange(ELL_MAX + 1, dtype=float)
    g = np.zeros_like(ell)
    g[2:] = 2.0 / (2.0 * ell[2:] + 1.0)
    w2 = bin_matrix() ** 2
    tt, ee, te = dls[:, 0], dls[:, 1], dls[:, 3]
    cov = np.empty((N_BINS, 2, 2))
    cov[:, 0, 0] = w2 @ (g * tt**2)
    cov[:, 1, 1] = w2 @ (g * ee**2)
    cov[:, 0, 1] = cov[:, 1, 0] = w2 @ (g * te**2)
    return cov


def noisy_binned(dls: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Binned TT and EE band powers (2, N_BINS) with one Gaussian cosmic-variance draw.

    >>> dls = np.zeros((ELL_MAX + 1, 4)); dls[:, :2] = 100.0
    >>> binned = noisy_binned(dls, np.random.default_rng(0))
    >>> binned.shape == (2, N_BINS), bool(np.abs(binned - 100).max() < 100)
    (True, True)
    """
    mean = bin_matrix() @ dls[:, [0, 1]]  # (N_BINS, 2)
    chol = np.linalg.cholesky(binned_cosmic_variance(dls))
    noise = np.einsum("bij,bj->bi", chol, rng.standard_normal((N_BINS, 2)))
    return (mean + noise).T


def make_spectrum(seed: int, index: int) -> tuple[dict[str, float], np.ndarray]:
    """Parameters and noisy binned (TT, EE) band powers of spectrum ``index``.

    Needs CAMB (seconds per spectrum), so the example is not run::

        params, spectrum = make_spectrum(DEFAULT_SEED, 3)  # a "primordial" spectrum
        spectrum.shape  # (2, N_BINS)
    """
    rng = spectrum_rng(seed, index)
    params = draw_parameters(rng, class_of(index))
    return params, noisy_binned(camb_dls(params), rng)


def _init_worker(threads: int) -> None:
    import camb

    camb.config.ThreadNum = threads


def _job(args: tuple[int, int]) -> tuple[dict[str, float], np.ndarray]:
    return make_spectrum(*args)


def save(path: Path, rows: list[tuple[dict[str, float], np.ndarray]], meta: dict) -> None:
    """Write the spectra made so far (an exact prefix of the requested set) atomically.

    The file is what :func:`course.data.cmb.load` reads, and :func:`existing_rows` resumes from.

    >>> import tempfile
    >>> from course.data.cmb import load
    >>> rows = [(draw_parameters(spectrum_rng(0, i), class_of(i)), np.ones((2, N_BINS))) for i in range(4)]
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "spectra.npz"
    ...     save(path, rows, {"seed": 0, "wall_time_s": 1.5})
    ...     data = load(path)
    ...     again, wall = existing_rows(path, seed=0)
    resuming after 4 spectra in ...spectra.npz
    >>> data.labels.tolist(), data.metadata["n_spectra"], len(again), wall
    ([0, 1, 0, 1], 4, 4, 1.5)
    """
    n = len(rows)
    classes = np.array([class_of(i) for i in range(n)], dtype=np.int8)
    params = np.zeros(n, dtype=[(k, "f8") for k in PARAM_NAMES])
    for i, (p, _) in enumerate(rows):
        params[i] = tuple(p[k] for k in PARAM_NAMES)
    spectra = np.stack([s for _, s in rows]).astype(np.float32) if rows else np.zeros((0, 2, N_BINS))
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(
        tmp,
        ell=ell_centres(),
        D_ell_TT=spectra[:, 0],
        D_ell_EE=spectra[:, 1],
        label=(classes != 0).astype(np.int8),
        class_id=classes,
        class_names=np.array(CLASS_NAMES),
        params=params,
        metadata=np.array(json.dumps({**meta, "n_spectra": n}, indent=1)),
    )
    os.replace(tmp, path)


def existing_rows(path: Path, seed: int) -> tuple[list[tuple[dict[str, float], np.ndarray]], float]:
    """Spectra already in ``path`` and the wall time spent on them, to continue an interrupted run.

    Every spectrum depends only on (seed, index), so the kept prefix is exactly what a fresh run
    would produce; a file made with another seed is refused. See :func:`save` for an example.
    """
    with np.load(path) as f:
        meta = json.loads(str(f["metadata"]))
        if meta["seed"] != seed:
            raise ValueError(f"{path} was made with seed {meta['seed']}, not {seed}: cannot resume")
        spectra = np.stack([f["D_ell_TT"], f["D_ell_EE"]], axis=1)
        rows = [({k: float(p[k]) for k in PARAM_NAMES}, s) for p, s in zip(f["params"], spectra)]
    print(f"resuming after {len(rows)} spectra in {path}", flush=True)
    return rows, float(meta.get("wall_time_s", 0.0))


def generate(out: Path, n: int = 4000, seed: int = DEFAULT_SEED, workers: int = 1, save_every: int = 200,
             max_minutes: float | None = None, resume: bool = False) -> int:
    """Make ``n`` spectra into ``out`` (rewritten every ``save_every``), or as many as ``max_minutes``
    allow; with ``resume``, keep the spectra already there and add the rest. Returns how many are in.

    Needs CAMB and minutes, so the example is not run (``course cmb-dataset`` calls it)::

        generate(Path("spectra.npz"), n=8, workers=2, save_every=4)  # 8
    """
    import camb

    meta = {
        "generator": "course.data.cmb_make",
        "command": f"course cmb-dataset --n {n} --seed {seed} --workers {workers}"
                   + (f" --max-minutes {max_minutes}" if max_minutes is not None else ""),
        "n_requested": n,
        "seed": seed,
        "camb_version": camb.__version__,
        "camb_accuracy": ACCURACY,
        "mnu_eV": MNU_EV,
        "lensing": "lensed scalar + tensor C_ell, CAMB default NonLinear_lens (non-linear lensing potential)",
        "spectra": ["TT", "EE"],
        "units": "D_ell = ell(ell+1)C_ell/2pi in muK^2, T_CMB = 2.7255 K",
        "binning": {"ell_min": ELL_MIN, "ell_max": ELL_MAX, "bin_width": BIN_WIDTH, "n_bins": N_BINS,
                    "weights": "uniform mean of D_ell over the bin"},
        "noise": "full-sky cosmic variance, Gaussian; binned covariance sum_l 2/(2l+1) D_l D_l / N_b^2 "
                 "with TT-EE correlation from D_l^TE",
        "lcdm_prior": {k: {"mean": m, "sd": SIGMA_SCALE * s} for k, (m, s) in PLANCK_2018.items()},
        "lcdm_prior_note": f"Gaussian, {SIGMA_SCALE} x Planck 2018 TT,TE,EE+lowE+lensing 1-sigma; tau floored at 0.01",
        "alternatives": {"dark_energy": {"w0": W0_RANGE, "wa": WA_RANGE, "model": "CAMB DarkEnergyPPF"},
                         "primordial": {"abs_nrun": NRUN_ABS_RANGE, "nrun_sign": "random", "r": R_RANGE}},
        "modified_gravity": "not included: CAMB 2.0.5 has no modified-gravity parameterization (needs MGCAMB)",
        "class_cycle": [CLASS_NAMES[c] for c in CLASS_CYCLE],
        "date": dt.date.today().isoformat(),
        "machine": stamp(),
    }
    rows, earlier_wall = existing_rows(out, seed) if resume else ([], 0.0)
    t0 = time.time()
    # spawn, not fork: a process with threads (a Jupyter kernel, a test worker) can deadlock a forked child
    with multiprocessing.get_context("spawn").Pool(workers, initializer=_init_worker, initargs=(1,)) as pool:
        for row in pool.imap(_job, ((seed, i) for i in range(len(rows), n)), chunksize=2):
            rows.append(row)
            if len(rows) % save_every == 0 or len(rows) == n:
                wall = earlier_wall + time.time() - t0
                stop = max_minutes is not None and wall > 60 * max_minutes and len(rows) < n
                extra = {"stopped_early": f"time budget of {max_minutes} min reached"} if stop else {}
                save(out, rows, {**meta, "wall_time_s": round(wall, 1), **extra})
                print(f"{len(rows)}/{n} spectra, {wall:.0f} s", flush=True)
                if stop:
                    break
    return len(rows)
