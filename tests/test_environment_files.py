"""environment.yml (students, conda) and binder/ (Binder) agree with pyproject.toml and the lock.

Building them needs conda or docker, which the test machine lacks; what can be checked without
them is: the same interpreter, inside the supported range; the course installed from the clone
with constraints.txt and without the test extras; Binder's install after the repository is copied.
"""
import os
import subprocess
import tomllib

import pytest
from packaging.specifiers import SpecifierSet

from conftest import ROOT

yaml = pytest.importorskip("yaml")


def _conda_env(path):
    env = yaml.safe_load(path.read_text())
    python = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python=")]
    pip = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    return env, python[0].split("=", 1)[1] if python else None, pip[0] if pip else []


def _supported() -> SpecifierSet:
    return SpecifierSet(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"])


def test_student_environment_installs_the_course_with_the_lock_and_no_test_extras():
    env, python, pip = _conda_env(ROOT / "environment.yml")
    assert env["name"] == "mlchem-course" and "conda-forge" in env["channels"]
    assert python and _supported().contains(f"{python}.0"), f"python={python} outside requires-python"
    assert pip == ["-c constraints.txt", "-e ."], pip


def test_binder_installs_after_the_repository_is_copied():
    env, python, pip = _conda_env(ROOT / "binder" / "environment.yml")
    _, student_python, _ = _conda_env(ROOT / "environment.yml")
    assert python == student_python
    assert pip == [], "Binder installs environment.yml before the repository is there: no -e . here"
    post_build = ROOT / "binder" / "postBuild"
    assert os.access(post_build, os.X_OK), "repo2docker runs postBuild only if it is executable"
    assert subprocess.run(["bash", "-n", str(post_build)]).returncode == 0
    commands = [line for line in post_build.read_text().splitlines() if line and not line.startswith("#")]
    assert "python -m pip install --no-cache-dir -c constraints.txt -e ." in commands
    assert not any("[test]" in line for line in commands)
    # repo2docker ignores files in the root once binder/ exists, and reads only these names there.
    assert {p.name for p in (ROOT / "binder").iterdir()} <= {"environment.yml", "postBuild", "apt.txt", "start"}
