"""Build the landscape database that Module 7's quick budget reads: the breast-cancer network
explored by basin-hopping and CI-NEB (``course/landscape/data/breast-cancer.npz``).

    python scripts/build_landscapes.py        # about 2-3 minutes on 2 cores

The settings are :data:`course.landscape.explore.COMMITTED`; the full budget of the notebook
explores from scratch with more hops instead.
"""
from __future__ import annotations

import time

from course.landscape import explore


def main() -> None:
    for name in explore.COMMITTED:
        start = time.perf_counter()
        land = explore.build_committed(name)
        path = explore.committed_path(name)
        land.save(path)
        print(f"{name}: {len(land.minima)} minima, {len(land.transition_states)} transition states, "
              f"{len(land.failures)} failed connections, {time.perf_counter() - start:.0f} s -> {path}")


if __name__ == "__main__":
    main()
