"""Where the course lives: the repository root and its module folders."""
from __future__ import annotations

import os
import re
from pathlib import Path

MODULE_PATTERN = re.compile(r"^\d\d-[a-z0-9-]+$")


class CourseError(Exception):
    """A problem the user can fix; the command line prints it without a traceback."""


def repo_root() -> Path:
    """The course repository: ``COURSE_ROOT``, else the working directory or its nearest parent
    holding ``nbgrader_config.py`` and ``source/``, else the checkout this package was installed from.

    The folder you run in wins over the installed checkout, so that ``course grade`` run inside a
    copy of the course grades that copy, not the original.

    >>> repo_root() / "source"  # doctest: +SKIP
    PosixPath('/home/me/course/source')
    """
    if os.environ.get("COURSE_ROOT"):
        return Path(os.environ["COURSE_ROOT"]).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents, Path(__file__).resolve().parent.parent):
        if (folder / "nbgrader_config.py").is_file() and (folder / "source").is_dir():
            return folder
    raise CourseError("cannot find the course repository (a folder with nbgrader_config.py and "
                      "source/); run from inside it or set COURSE_ROOT")


def modules(root: Path | None = None) -> list[str]:
    """Module names (``01-regression``, ...) in course order, taken from ``source/``."""
    source = (root or repo_root()) / "source"
    return sorted(p.name for p in source.iterdir() if p.is_dir() and MODULE_PATTERN.match(p.name))


def resolve_modules(names: list[str] | None, root: Path | None = None) -> list[str]:
    """Validate module names given on the command line; none means all modules."""
    known = modules(root)
    if not names:
        return known
    unknown = [n for n in names if n not in known]
    if unknown:
        raise CourseError(f"unknown module(s): {', '.join(unknown)}; available: {', '.join(known)}")
    return list(names)


def notebook(module: str, folder: str = "source", root: Path | None = None) -> Path:
    """Path of a module's notebook in ``source/``, ``release/`` or ``solutions/``."""
    path = (root or repo_root()) / folder / module / f"{module}.ipynb"
    if not path.is_file():
        raise CourseError(f"missing notebook: {path}")
    return path
