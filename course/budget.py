"""Quick or full: the one switch that sizes every notebook.

*quick* runs on a 2-core CPU in minutes (CI, students, autograding); *full* is the literature
protocol, meant for a GPU machine. A notebook's parameters cell reads the budget from the
``COURSE_BUDGET`` environment variable (``course reproduce --budget`` sets it), so the same code
runs both.
"""
from __future__ import annotations

import os
from typing import TypeVar

ENV_VAR = "COURSE_BUDGET"
BUDGETS = ("quick", "full")
T = TypeVar("T")


def current() -> str:
    """The active budget: ``COURSE_BUDGET`` if set, else ``"quick"``.

    >>> saved = os.environ.pop(ENV_VAR, None)
    >>> current()
    'quick'
    >>> os.environ[ENV_VAR] = " Full "; current()
    'full'
    >>> os.environ[ENV_VAR] = "huge"; current()
    Traceback (most recent call last):
    ...
    ValueError: COURSE_BUDGET='huge' is not a budget; use one of quick, full
    >>> _ = os.environ.pop(ENV_VAR) if saved is None else os.environ.update({ENV_VAR: saved})
    """
    value = os.environ.get(ENV_VAR, "quick").strip().lower() or "quick"
    if value not in BUDGETS:
        raise ValueError(f"{ENV_VAR}={value!r} is not a budget; use one of {', '.join(BUDGETS)}")
    return value


def pick(*, quick: T, full: T) -> T:
    """Return the value that belongs to the active budget: a notebook's parameters cell sizes
    its runs with it, so the same code runs in minutes or at the literature's size.

    >>> saved = os.environ.pop(ENV_VAR, None)
    >>> pick(quick=200, full=20_000)
    200
    >>> os.environ[ENV_VAR] = "full"; pick(quick=200, full=20_000)
    20000
    >>> _ = os.environ.pop(ENV_VAR) if saved is None else os.environ.update({ENV_VAR: saved})
    """
    return quick if current() == "quick" else full
