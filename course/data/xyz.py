"""Read a molecule from an XYZ file and perceive its bonds.

Standard XYZ: atom count, a comment line, then one ``element x y z`` line per atom (Å). QM9's
extended files are tolerated: a fifth column (Mulliken charge) is ignored, numbers may use
Mathematica exponents (``1.2*^-6``), and when the comment line starts with ``gdb`` the three
trailing lines (frequencies, SMILES, InChI) are skipped. Only H, C, N, O and F are accepted,
because the course models know only these elements.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rdkit import Chem

from course.data.numbers import NumberFormatError, parse_number
from course.data.perceive import ATOMIC_NUMBER, SUPPORTED_ELEMENTS, PerceptionError, mol_from_xyz


class XYZFormatError(ValueError):
    """An XYZ file is malformed or holds a structure the course cannot use.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "bad.xyz"
    ...     _ = path.write_text("2\\nsalt\\nNa 0 0 0\\nCl 0 0 2.4\\n")
    ...     read_xyz(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    course.data.xyz.XYZFormatError: ...bad.xyz, line 3: element 'Na' is not supported; ...
    """


@dataclass
class XYZStructure:
    """A structure read from an XYZ file, with its perceived RDKit molecule (see :func:`read_xyz`)."""

    elements: list[str]
    atomic_numbers: np.ndarray  # (n,) int
    coordinates: np.ndarray  # (n, 3) Å
    comment: str
    mol: Chem.Mol  # explicit H, perceived bonds, 3-D conformer, file atom order


def read_xyz(path: str | Path) -> XYZStructure:
    """Read ``path`` and perceive bonds (neutral molecule); errors name the file and line.

    >>> import tempfile
    >>> water = "3\\nwater\\nO 0 0 0.1173\\nH 0 0.7572 -0.4692\\nH 0 -0.7572 -0.4692\\n"
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "water.xyz"
    ...     _ = path.write_text(water)
    ...     structure = read_xyz(path)
    >>> structure.elements, structure.atomic_numbers.tolist(), Chem.MolToSmiles(structure.mol)
    (['O', 'H', 'H'], [8, 1, 1], '[H]O[H]')
    """
    path = Path(path)
    lines = path.read_text().splitlines()
    if not lines or not lines[0].strip():
        raise XYZFormatError(f"{path}, line 1: expected the number of atoms, found an empty line")
    try:
        n = int(lines[0].strip())
    except ValueError:
        raise XYZFormatError(f"{path}, line 1: expected the number of atoms, found {lines[0].strip()!r}") from None
    if n < 1:
        raise XYZFormatError(f"{path}, line 1: the number of atoms must be positive, found {n}")
    if len(lines) < n + 2:
        raise XYZFormatError(f"{path}: line 1 announces {n} atoms but the file has only {max(len(lines) - 2, 0)} atom lines")
    comment = lines[1]
    elements, coords = [], []
    for number in range(3, n + 3):
        fields = lines[number - 1].split()
        where = f"{path}, line {number}"
        if len(fields) not in (4, 5):
            raise XYZFormatError(f"{where}: expected 'element x y z', found {lines[number - 1]!r}")
        element = fields[0]
        if element not in ATOMIC_NUMBER:
            raise XYZFormatError(
                f"{where}: element {element!r} is not supported; the course models handle only "
                f"{', '.join(SUPPORTED_ELEMENTS)}"
            )
        try:
            coords.append([parse_number(t, where) for t in fields[1:4]])
        except NumberFormatError as exc:
            raise XYZFormatError(str(exc)) from None
        elements.append(element)
    trailing = [k + 1 for k in range(n + 2, len(lines)) if lines[k].strip()]
    if trailing and not comment.startswith("gdb"):
        raise XYZFormatError(f"{path}, line {trailing[0]}: unexpected text after the {n} atom lines "
                             "(only one structure per file is supported)")
    coordinates = np.asarray(coords, dtype=float)
    try:
        mol = mol_from_xyz(elements, coordinates)
    except PerceptionError as exc:
        raise XYZFormatError(f"{path}: {exc}") from None
    return XYZStructure(elements, np.array([ATOMIC_NUMBER[e] for e in elements]), coordinates, comment, mol)
