"""The examples in the library's docstrings run and print what they show."""
import doctest
import importlib

import pytest

from conftest import ROOT

WITH_EXAMPLES = sorted(
    ".".join(path.relative_to(ROOT).with_suffix("").parts)
    for path in (ROOT / "course").rglob("*.py") if ">>> " in path.read_text(encoding="utf-8"))


def test_the_library_has_examples():
    assert len(WITH_EXAMPLES) >= 10, WITH_EXAMPLES


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    outcome = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert outcome.attempted > 0, f"{name}: no example found by doctest"
    assert outcome.failed == 0, f"{name}: {outcome.failed} of {outcome.attempted} examples fail"
