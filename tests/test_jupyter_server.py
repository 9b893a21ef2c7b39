"""The Jupyter server students and instructors start: nbgrader's tools answer without exchange errors."""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import ROOT
from course import grading

TOKEN = "course-test"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``jupyter server`` started in a scratch copy of the course, as from the repository root."""
    course = grading.ScratchCourse(tmp_path_factory.mktemp("course"), ROOT)
    port = _free_port()
    log = open(course.folder / "server.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "jupyter", "server", "--no-browser", f"--port={port}",
                                "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
                                "--allow-root"], cwd=course.folder, stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                if process.poll() is not None:
                    pytest.fail(f"jupyter server exited: {(course.folder / 'server.log').read_text()[-2000:]}")
                time.sleep(0.5)
        else:
            pytest.fail("jupyter server did not answer within a minute")
        yield base, course.folder
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _get(base: str, path: str) -> str:
    request = urllib.request.Request(f"{base}{path}", headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read().decode()


def test_assignment_list_finds_no_courses_instead_of_an_error(server):
    base, _ = server
    # What the Assignment List's course menu asks for ("Error fetching courses!" when it fails).
    assert json.loads(_get(base, "/courses")) == {"success": True, "value": []}
    assert json.loads(_get(base, "/assignments?course_id=mlchem-interpretable"))["success"] is True


def test_formgrader_shows_no_exchange_warning(server):
    base, folder = server
    page = _get(base, "/formgrader")
    assert "Manage Assignments" in page
    assert "exchange directory" not in page and "could not be created" not in page
    assert (folder / "autograde" / "exchange").is_dir()
