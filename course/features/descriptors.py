"""Classic RDKit descriptors and Morgan fingerprints: the interpretable and the low-information
ends of molecular representations in Module 2.

RDKit's full list (over 200) costs about half a second per molecule on these machines; these
are the cheap, interpretable ones: size, composition, polarity, rings, shape indices.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from rdkit import Chem
from rdkit.Chem import Crippen, Descriptors, GraphDescriptors, Lipinski, rdFingerprintGenerator, rdMolDescriptors

_ELEMENT_COUNTS = {f"n_{symbol}": number for symbol, number in (("H", 1), ("C", 6), ("N", 7), ("O", 8), ("F", 9))}

#: Descriptor name -> function of an RDKit molecule with explicit hydrogens.
DESCRIPTORS = {
    **{name: (lambda z: lambda m: sum(a.GetAtomicNum() == z for a in m.GetAtoms()))(z)
       for name, z in _ELEMENT_COUNTS.items()},
    "MolWt": Descriptors.MolWt,
    "NumValenceElectrons": Descriptors.NumValenceElectrons,
    "MolMR": Crippen.MolMR,             # molar refractivity: Lorentz-Lorenz, tied to polarizability
    "MolLogP": Crippen.MolLogP,
    "TPSA": rdMolDescriptors.CalcTPSA,
    "LabuteASA": rdMolDescriptors.CalcLabuteASA,
    "NumHDonors": Lipinski.NumHDonors,
    "NumHAcceptors": Lipinski.NumHAcceptors,
    "NumRotatableBonds": Lipinski.NumRotatableBonds,
    "RingCount": rdMolDescriptors.CalcNumRings,
    "NumAromaticRings": rdMolDescriptors.CalcNumAromaticRings,
    "NumSaturatedRings": rdMolDescriptors.CalcNumSaturatedRings,
    "FractionCSP3": rdMolDescriptors.CalcFractionCSP3,
    "NumDoubleBonds": lambda m: sum(b.GetBondType() == Chem.BondType.DOUBLE for b in m.GetBonds()),
    "NumTripleBonds": lambda m: sum(b.GetBondType() == Chem.BondType.TRIPLE for b in m.GetBonds()),
    "Chi0v": GraphDescriptors.Chi0v,
    "Chi1v": GraphDescriptors.Chi1v,
    "Kappa1": GraphDescriptors.Kappa1,
    "Kappa2": GraphDescriptors.Kappa2,
    "HallKierAlpha": GraphDescriptors.HallKierAlpha,
    "BertzCT": GraphDescriptors.BertzCT,
}


def descriptor_matrix(mols: Iterable[Chem.Mol]) -> tuple[np.ndarray, list[str]]:
    """``(X, names)``: one row per molecule, one column per entry of :data:`DESCRIPTORS`."""
    names = list(DESCRIPTORS)
    rows = []
    for k, mol in enumerate(mols):
        try:
            rows.append([float(DESCRIPTORS[name](mol)) for name in names])
        except Exception as error:  # RDKit raises many types; name the molecule either way
            raise ValueError(f"molecule {k}: descriptors failed ({error})") from error
    return np.array(rows).reshape(len(rows), len(names)), names


def morgan_fingerprints(mols: Iterable[Chem.Mol], radius: int = 2, n_bits: int = 1024) -> np.ndarray:
    """Morgan (ECFP-like) bit vectors, one row per molecule, as float64 0/1 for kernels.

    They encode which circular substructures occur, hashed into ``n_bits`` bits, and nothing of
    geometry or of how often a substructure occurs.
    """
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    rows = []
    for k, mol in enumerate(mols):
        if mol is None:
            raise ValueError(f"molecule {k}: no RDKit molecule to fingerprint")
        rows.append(generator.GetFingerprintAsNumPy(mol))
    return np.array(rows, dtype=np.float64).reshape(len(rows), n_bits)
