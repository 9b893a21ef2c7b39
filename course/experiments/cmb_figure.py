"""The figure of ``docs/cmb-spectra.png`` (``course cmb-figure``): example spectra of each class and
what each alternative changes.

Top row: noisy band powers from the shipped data set (three per class). Bottom row: noiseless
CAMB spectra of representative alternatives divided by ΛCDM at the Planck 2018 central values,
with the binned cosmic-variance band, i.e. the signal a classifier has to find. Needs CAMB (test
extras).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from course.data import cmb
from course.data import cmb_make as gen

FILE_NAME = "cmb-spectra.png"
COLORS = {"lcdm": "k", "dark_energy": "tab:blue", "primordial": "tab:red"}
#: Representative alternatives inside the data set's ranges.
EXAMPLES = {
    "dark energy $w_0=-0.85$, $w_a=0$": ("tab:blue", {"w0": -0.85, "wa": 0.0}),
    "dark energy $w_0=-1.15$, $w_a=+0.3$": ("tab:cyan", {"w0": -1.15, "wa": 0.3}),
    r"running $n_\mathrm{run}=+0.02$, $r=0.1$": ("tab:red", {"nrun": 0.02, "r": 0.1}),
    r"running $n_\mathrm{run}=-0.02$": ("tab:orange", {"nrun": -0.02}),
}


def planck_lcdm() -> dict[str, float]:
    """CAMB parameters of ΛCDM at the Planck 2018 central values (the baseline of the bottom row).

    >>> round(planck_lcdm()["As"] * 1e9, 3), planck_lcdm()["w0"]
    (2.099, -1.0)
    """
    central = {k: m for k, (m, _) in gen.PLANCK_2018.items()}
    as_ = float(np.exp(central.pop("ln10As")) * 1e-10)
    return {**central, "As": as_, "w0": -1.0, "wa": 0.0, "nrun": 0.0, "r": 0.0}


def draw(ds: cmb.CMBDataset | None = None):
    """The two-by-two figure (a matplotlib Figure) for the data set ``ds`` (default: the shipped one)."""
    import matplotlib.pyplot as plt

    ds = ds if ds is not None else cmb.load()
    fig, axes = plt.subplots(2, 2, figsize=(11, 8), constrained_layout=True)
    for col, (name, block) in enumerate((("TT", ds.D_ell), ("EE", ds.D_ell_EE))):
        ax = axes[0, col]
        for cls, color in COLORS.items():
            rows = np.flatnonzero(ds.class_labels == cls)[:3]
            for k, i in enumerate(rows):
                ax.plot(ds.ell, block[i], color=color, lw=0.9, alpha=0.8, label=cls if k == 0 else None)
        ax.set_yscale("log")
        ax.set_xlabel(r"multipole $\ell$")
        ax.set_ylabel(rf"$D_\ell^{{{name}}}=\ell(\ell+1)C_\ell/2\pi$ [$\mu$K$^2$]")
        ax.set_title(f"{name}: three noisy spectra per class (data set)")
        ax.legend()

    base = planck_lcdm()
    lcdm = gen.camb_dls(base)
    lcdm_binned = gen.bin_matrix() @ lcdm[:, [0, 1]]
    sigma = np.sqrt(np.diagonal(gen.binned_cosmic_variance(lcdm), axis1=1, axis2=2))
    ell = gen.ell_centres()
    for col, name in enumerate(("TT", "EE")):
        ax = axes[1, col]
        band = sigma[:, col] / lcdm_binned[:, col]
        ax.fill_between(ell, -band, band, color="0.8", label=r"cosmic variance $\pm1\sigma$ per bin")
        for label, (color, change) in EXAMPLES.items():
            alt = gen.bin_matrix() @ gen.camb_dls({**base, **change})[:, [0, 1]]
            ax.plot(ell, alt[:, col] / lcdm_binned[:, col] - 1, color=color, label=label)
        ax.axhline(0, color="k", lw=0.6)
        ax.set_xscale("log")
        ax.set_xlabel(r"multipole $\ell$")
        ax.set_ylabel(rf"$D_\ell^{{{name}}}/D_\ell^{{{name},\Lambda\mathrm{{CDM}}}}-1$")
        ax.set_title(f"{name}: alternative / ΛCDM − 1 (rest at Planck 2018)")
        ax.set_ylim(-0.3, 0.3)
        ax.legend(fontsize=8)
    return fig


def run(out: Path) -> Path:
    """Draw the figure and save it at ``out`` (``docs/cmb-spectra.png`` of the repository)."""
    import matplotlib

    matplotlib.use("Agg")
    draw().savefig(out, dpi=110)
    return out
