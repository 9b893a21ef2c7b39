"""Chemical bonds from a 3-D structure, and the check of a perceived molecule against a SMILES.

Bond perception uses RDKit's ``rdDetermineBonds`` for a neutral molecule (total charge 0).
Connectivity comes first from covalent radii (RDKit's default, the fast rule). That rule bonds
the bridgehead atoms of strained bicyclic rings (1.8-1.9 Å apart), and then no valid bond
orders exist; only then is the connectivity taken from extended-Hückel overlap populations
(``useHueckel=True``, slower), which bonds those rings correctly.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence

import numpy as np
from rdkit import Chem, RDLogger
from rdkit.Chem import rdDetermineBonds
from rdkit.Geometry import Point3D

#: The elements the course models know (QM9 contains only these).
SUPPORTED_ELEMENTS = ("H", "C", "N", "O", "F")
ATOMIC_NUMBER = {"H": 1, "C": 6, "N": 7, "O": 8, "F": 9}
SYMBOL = {z: s for s, z in ATOMIC_NUMBER.items()}


class PerceptionError(ValueError):
    """Bonds of a structure cannot be perceived as one neutral, closed-shell molecule.

    >>> mol_from_xyz(["O", "H"], [[0, 0, 0], [0, 0, 0.97]])  # hydroxyl: a radical  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    course.data.perceive.PerceptionError: ...
    """


@contextlib.contextmanager
def quiet_native_output() -> Iterator[None]:
    """Silence C-level stdout/stderr: the Hückel code prints a warning for every O-H bond.

    Python's own ``sys.stdout`` is not redirected; only what native code writes to the file
    descriptors 1 and 2 (and RDKit's log) is dropped.

    >>> with quiet_native_output():
    ...     Chem.MolFromSmiles("not a smiles") is None  # RDKit's parse error is not shown
    True
    """
    RDLogger.DisableLog("rdApp.*")
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)
        RDLogger.EnableLog("rdApp.*")


def _atomic_number(element: str | int) -> int:
    z = ATOMIC_NUMBER.get(element) if isinstance(element, str) else int(element)
    if z not in SYMBOL:
        raise PerceptionError(
            f"unsupported element {element!r}: the course models handle only "
            f"{', '.join(SUPPORTED_ELEMENTS)}"
        )
    return z


def mol_from_xyz(elements: Sequence[str | int], coords: np.ndarray, connectivity: str = "auto") -> Chem.Mol:
    """Perceive bonds of a neutral molecule from element symbols (or numbers) and Å coordinates.

    ``connectivity`` is ``"radii"`` (covalent radii), ``"hueckel"`` (extended Hückel) or
    ``"auto"``: radii, and Hückel if bond orders cannot be assigned on the radii bonds.
    Returns an RDKit molecule with explicit hydrogens, atoms in the given order, a 3-D conformer
    and stereochemistry assigned from 3-D. Raises :class:`PerceptionError` (with the reason) for
    unsupported elements, structures whose bonds cannot be assigned for total charge 0 (ions),
    radicals and structures that fall apart into several fragments.

    >>> water = mol_from_xyz(["O", "H", "H"], [[0, 0, 0.1173], [0, 0.7572, -0.4692], [0, -0.7572, -0.4692]])
    >>> water.GetNumAtoms(), water.GetNumBonds(), plain_smiles(water)
    (3, 2, 'O')
    """
    if connectivity == "auto":
        try:
            return mol_from_xyz(elements, coords, "radii")
        except PerceptionError:
            return mol_from_xyz(elements, coords, "hueckel")
    if connectivity not in ("radii", "hueckel"):
        raise ValueError(f"connectivity must be 'auto', 'radii' or 'hueckel', got {connectivity!r}")
    coords = np.asarray(coords, dtype=float)
    if coords.shape != (len(elements), 3):
        raise PerceptionError(f"{len(elements)} elements but coordinates of shape {coords.shape}")
    if len(elements) == 0:
        raise PerceptionError("no atoms")
    rw = Chem.RWMol()
    conf = Chem.Conformer(len(elements))
    for i, element in enumerate(elements):
        atom = Chem.Atom(_atomic_number(element))
        atom.SetNoImplicit(True)
        rw.AddAtom(atom)
        conf.SetAtomPosition(i, Point3D(*coords[i]))
    rw.AddConformer(conf, assignId=True)
    mol = rw.GetMol()
    try:
        with quiet_native_output():
            rdDetermineBonds.DetermineBonds(mol, charge=0, useHueckel=connectivity == "hueckel")
    except Exception as exc:  # RDKit raises ValueError or RuntimeError subclasses
        message = " ".join(str(exc).split())
        raise PerceptionError(
            f"bonds cannot be assigned to a neutral closed-shell molecule (ion or radical?): {message}"
        ) from exc
    n_fragments = len(Chem.GetMolFrags(mol))
    if n_fragments > 1:
        raise PerceptionError(f"structure falls apart into {n_fragments} fragments")
    radicals = [a.GetIdx() for a in mol.GetAtoms() if a.GetNumRadicalElectrons()]
    if radicals:
        raise PerceptionError(f"radical: unpaired electrons on atoms {radicals}")
    Chem.AssignStereochemistryFrom3D(mol)
    return mol


def _constitution_key(mol: Chem.Mol) -> str:
    """Canonical SMILES of the bare graph: all atoms explicit and neutral, all bonds single."""
    rw = Chem.RWMol(Chem.AddHs(mol))
    Chem.RemoveStereochemistry(rw)
    for atom in rw.GetAtoms():
        atom.SetFormalCharge(0)
        atom.SetIsAromatic(False)
        atom.SetNoImplicit(True)
        atom.SetNumExplicitHs(0)
        atom.SetNumRadicalElectrons(0)
    for bond in rw.GetBonds():
        bond.SetBondType(Chem.BondType.SINGLE)
        bond.SetIsAromatic(False)
    rw.UpdatePropertyCache(strict=False)
    return Chem.MolToSmiles(rw, allHsExplicit=True)


def plain_smiles(mol: Chem.Mol) -> str:
    """Canonical SMILES without stereochemistry and without explicit hydrogen atoms.

    >>> plain_smiles(Chem.AddHs(Chem.MolFromSmiles("C/C=C/C")))
    'CC=CC'
    """
    copy = Chem.Mol(mol)
    Chem.RemoveStereochemistry(copy)
    params = Chem.RemoveHsParameters()
    params.removeDefiningBondStereo = True
    return Chem.MolToSmiles(Chem.RemoveHs(copy, params), isomericSmiles=False)


def compare_with_smiles(mol: Chem.Mol, smiles: str) -> str:
    """Compare a perceived molecule with a reference SMILES, ignoring stereochemistry.

    Returns ``"same"`` when the canonical SMILES agree, ``"resonance"`` when only bond orders
    and formal charges differ (same atoms, same bonds, same hydrogens on each atom: another
    Lewis structure of the same molecule, e.g. ``C[NH+]=C(N)C([O-])=O`` against
    ``CNC(=[NH2+])C(=O)[O-]``), and ``"different"`` otherwise. Stereo is ignored because the
    GDB-17 SMILES in QM9 carry none. Raises ``ValueError`` if RDKit cannot read ``smiles``.

    >>> mol = Chem.AddHs(Chem.MolFromSmiles("CNC(=[NH2+])C(=O)[O-]"))
    >>> [compare_with_smiles(mol, s) for s in ("CNC(=[NH2+])C(=O)[O-]", "C[NH+]=C(N)C([O-])=O", "CCO")]
    ['same', 'resonance', 'different']
    """
    with quiet_native_output():
        reference = Chem.MolFromSmiles(smiles)
    if reference is None:
        raise ValueError(f"RDKit cannot read the SMILES {smiles!r}")
    if plain_smiles(mol) == plain_smiles(reference):
        return "same"
    if _constitution_key(mol) == _constitution_key(reference):
        return "resonance"
    return "different"
