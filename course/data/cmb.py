"""CMB angular power spectra (CAMB, cosmic-variance noise): LCDM versus alternative cosmologies.

The file ``cmb_spectra.npz`` next to this module is made by ``course cmb-dataset``
(:mod:`course.data.cmb_make`, see ``docs/cmb-dataset.md``); nothing is downloaded. Use :func:`load`.
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_PATH = Path(__file__).with_name("cmb_spectra.npz")
#: Share of the spectra held out by :func:`split`.
VALIDATION_FRACTION = 0.25
_KEYS = ("ell", "D_ell_TT", "D_ell_EE", "label", "class_id", "class_names", "params", "metadata")


@dataclass(frozen=True)
class CMBDataset:
    """Binned TT and EE band powers D_ell = ell(ell+1)C_ell/2pi in muK^2, one row per spectrum.

    ``label`` is 0 for LCDM and 1 for an alternative; ``class_names[class_id]`` names the
    model ("lcdm", "dark_energy", "primordial"). ``params`` is a structured array with the
    cosmological parameters of each spectrum (H0, ombh2, omch2, As, ns, tau, w0, wa, nrun, r).

    >>> data = load()
    >>> data.D_ell.shape[1] == data.D_ell_EE.shape[1] == len(data.ell), data.class_names
    (True, ('lcdm', 'dark_energy', 'primordial'))
    """

    ell: np.ndarray  # (n_bins,) bin centres
    D_ell: np.ndarray  # (n_spectra, n_bins) TT band powers, muK^2
    D_ell_EE: np.ndarray  # (n_spectra, n_bins) EE band powers, muK^2
    labels: np.ndarray  # (n_spectra,) int8, 0 = LCDM, 1 = alternative
    class_id: np.ndarray  # (n_spectra,) int8 index into class_names
    class_names: tuple[str, ...]
    params: np.ndarray  # structured, (n_spectra,)
    metadata: dict

    def features(self, spectra: tuple[str, ...] = ("TT", "EE")) -> np.ndarray:
        """Design matrix: the requested spectra's bins side by side (TT then EE by default).

        >>> data = load()
        >>> data.features().shape[1] == 2 * len(data.ell), data.features(("EE",)).shape[1] == len(data.ell)
        (True, True)
        """
        blocks = {"TT": self.D_ell, "EE": self.D_ell_EE}
        unknown = set(spectra) - set(blocks)
        if unknown:
            raise ValueError(f"unknown spectra {sorted(unknown)}; choose from {sorted(blocks)}")
        return np.hstack([blocks[s] for s in spectra])

    @property
    def class_labels(self) -> np.ndarray:
        """Class name of every spectrum (``labels`` only says LCDM or not).

        >>> data = load()
        >>> data.class_labels[:4].tolist(), data.labels[:4].tolist()
        (['lcdm', 'dark_energy', 'lcdm', 'primordial'], [0, 1, 0, 1])
        """
        return np.asarray(self.class_names)[self.class_id]


def load(path: str | Path | None = None) -> CMBDataset:
    """Load the shipped CMB data set (or the ``.npz`` at ``path``), checking it is complete.

    >>> data = load()
    >>> len(data.labels) == len(data.D_ell) == len(data.params), data.params.dtype.names[:3]
    (True, ('H0', 'ombh2', 'omch2'))
    >>> load("no-such-file.npz")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: CMB data file no-such-file.npz not found; ...
    """
    path = Path(path) if path is not None else DEFAULT_PATH
    if not path.is_file():
        raise FileNotFoundError(
            f"CMB data file {path} not found; it ships with the package, or regenerate it with "
            "`course cmb-dataset` (needs CAMB, from the test extras)"
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in _KEYS if k in npz.files}
        metadata = json.loads(str(arrays.get("metadata", "{}")))
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:  # JSONDecodeError is a ValueError
        raise ValueError(f"CMB data file {path} is unreadable or corrupt: {err}") from err
    missing = [k for k in _KEYS if k not in arrays]
    if missing:
        raise ValueError(f"CMB data file {path} lacks arrays {missing}")
    n, n_bins = arrays["D_ell_TT"].shape
    if arrays["D_ell_EE"].shape != (n, n_bins) or arrays["ell"].shape != (n_bins,) or len(arrays["label"]) != n:
        raise ValueError(f"CMB data file {path} has inconsistent array shapes")
    return CMBDataset(
        ell=arrays["ell"],
        D_ell=arrays["D_ell_TT"],
        D_ell_EE=arrays["D_ell_EE"],
        labels=arrays["label"],
        class_id=arrays["class_id"],
        class_names=tuple(str(c) for c in arrays["class_names"]),
        params=arrays["params"],
        metadata=metadata,
    )


def split(labels: np.ndarray, seed: int = 0, validation_fraction: float = VALIDATION_FRACTION, *,
          shuffled: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the course's stratified train/validation split of the spectra: the networks
    of Modules 3 and 5 and the baselines of ``course cmb-baselines`` all score on it.

    Sorted, unless ``shuffled``: then in the random order the split drew them, the order the
    baselines of ``cmb_baselines.json`` were trained in (an MLP's batches, or a fit stopped before
    convergence, depend on it).

    >>> train, val = split(np.array([0, 1] * 8))
    >>> len(train), len(val), sorted([*train, *val]) == list(range(16))
    (12, 4, True)
    >>> [sorted(part) == list(ours) for part, ours in zip(split(np.array([0, 1] * 8), shuffled=True), (train, val))]
    [True, True]
    """
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(labels))
    train, val = train_test_split(rows, test_size=validation_fraction, stratify=labels, random_state=seed)
    return (train, val) if shuffled else (np.sort(train), np.sort(val))
