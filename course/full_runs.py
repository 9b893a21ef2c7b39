"""Where a notebook's full-budget training keeps its resumable state.

A notebook at the full budget trains for hours on two cores, longer than a working stretch, so
every model it trains passes ``state=state_file(module, name)`` to the course's resumable loop
(``course.models.resumable``). The state is saved after every epoch; running the notebook again,
on this machine or on a fresh clone with the committed states, continues each model where it
stopped, and a model whose run has finished is loaded instead of trained. At the quick budget
there is no state: those runs take minutes and leave nothing behind.

The states live in ``solutions/<module>/full/state/`` of the course repository (committed with the
full-budget results), or in ``COURSE_STATE_DIR`` when that is set.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from course import budget
from course.paths import MODULE_PATTERN, repo_root

ENV_DIR = "COURSE_STATE_DIR"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def state_file(module: str, name: str) -> Path | None:
    """The state file of model ``name`` of notebook ``module`` at the full budget; ``None`` at the
    quick budget. The folder is made if missing.

    >>> import tempfile
    >>> saved = {k: os.environ.pop(k, None) for k in (budget.ENV_VAR, ENV_DIR)}
    >>> state_file("08-beyond-scalars", "dtnn") is None
    True
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     os.environ.update({budget.ENV_VAR: "full", ENV_DIR: folder})
    ...     path = state_file("08-beyond-scalars", "dtnn")
    ...     path.name, path.parent == Path(folder) / "08-beyond-scalars"
    ('dtnn.state.npz', True)
    >>> state_file("08-beyond-scalars", "DTNN U0")
    Traceback (most recent call last):
    ...
    ValueError: state name 'DTNN U0': use lower-case letters, digits, '-' and '_'
    >>> for k, v in saved.items():
    ...     _ = os.environ.pop(k, None) if v is None else os.environ.update({k: v})
    """
    if not MODULE_PATTERN.match(module):
        raise ValueError(f"module {module!r} is not a module name like '08-beyond-scalars'")
    if not _NAME.match(name):
        raise ValueError(f"state name {name!r}: use lower-case letters, digits, '-' and '_'")
    if budget.current() == "quick":
        return None
    folder = Path(os.environ[ENV_DIR]) / module if os.environ.get(ENV_DIR) else \
        repo_root() / "solutions" / module / "full" / "state"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.state.npz"
