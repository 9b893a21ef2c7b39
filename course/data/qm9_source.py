"""Read and check the QM9 CSV files shipped inside the ``qm9pack`` wheel.

The files are read directly (``qm9pack/__init__`` imports ``pkg_resources``, which recent
setuptools no longer ship). Every field is checked; a malformed one raises
:class:`QM9FormatError` naming the file, line, QM9 index and column.
"""
from __future__ import annotations

import csv
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from course.data.numbers import NumberFormatError, parse_list, parse_number, parse_triples
from course.data.perceive import ATOMIC_NUMBER

PART_FILES = ("qm9_part1.csv", "qm9_part2.csv", "qm9_part3.csv")
POLARIZABILITY_FILE = "qm9_polarizability.csv"
SOURCE_FILES = (*PART_FILES, POLARIZABILITY_FILE)

#: CSV column -> column name in ``QM9.table`` for the scalar properties (units in the names).
SCALAR_COLUMNS = {
    "RotA_GHz": "rotA_GHz",
    "RotB_GHz": "rotB_GHz",
    "RotC_GHz": "rotC_GHz",
    "Dipole_debye": "mu_D",
    "Polarizability_bohr3": "alpha_bohr3",
    "HOMO_au": "homo_Ha",
    "LUMO_au": "lumo_Ha",
    "HOMO_LUMO_gap_au": "gap_Ha",
    "R2_bohr2": "r2_bohr2",
    "ZPVE_au": "zpve_Ha",
    "InternalEnergy_0K_au": "U0_Ha",
    "InternalEnergy_298K_au": "U_Ha",
    "Enthalphy_298K_au": "H_Ha",
    "GibbsFreeEnergy_298K_au": "G_Ha",
    "Heatcapacity_Cv_cal_mol_K": "Cv_cal_molK",
}
#: Polarizability tensor columns of ``qm9_polarizability.csv`` -> table column (bohr³).
TENSOR_COLUMNS = {c: f"alpha_{c[2:]}_bohr3" for c in ("A_xx", "A_xy", "A_yy", "A_xz", "A_yz", "A_zz")}
_PART_HEADER = (
    "XYZ_file", "Index", "SMILES", "InChi", "N_atoms", "Stoichiometry", "Elements", "XYZ_Ang",
    "Mulliken_pop", "Harmonic_Freq_cmi", *SCALAR_COLUMNS,
)
_ELEMENTS_RE = re.compile(r"\['[A-Z][a-z]?'(?:,'[A-Z][a-z]?')*\]")
_FILE_RE = re.compile(r"dsgdb9nsd_(\d{6})\.xyz")
STOICHIOMETRY_ORDER = ("H", "C", "N", "O", "F")


class QM9FormatError(ValueError):
    """A QM9 source file does not have the expected content.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = (Path(folder) / POLARIZABILITY_FILE).write_text("XYZ_file,A\\n")
    ...     read_source(Path(folder))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    course.data.qm9_source.QM9FormatError: ...qm9_polarizability.csv: unexpected header ['XYZ_file', 'A'], ...
    """


def default_source_dir() -> Path:
    """The ``data`` folder inside the installed qm9pack wheel, found without importing it.

    >>> sorted(p.name for p in default_source_dir().glob("*.csv")) == sorted(SOURCE_FILES)
    True
    """
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("qm9pack is not installed: pip install qm9pack==1.0.3")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@dataclass
class RawQM9:
    """Everything read from the CSV files, molecules in increasing QM9 index.

    Reading all of QM9 takes a while, so the example is not run::

        raw = read_source()
        raw.index[:3], raw.Z[raw.offsets[0]:raw.offsets[1]]   # [1, 2, 3], methane's [6, 1, 1, 1, 1]
    """

    index: np.ndarray  # (M,) int64 QM9 index
    smiles: list[str]  # GDB-17 SMILES as in the file
    inchi: list[str]
    scalars: dict[str, np.ndarray]  # table column -> (M,) float64
    Z: np.ndarray  # (N_atoms_total,) uint8
    R: np.ndarray  # (N_atoms_total, 3) float64, Å
    mulliken: np.ndarray  # (N_atoms_total,) float64, e
    offsets: np.ndarray  # (M+1,) int64 into Z, R, mulliken
    freqs: np.ndarray  # (N_freq_total,) float64, cm^-1 (first set where two are listed)
    freq_offsets: np.ndarray  # (M+1,) int64 into freqs


def _check_header(path: Path, header: list[str], expected: tuple[str, ...]) -> None:
    if tuple(header) != expected:
        raise QM9FormatError(f"{path}: unexpected header {header}, expected {list(expected)}")


def _read_polarizability(path: Path) -> dict[str, tuple[float, ...]]:
    tensors: dict[str, tuple[float, ...]] = {}
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        _check_header(path, next(reader, []), ("XYZ_file", *TENSOR_COLUMNS))
        for row in reader:
            where = f"{path.name}, line {reader.line_num}"
            if len(row) != 1 + len(TENSOR_COLUMNS):
                raise QM9FormatError(f"{where}: {len(row)} fields, expected {1 + len(TENSOR_COLUMNS)}")
            if row[0] in tensors:
                raise QM9FormatError(f"{where}: {row[0]} appears twice")
            tensors[row[0]] = tuple(
                parse_number(text, f"{where} ({row[0]}), column {col!r}")
                for col, text in zip(TENSOR_COLUMNS, row[1:])
            )
    return tensors


def read_source(source_dir: Path | None = None) -> RawQM9:
    """Read, check and join the three part files and the polarizability file.

    Example (not run: it reads all of QM9)::

        raw = read_source()
        len(raw.index)   # 130831
    """
    folder = Path(source_dir) if source_dir is not None else default_source_dir()
    tensors = _read_polarizability(folder / POLARIZABILITY_FILE)
    index, smiles, inchi, Z, R, mull, freqs = [], [], [], [], [], [], []
    n_atoms, n_freqs = [], []
    columns = (*SCALAR_COLUMNS.values(), *TENSOR_COLUMNS.values(), "n_freq_sets", "freq_sets_max_diff_cm")
    scalars: dict[str, list[float]] = {name: [] for name in columns}
    seen: set[int] = set()
    for name in PART_FILES:
        path = folder / name
        with open(path, newline="") as handle:
            reader = csv.reader(handle)
            _check_header(path, next(reader, []), _PART_HEADER)
            for row in reader:
                line = reader.line_num
                if len(row) != len(_PART_HEADER):
                    raise QM9FormatError(f"{name}, line {line}: {len(row)} fields, expected {len(_PART_HEADER)}")
                field = dict(zip(_PART_HEADER, row))
                match = _FILE_RE.fullmatch(field["XYZ_file"])
                if not match or field["Index"] != str(int(match.group(1))):
                    raise QM9FormatError(
                        f"{name}, line {line}: XYZ_file {field['XYZ_file']!r} and Index {field['Index']!r} disagree"
                    )
                idx = int(field["Index"])
                here = f"{name}, line {line} (QM9 index {idx})"
                if idx in seen:
                    raise QM9FormatError(f"{here}: QM9 index appears twice")
                seen.add(idx)
                try:
                    _parse_row(field, here, tensors, Z, R, mull, freqs, n_atoms, n_freqs, scalars)
                except NumberFormatError as exc:
                    raise QM9FormatError(str(exc)) from None
                index.append(idx)
                smiles.append(field["SMILES"])
                inchi.append(field["InChi"])
    unmatched = set(tensors) - {f"dsgdb9nsd_{i:06d}.xyz" for i in seen}
    if unmatched:
        raise QM9FormatError(
            f"{POLARIZABILITY_FILE}: {len(unmatched)} rows match no molecule, e.g. {sorted(unmatched)[:3]}"
        )
    order = np.argsort(index, kind="stable")
    return _assemble(np.asarray(index), order, smiles, inchi, scalars, Z, R, mull, n_atoms, freqs, n_freqs)


def _parse_row(field, here, tensors, Z, R, mull, freqs, n_atoms, n_freqs, scalars) -> None:
    """Parse one part-file row into the growing lists, checking every count against N_atoms."""
    n = int(parse_number(field["N_atoms"], f"{here}, column 'N_atoms'"))
    if not _ELEMENTS_RE.fullmatch(field["Elements"]):
        raise QM9FormatError(f"{here}, column 'Elements': malformed element list {field['Elements'][:60]!r}")
    elements = [e.strip("'") for e in field["Elements"][1:-1].split(",")]
    unknown = sorted(set(elements) - set(ATOMIC_NUMBER))
    if unknown:
        raise QM9FormatError(f"{here}, column 'Elements': unsupported elements {unknown}")
    counts = parse_list(field["Stoichiometry"], f"{here}, column 'Stoichiometry'")
    expected = [float(elements.count(e)) for e in STOICHIOMETRY_ORDER]
    coords = parse_triples(field["XYZ_Ang"], f"{here}, column 'XYZ_Ang'")
    charges = parse_list(field["Mulliken_pop"], f"{here}, column 'Mulliken_pop'")
    frequencies = parse_list(field["Harmonic_Freq_cmi"], f"{here}, column 'Harmonic_Freq_cmi'")
    problems = [
        (len(elements) != n, f"'Elements' lists {len(elements)} atoms, N_atoms says {n}"),
        (counts != expected, f"'Stoichiometry' {field['Stoichiometry']} disagrees with 'Elements'"),
        (len(coords) != 3 * n, f"'XYZ_Ang' holds {len(coords) // 3} atoms, N_atoms says {n}"),
        (len(charges) != n, f"'Mulliken_pop' holds {len(charges)} charges for {n} atoms"),
    ]
    n_modes = next((m for m in (3 * n - 6, 3 * n - 5) if m > 0 and len(frequencies) in (m, 2 * m)), 0)
    problems.append((n_modes == 0, f"'Harmonic_Freq_cmi' holds {len(frequencies)} frequencies, "
                     f"expected 3N-6 or 3N-5 (or twice that) for N={n}"))
    for bad, message in problems:
        if bad:
            raise QM9FormatError(f"{here}, column {message}")
    tensor = tensors.get(field["XYZ_file"])
    if tensor is None:
        raise QM9FormatError(f"{here}: no row for {field['XYZ_file']} in {POLARIZABILITY_FILE}")
    for csv_col, col in SCALAR_COLUMNS.items():
        scalars[col].append(parse_number(field[csv_col], f"{here}, column {csv_col!r}"))
    for col, value in zip(TENSOR_COLUMNS.values(), tensor):
        scalars[col].append(value)
    Z.extend(ATOMIC_NUMBER[e] for e in elements)
    R.extend(coords)
    mull.extend(charges)
    # 334 molecules list their frequencies twice (two nearly equal sets): keep the first set,
    # record how many sets there were and how far the second one strays.
    first, second = frequencies[:n_modes], frequencies[n_modes:]
    scalars["n_freq_sets"].append(2.0 if second else 1.0)
    scalars["freq_sets_max_diff_cm"].append(
        max(abs(a - b) for a, b in zip(first, second)) if second else float("nan")
    )
    freqs.extend(first)
    n_atoms.append(n)
    n_freqs.append(n_modes)


def _ragged(values, counts, order, width: int = 1):
    """Reorder a concatenated ragged array by molecule ``order``; return (values, offsets)."""
    counts = np.asarray(counts, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)])
    arr = np.asarray(values, dtype=np.float64).reshape(-1, width) if width > 1 else np.asarray(values)
    pieces = [arr[starts[i]:starts[i + 1]] for i in order]
    new_offsets = np.concatenate([[0], np.cumsum(counts[order])]).astype(np.int64)
    return (np.concatenate(pieces) if pieces else arr[:0]), new_offsets


def _assemble(index, order, smiles, inchi, scalars, Z, R, mull, n_atoms, freqs, n_freqs) -> RawQM9:
    z_sorted, offsets = _ragged(np.asarray(Z, dtype=np.uint8), n_atoms, order)
    r_sorted, _ = _ragged(R, n_atoms, order, width=3)
    m_sorted, _ = _ragged(np.asarray(mull, dtype=np.float64), n_atoms, order)
    f_sorted, freq_offsets = _ragged(np.asarray(freqs, dtype=np.float64), n_freqs, order)
    return RawQM9(
        index=index[order].astype(np.int64),
        smiles=[smiles[i] for i in order],
        inchi=[inchi[i] for i in order],
        scalars={k: np.asarray(v, dtype=np.float64)[order] for k, v in scalars.items()},
        Z=z_sorted, R=r_sorted, mulliken=m_sorted, offsets=offsets,
        freqs=f_sorted, freq_offsets=freq_offsets,
    )
