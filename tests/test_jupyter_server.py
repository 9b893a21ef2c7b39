"""The Jupyter server students and instructors start: nbgrader's tools answer without exchange errors."""
import json
import urllib.request

import pytest

import jupyter_process
from conftest import ROOT
from course import grading

TOKEN = "course-test"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``jupyter server`` started in a scratch copy of the course, as from the repository root."""
    course = grading.ScratchCourse(tmp_path_factory.mktemp("course"), ROOT)
    with jupyter_process.running("server", course.folder, TOKEN, wait_seconds=60) as base:
        yield base, course.folder


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
