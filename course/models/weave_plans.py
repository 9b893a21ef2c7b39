"""The sizes of the weave models per budget: molecules, epochs and network, in one table.

``course train`` (:mod:`course.models.weave_fold`) trains with them and the Module 4 notebook
builds its model from them. Kept apart from the training code so that reading a size imports
neither Keras nor RDKit (a notebook's parameters cell runs before TensorFlow is quietened).

>>> PLANS["quick"].model["width"], PLANS["full"].n_train is None
(32, True)
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FoldPlan:
    """Sizes of one budget: molecules (``None``: all there are), epochs per property, model."""

    n_train: int | None
    n_val: int
    n_test: int | None
    epochs: dict[str, int]
    batch_size: int
    model: dict = field(default_factory=dict)


#: The budgets. ZPVE needs far fewer epochs than α to reach its target (issue 13's measurements:
#: ZPVE is below 0.00975 eV after a few epochs on 5,000 molecules, α is limited by optimizer steps).
PLANS = {
    "quick": FoldPlan(n_train=2500, n_val=500, n_test=2000, epochs={"alpha": 20, "zpve": 20}, batch_size=32,
                      model=dict(width=32, n_layers=2, readout_width=64, head=(64,))),
    "full": FoldPlan(n_train=None, n_val=5000, n_test=None, epochs={"alpha": 40, "zpve": 10}, batch_size=64,
                     model=dict(width=64, n_layers=3, readout_width=128, head=(128,))),
}
