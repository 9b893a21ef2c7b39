"""RDKit-free facts about how molecular features are laid out, shared by the featurizer and by
``course.models.weave_data`` (which must import on the GPU machine, where RDKit is missing)."""
from __future__ import annotations

import numpy as np

MAX_ATOMS = 29  # largest molecule of QM9


def ragged_positions(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For blocks of ``counts`` items: each item's block number and its index inside the block."""
    block = np.repeat(np.arange(len(counts)), counts)
    return block, np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
