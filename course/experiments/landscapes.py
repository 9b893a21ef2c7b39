"""The landscape databases that Module 7's quick budget reads (``course landscapes``).

Each network of :data:`course.landscape.explore.COMMITTED` is explored by basin-hopping and CI-NEB
with the settings there and saved as ``course/landscape/data/NAME.npz`` (the breast-cancer network:
about 2-3 minutes on 2 cores). The notebook's full budget explores from scratch with more hops
instead.
"""
from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from course.landscape import explore
from course.paths import CourseError


@dataclass(frozen=True)
class Built:
    """One database written: where, what it holds and how long it took."""

    name: str
    path: Path
    n_minima: int
    n_transition_states: int
    n_failures: int
    seconds: float

    def __str__(self) -> str:
        return (f"{self.name}: {self.n_minima} minima, {self.n_transition_states} transition states, "
                f"{self.n_failures} failed connections, {self.seconds:.0f} s -> {self.path}")


def build(names: Sequence[str] | None = None, out: Path | None = None) -> Iterator[Built]:
    """Explore and save each of ``names`` (default: all of :data:`~course.landscape.explore.COMMITTED`)
    to ``out/NAME.npz``, by default where :func:`~course.landscape.explore.committed` reads it; one
    :class:`Built` per database, as it is written."""
    names = list(names or explore.COMMITTED)
    unknown = [name for name in names if name not in explore.COMMITTED]
    if unknown:  # before the first exploration, which takes minutes
        raise CourseError(f"no committed landscape {', '.join(unknown)}; there are {', '.join(explore.COMMITTED)}")
    for name in names:
        start = time.perf_counter()
        path = explore.committed_path(name) if out is None else out / f"{name}.npz"
        land = explore.build_committed(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        land.save(path)
        yield Built(name, path, len(land.minima), len(land.transition_states), len(land.failures),
                    time.perf_counter() - start)
