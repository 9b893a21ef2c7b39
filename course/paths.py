"""Where the course lives: the repository root and its module folders."""
from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

MODULE_PATTERN = re.compile(r"^\d\d-[a-z0-9-]+$")
#: The checkout this package was installed from (editable install): it holds the committed models
#: and is the folder to put on a sandboxed kernel's path. ``repo_root()`` is the course being run.
INSTALLED_CHECKOUT = Path(__file__).resolve().parent.parent


class CourseError(Exception):
    """A problem the user can fix; the command line prints it without a traceback.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     notebook("01-regression", root=Path(folder))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    course.paths.CourseError: missing notebook: .../source/01-regression/01-regression.ipynb
    """


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
    for folder in (here, *here.parents, INSTALLED_CHECKOUT):
        if (folder / "nbgrader_config.py").is_file() and (folder / "source").is_dir():
            return folder
    raise CourseError("cannot find the course repository (a folder with nbgrader_config.py and "
                      "source/); run from inside it or set COURSE_ROOT")


def modules(root: Path | None = None) -> list[str]:
    """Module names (``01-regression``, ...) in course order, taken from ``source/``.

    Folders that do not look like ``NN-name`` are not modules.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     for name in ("02-kernels", "01-regression", "images", "03_Bad"):
    ...         (Path(folder) / "source" / name).mkdir(parents=True)
    ...     modules(Path(folder))
    ['01-regression', '02-kernels']
    """
    source = (root or repo_root()) / "source"
    return sorted(p.name for p in source.iterdir() if p.is_dir() and MODULE_PATTERN.match(p.name))


def resolve_module(name: str, known: list[str]) -> str | None:
    """The module a command-line word means: its full name, its number (``1``, ``01``) or its
    name without the number (``regression``), or a prefix of either that fits only one module.

    >>> known = ["01-regression", "02-kernels"]
    >>> [resolve_module(w, known) for w in ("01-regression", "1", "02", "kernels", "reg", "0", "x")]
    ['01-regression', '01-regression', '02-kernels', '02-kernels', '01-regression', None, None]
    """
    word = name.strip().lower()
    if word in known:
        return word
    if word.isdigit():
        matches = [m for m in known if int(m[:2]) == int(word)]
    else:
        matches = [m for m in known if m[3:] == word] or [m for m in known if m.startswith(word) or m[3:].startswith(word)]
    return matches[0] if len(matches) == 1 else None


def resolve_modules(names: list[str] | None, root: Path | None = None) -> list[str]:
    """Validate module names given on the command line (see :func:`resolve_module` for the
    shorthand); none means all modules. An unknown name is an error with the closest names.

    >>> import tempfile
    >>> folder = tempfile.TemporaryDirectory(); root = Path(folder.name)
    >>> for name in ("01-regression", "02-kernels"):
    ...     (root / "source" / name).mkdir(parents=True)
    >>> resolve_modules(["2", "regression", "02"], root), resolve_modules(None, root)
    (['02-kernels', '01-regression'], ['01-regression', '02-kernels'])
    >>> resolve_modules(["kernles"], root)
    Traceback (most recent call last):
    ...
    course.paths.CourseError: unknown module(s): kernles (did you mean 02-kernels?); available: 01-regression, 02-kernels
    >>> folder.cleanup()
    """
    known = modules(root)
    if not names:
        return known
    resolved, problems = [], []
    for name in names:
        module = resolve_module(name, known)
        if module is None:
            close = difflib.get_close_matches(name.lower(), known + [m[3:] for m in known], n=4, cutoff=0.6)
            close = list(dict.fromkeys(resolve_module(c, known) for c in close))[:2]
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            problems.append(f"{name}{hint}")
        elif module not in resolved:
            resolved.append(module)
    if problems:
        raise CourseError(f"unknown module(s): {', '.join(problems)}; available: {', '.join(known)}")
    return resolved


def notebook(module: str, folder: str = "source", root: Path | None = None) -> Path:
    """Path of a module's notebook in ``source/``, ``release/`` or ``solutions/``; a
    :class:`CourseError` if it is missing.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     (Path(folder) / "release" / "01-regression").mkdir(parents=True)
    ...     (Path(folder) / "release" / "01-regression" / "01-regression.ipynb").touch()
    ...     notebook("01-regression", "release", Path(folder)).relative_to(folder).as_posix()
    'release/01-regression/01-regression.ipynb'
    """
    path = (root or repo_root()) / folder / module / f"{module}.ipynb"
    if not path.is_file():
        raise CourseError(f"missing notebook: {path}")
    return path
