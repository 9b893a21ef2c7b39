"""Strict parsing of the numbers found in QM9 files.

QM9's own files write Mathematica exponents (``1.2*^-6``) and the qm9pack CSVs write bare
trailing dots (``0.``, ``1.``). Python's ``float`` accepts far more than that (``nan``,
``inf``, ``1_0``, surrounding blanks), so every number is first checked against the grammar
below; anything else is a malformed field and raises :class:`NumberFormatError` naming where
it was found, instead of turning silently into a wrong value.
"""
from __future__ import annotations

import re

_NUM = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:(?:[eE]|\*\^)[+-]?\d+)?"
NUMBER_RE = re.compile(_NUM)
_FLAT_LIST_RE = re.compile(rf"\[(?:{_NUM}(?:,{_NUM})*)?\]")
_TRIPLE = rf"\[{_NUM},{_NUM},{_NUM}\]"
_TRIPLE_LIST_RE = re.compile(rf"\[{_TRIPLE}(?:,{_TRIPLE})*\]")


class NumberFormatError(ValueError):
    """A field that should hold a number (or a list of numbers) does not.

    >>> parse_number("nan", "gdb_1.xyz, line 3")
    Traceback (most recent call last):
    ...
    course.data.numbers.NumberFormatError: gdb_1.xyz, line 3: cannot read 'nan' as a number
    """


def parse_number(text: str, where: str = "") -> float:
    """Read one number in plain, exponent (``1e-6``) or Mathematica (``1.2*^-6``) notation.

    ``where`` names the file, line and column for the error message.

    >>> parse_number("1.2*^-6"), parse_number("0."), parse_number("-3e2")
    (1.2e-06, 0.0, -300.0)
    """
    if not NUMBER_RE.fullmatch(text):
        raise NumberFormatError(f"{where}: cannot read {text!r} as a number".lstrip(": "))
    return float(text.replace("*^", "e"))


def _first_bad_token(text: str) -> str:
    for token in text.replace("[", " ").replace("]", " ").replace(",", " ").split():
        if not NUMBER_RE.fullmatch(token):
            return repr(token)
    return "the brackets or commas"


def parse_list(text: str, where: str = "") -> list[float]:
    """Read ``[a,b,c]`` (no blanks) into floats; an empty ``[]`` gives an empty list.

    >>> parse_list("[1.,2.5,3*^1]"), parse_list("[]")
    ([1.0, 2.5, 30.0], [])
    """
    if not _FLAT_LIST_RE.fullmatch(text):
        raise NumberFormatError(f"{where}: malformed number list, bad part: {_first_bad_token(text)}")
    inner = text[1:-1]
    return [float(t) for t in inner.replace("*^", "e").split(",")] if inner else []


def parse_triples(text: str, where: str = "") -> list[float]:
    """Read ``[[x,y,z],[x,y,z],...]`` into a flat list of floats (3 per row).

    >>> parse_triples("[[0,0,1.],[0,0,-1.]]")
    [0.0, 0.0, 1.0, 0.0, 0.0, -1.0]
    """
    if not _TRIPLE_LIST_RE.fullmatch(text):
        raise NumberFormatError(
            f"{where}: malformed list of (x, y, z) rows, bad part: {_first_bad_token(text)}"
        )
    flat = text.replace("[", "").replace("]", "").replace("*^", "e")
    return [float(t) for t in flat.split(",")]
