"""One builder at a time for a cache file shared by several processes.

Test workers, parallel graders and a student's two notebooks can all find the QM9 cache missing at
once; without a lock each would spend minutes building it and overwrite the others' files. The
first takes the lock and builds; the rest wait, then read what it wrote.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

from filelock import FileLock


@contextlib.contextmanager
def building(path: Path) -> Iterator[None]:
    """Hold the lock of the cache file ``path`` (a ``.lock`` file beside it) for a read-or-build.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     with building(Path(folder) / "cache" / "qm9_v1.npz"):
    ...         print(sorted(p.name for p in (Path(folder) / "cache").iterdir()))
    ['qm9_v1.npz.lock']
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        yield
