"""``course grade --scheduler``: the same grading jobs on a Dask cluster (a local one of two worker
processes) give the grades the local engine gives (the scores ``tests/grading_corpus.py`` expects,
which ``test_grading_corpus`` holds the local engine to), and the course is written only by the parent.

About two minutes on two cores: the solution, a blank and a wrong Module 1 submission.
"""
import csv
import subprocess
import sys

import nbformat
import pytest

import grading_corpus
from conftest import ROOT
from course import sandbox

distributed = pytest.importorskip("distributed", reason="the cluster extra (dask[distributed]) is not installed")
MODULE = grading_corpus.MODULE
GRADE = [sys.executable, "-m", "course", "grade", MODULE, "--cell-timeout", "60", "--notebook-timeout", "240",
         "--memory", "2"]


def grades(course) -> dict:
    with (course / "autograde" / "grades.csv").open(newline="") as handle:
        return {row["student_id"]: (row["score"], row["status"]) for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    grading_corpus.require_sandbox()
    course = grading_corpus.copy_course(ROOT, tmp_path_factory.mktemp("dask") / "course")
    expected = {}
    for student, (notebook, score) in grading_corpus.basic(ROOT).items():
        folder = course / "autograde" / "submitted" / student / MODULE
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / f"{MODULE}.ipynb")
        expected[student] = score
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster:
        on_cluster = subprocess.run([*GRADE, "--scheduler", cluster.scheduler_address], cwd=course,
                                    capture_output=True, text=True, timeout=600)
        finished = [key for key, start, finish, *_ in cluster.scheduler.transition_log
                    if str(key).startswith("grade_job") and finish == "memory"]
        workers = set(cluster.scheduler_info["workers"])
    return dict(course=course, expected=expected, on_cluster=on_cluster, finished=finished, workers=workers)


def test_the_cluster_grades_every_submission_as_expected(graded):
    done = graded["on_cluster"]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "on the Dask cluster tcp://" in done.stdout and "(2 workers, 2 at a time)" in done.stdout
    rows = grades(graded["course"])
    assert {s: rows[s] for s in graded["expected"]} == {s: (str(v), "graded") for s, v in graded["expected"].items()}


def test_the_jobs_ran_on_the_workers(graded):
    # The solution's reference run and one job per submission, each finished on a worker.
    assert len(set(graded["finished"])) == 1 + len(graded["expected"]), graded["finished"]
    assert len(graded["workers"]) == 2


def test_results_are_published_by_the_parent(graded):
    autograde = graded["course"] / "autograde"
    for student in graded["expected"]:
        assert (autograde / "autograded" / student / MODULE / f"{MODULE}.ipynb").is_file()
        page = autograde / "feedback" / student / MODULE / f"{MODULE}.html"
        assert page.is_file() and (page.parent / "mathjax" / "MathJax.js").is_file()
        assert "HIDDEN TESTS" not in page.read_text()
    assert list((autograde / "backups").glob("gradebook-*.db")) == [], "no gradebook before this run"
    assert "scheduler=tcp://" in (autograde / "grade.log").read_text()


def test_a_job_is_plain_data_and_refuses_a_machine_without_sandbox(monkeypatch):
    import pickle

    from course import classgrade

    release = nbformat.read(ROOT / "release" / MODULE / f"{MODULE}.ipynb", as_version=4)
    job = classgrade.Job(MODULE, "alice", nbformat.writes(release), "c = get_config()\n", b"", nbformat.writes(release),
                         {"test_a": 1.0}, classgrade.Settings(jobs=1), reference={}, notes=("a note",))
    assert pickle.loads(pickle.dumps(job)) == job
    monkeypatch.setattr(sandbox, "unavailable", lambda: "bubblewrap (bwrap) is not installed")
    outcome = classgrade.grade_job(job)
    assert outcome.scores is None and outcome.reason.startswith("not graded: the grading machine has no sandbox")
    assert outcome.notes == ("a note",)
