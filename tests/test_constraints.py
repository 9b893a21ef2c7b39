"""The lock (constraints.txt) and pyproject.toml must agree, and the install commands must use it."""
from __future__ import annotations

import re
import tomllib

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conftest import ROOT

#: The platform the lock was resolved on (CI's): markers of pyproject.toml are judged for it.
LOCK_PLATFORM = {**default_environment(), "sys_platform": "linux", "platform_machine": "x86_64",
                 "platform_system": "Linux", "python_version": "3.11", "python_full_version": "3.11.7"}


def lock() -> dict[str, str]:
    pins = {}
    for number, line in enumerate((ROOT / "constraints.txt").read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.!]+)", line.strip())
        assert match, f"constraints.txt line {number} is not NAME==VERSION: {line!r}"
        name = canonicalize_name(match.group(1))
        assert name not in pins, f"constraints.txt pins {name} twice"
        pins[name] = match.group(2)
    return pins


def requirements(extra: str | None = None) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    return [Requirement(text) for text in listed]


@pytest.mark.parametrize("extra", [None, "test", "cluster"])
def test_every_dependency_is_pinned_within_its_range(extra):
    pins = lock()
    for requirement in requirements(extra):
        if requirement.marker is not None and not requirement.marker.evaluate(LOCK_PLATFORM):
            continue
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} (pyproject.toml) is not in constraints.txt"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {name}=={pins[name]}, outside pyproject.toml's {requirement}")


def test_the_lock_judge_can_fail():
    """The range check above rejects a pin outside its range (a hand-made case)."""
    assert not Requirement("nbgrader>=0.9.6,<0.10").specifier.contains("0.9.5")


def test_install_commands_use_the_lock():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert 'pip install -c constraints.txt -e ".[test]"' in ci
    assert 'pip install -c constraints.txt -e ".[test]" && python -m pytest' in readme
    assert "pip install -c constraints.txt -e . && python -m course reproduce --budget quick" in readme
