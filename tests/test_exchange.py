"""The instructor's workflow through nbgrader's exchange, end to end, on a real exchange folder:
release_assignment -> fetch_assignment -> submit (two students) -> collect -> ``course grade``
(autograde and feedback) -> release_feedback -> fetch_feedback.

The course is a copy with its own exchange root and course id (the options the formgrader's
buttons take from ``nbgrader_config.py``). nbgrader's exchange names a student by the login of
the process (``pwd``), so each student runs in a user namespace of its own (bubblewrap, which
grading needs anyway) with a uid and a passwd line of its own. About two minutes on two cores.
"""
import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import grading_corpus
from conftest import ROOT
from course import scrub, submissions

MODULE = grading_corpus.MODULE
COURSE_ID = "mlchem-exchange-test"
STUDENTS = {"alice": ("solution", 2001), "bob": ("wrong", 2002)}


def nbgrader(args, cwd, exchange, env=None):
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args, f"--Exchange.root={exchange}"], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "[ERROR]" not in done.stdout + done.stderr, (args, done.stdout, done.stderr)
    return done.stdout + done.stderr


def as_student(name, uid, home, args, exchange, passwd):
    """``nbgrader ARGS --course COURSE_ID`` run by student ``name`` (own uid, login and home)."""
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8", "USER": name, "LOGNAME": name}
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    command = ["bwrap", "--dev-bind", "/", "/", "--unshare-user", "--uid", str(uid), "--gid", str(uid),
               "--ro-bind", str(passwd), "/etc/passwd", "--chdir", str(home), "--clearenv",
               *[arg for key, value in env.items() for arg in ("--setenv", key, value)],
               sys.executable, "-m", "nbgrader", *args, f"--course={COURSE_ID}", f"--Exchange.root={exchange}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "[ERROR]" not in done.stdout + done.stderr, (name, args, done.stdout, done.stderr)
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    grading_corpus.require_sandbox("grading and the students' user namespaces need bubblewrap")
    base = tmp_path_factory.mktemp("exchange-workflow")
    course = grading_corpus.copy_course(ROOT, base / "course", release=True)
    exchange = base / "exchange"
    instructor = [f"--CourseDirectory.course_id={COURSE_ID}"]
    log = {"release": nbgrader(["release_assignment", MODULE, *instructor], course, exchange)}

    passwd = base / "passwd"
    passwd.write_text(Path("/etc/passwd").read_text()
                      + "".join(f"{name}:x:{uid}:{uid}::{base / name}:/bin/sh\n" for name, (_, uid) in STUDENTS.items()))
    work = grading_corpus.basic(ROOT)
    for name, (kind, uid) in STUDENTS.items():
        home = base / name
        home.mkdir()
        log[f"fetch {name}"] = as_student(name, uid, home, ["fetch_assignment", MODULE], exchange, passwd)
        fetched = home / MODULE / f"{MODULE}.ipynb"
        assert fetched.is_file()
        nbformat.write(work[kind][0], fetched)  # the student's work, saved over the fetched notebook
        log[f"submit {name}"] = as_student(name, uid, home, ["submit", MODULE], exchange, passwd)

    log["collect"] = nbgrader(["collect", MODULE, *instructor], course, exchange)
    graded = subprocess.run([sys.executable, "-m", "course", "grade", MODULE, "--jobs", "2", "--cell-timeout", "60",
                             "--notebook-timeout", "240", "--memory", "2"], cwd=course, capture_output=True,
                            text=True, timeout=900)
    assert graded.returncode == 0, graded.stdout[-3000:] + graded.stderr[-3000:]
    log["grade"] = graded.stdout
    log["release feedback"] = nbgrader(["release_feedback", MODULE, *instructor], course, exchange)
    for name, (_, uid) in STUDENTS.items():
        log[f"fetch feedback {name}"] = as_student(name, uid, base / name, ["fetch_feedback", MODULE], exchange,
                                                   passwd)
    return dict(base=base, course=course, exchange=exchange, log=log, work=work)


def test_release_puts_the_student_notebook_in_the_exchange(workflow):
    outbound = workflow["exchange"] / COURSE_ID / "outbound" / MODULE / f"{MODULE}.ipynb"
    assert outbound.read_bytes() == (ROOT / "release" / MODULE / f"{MODULE}.ipynb").read_bytes()


def test_collect_brings_each_students_submission_with_its_exchange_files(workflow):
    submitted = workflow["course"] / "autograde" / "submitted"
    assert sorted(p.name for p in submitted.iterdir()) == sorted(STUDENTS)
    for name in STUDENTS:
        assert {p.name for p in (submitted / name / MODULE).iterdir()} >= {
            f"{MODULE}.ipynb", "timestamp.txt", "submission_secret.txt"}


def test_course_grade_grades_the_collected_submissions(workflow):
    with (workflow["course"] / "autograde" / "grades.csv").open(newline="") as handle:
        rows = {row["student_id"]: (float(row["score"]), row["status"]) for row in csv.DictReader(handle)}
    assert rows == {name: (workflow["work"][kind][1], "graded") for name, (kind, _) in STUDENTS.items()}
    assert "not copied" not in workflow["log"]["grade"], "the exchange's own files are expected, not noted"


def test_each_student_fetches_their_own_feedback(workflow):
    secrets = scrub.hidden_lines(nbformat.read(ROOT / "source" / MODULE / f"{MODULE}.ipynb", as_version=4))
    pages = {}
    for name in STUDENTS:
        found = list((workflow["base"] / name / MODULE / "feedback").glob(f"*/{MODULE}.html"))
        assert len(found) == 1, (name, found)
        pages[name] = found[0].read_text()
        published = workflow["course"] / "autograde" / "feedback" / name / MODULE / f"{MODULE}.html"
        assert pages[name] == published.read_text(), "the page course grade wrote, unchanged"
        assert "cdnjs.cloudflare.com" not in pages[name] and "HIDDEN TESTS" not in pages[name]
        text = re.sub(r"<[^>]+>", "", pages[name])
        assert [s for s in secrets if s in text] == []
    assert pages["alice"] != pages["bob"]
    assert len(list((workflow["exchange"] / COURSE_ID / "feedback").glob("*.html"))) == len(STUDENTS)


def test_only_well_formed_exchange_files_are_kept(tmp_path):
    folder = tmp_path / "alice" / MODULE
    folder.mkdir(parents=True)
    release = nbformat.read(ROOT / "release" / MODULE / f"{MODULE}.ipynb", as_version=4)
    nbformat.write(release, folder / f"{MODULE}.ipynb")
    (folder / "timestamp.txt").write_text("2026-12-03 12:58:45.123456 UTC")
    (folder / "submission_secret.txt").write_text("../../etc/passwd")
    (submission,) = submissions.collect(tmp_path, MODULE, release)
    assert dict(submission.exchange_files) == {"timestamp.txt": "2026-12-03 12:58:45.123456 UTC"}
    assert any("submission_secret.txt" in note for note in submission.notes), "a malformed one is noted, not kept"
