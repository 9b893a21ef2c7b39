"""Grade a whole class: every submission graded or flagged, one failure costing one student.

``grade_class`` (behind ``course grade MODULE``) checks every submission first
(:mod:`course.submissions`), then grades each one in its own scratch nbgrader course with its
kernel in the sandbox (:mod:`course.sandbox`), several at a time. It judges the executed notebook
itself, outside the kernel: a test cell scores its points when it ran without an error and reported
the answers the course's own solution reported (:mod:`course.answers`). It strips hidden tests and caps
the feedback (:mod:`course.scrub`).

Grading one submission is one job, :func:`grade_job`: plain data in (a :class:`Job`: the checked
notebook, the course's configuration, a gradebook with the assignment, the reference answers),
plain data out (an :class:`Outcome`: scores, log, the graded notebook and feedback page as bytes).
It needs the course package, nbgrader and bubblewrap on the machine that runs it, nothing of the
course folder. The jobs run on local threads (each driving its own nbgrader and kernel processes,
``Settings.jobs`` at a time) or, given ``Settings.scheduler``, on a Dask cluster
(``dask.distributed``, the ``cluster`` extra). Only this trusted process writes into the course,
and only then copies results into ``autograde/``: the
gradebook (backed up first), the graded notebooks, the feedback pages, ``grades.csv`` and the full
log ``grade.log``. A run ends with one line per student and a check, by hash, that nothing outside
``autograde/`` changed.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from course import answers, gradebook_io, grading, sandbox, scrub, site, submissions
from course.paths import CourseError

MAX_FEEDBACK_BYTES = 12 * 1024**2
SKIPPED_IN_FINGERPRINT = {".git", "__pycache__", ".pytest_cache", ".ipynb_checkpoints"}
#: Environment variable naming the Dask scheduler ``course grade`` submits its jobs to.
SCHEDULER_ENV = "COURSE_GRADE_SCHEDULER"


@dataclass(frozen=True)
class Settings:
    """How ``course grade`` runs; the defaults suit a class of Module 1 on a laptop.

    >>> settings = Settings(jobs=2, cell_timeout=120)
    >>> settings.sandboxed, settings.limits.threads, settings.scheduler is None
    (True, 1, True)
    """

    jobs: int = max(1, os.cpu_count() or 1)
    sandboxed: bool = True
    cell_timeout: int = 600          # seconds one cell may run
    notebook_timeout: int = 1800     # seconds the whole notebook may run (kills what ignores interrupts)
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    scheduler: str | None = None     # a Dask scheduler address (tcp://host:8786): grade on that cluster


@dataclass
class Outcome:
    """What grading one student produced; ``reason`` is set when the submission is ungradable.

    >>> Outcome("alice", 3.0, scores={"t1": 1.0, "t2": 0.5}).scores
    {'t1': 1.0, 't2': 0.5}
    """

    student: str
    max_score: float
    scores: dict[str, float] | None = None
    reason: str = ""
    notes: tuple[str, ...] = ()
    log: str = ""
    graded_notebook: bytes | None = None   # the executed notebook, hidden tests removed
    feedback_page: bytes | None = None     # its feedback page (HTML)
    exchange_files: dict[str, str] = field(default_factory=dict)  # timestamp.txt and the like, kept beside
    reported: dict[str, dict[str, answers.Reported]] = field(default_factory=dict)  # answers, by test cell

    @property
    def summary(self) -> str:
        """The student's line at the end of ``course grade``: score out of the maximum, or why not.

        >>> print(Outcome("alice", 3.0, scores={"t1": 1.0, "t2": 0.5}).summary)
        alice                    1.5/3
        >>> print(Outcome("bob", 3.0, reason="empty file").summary)
        bob                      ungradable: empty file
        """
        if self.scores is None:
            return f"{self.student:<24} ungradable: {self.reason}"
        return f"{self.student:<24} {_number(sum(self.scores.values()))}/{_number(self.max_score)}"


def _number(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class _Assignment:
    module: str
    root: Path
    scratch: Path        # generated once: nbgrader_config.py, gradebook with the assignment
    release: NotebookNode
    source: NotebookNode

    @property
    def points(self) -> dict[str, float]:
        """Points of every automatically graded test cell, from the release (never a submission)."""
        return {c.metadata.nbgrader["grade_id"]: float(c.metadata.nbgrader["points"])
                for c in self.release.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")
                and not c.metadata.nbgrader.get("solution")}


# Starts nbgrader so that it asks to be killed when the grader dies (Linux prctl
# PR_SET_PDEATHSIG, kept across exec); the sandbox in turn dies with nbgrader.
_DIES_WITH_GRADER = """import ctypes, os, signal, sys
if sys.platform.startswith("linux"):
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    if os.getppid() != int(sys.argv[1]):
        sys.exit(137)
os.execv(sys.executable, [sys.executable, "-m", "nbgrader", *sys.argv[2:]])
"""


def _nbgrader(args: list[str], cwd: Path, env: dict | None = None, timeout: float | None = None) -> tuple[int, str]:
    """Run nbgrader in its own process group, killed whole at ``timeout`` or when this process
    dies; return (exit code, log), the code -9 when it was killed."""
    process = subprocess.Popen([sys.executable, "-c", _DIES_WITH_GRADER, str(os.getpid()), *args], cwd=cwd, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               errors="replace", start_new_session=True)
    try:
        log, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        log, _ = process.communicate()
        return -9, log
    return process.returncode, log


@dataclass(frozen=True)
class Job:
    """Everything grading one submission needs, as plain data (it travels to a Dask worker).

    :func:`grade_class` builds one per submission from the generated assignment (see
    :func:`grade_job` for how it is used).
    """

    module: str
    student: str
    notebook: str                    # the checked submission (nbformat JSON)
    config: str                      # the course's nbgrader_config.py
    gradebook: bytes                 # an nbgrader gradebook holding only this assignment
    source: str                      # the source notebook (nbformat JSON): what scrubbing hides
    points: dict[str, float]
    settings: Settings
    reference: dict[str, dict[str, answers.Reported]] | None = None  # None: this is the solution's run
    notes: tuple[str, ...] = ()


def _job(assignment: _Assignment, submission: submissions.Submission, settings: Settings,
         reference: dict[str, dict[str, answers.Reported]] | None) -> Job:
    return Job(assignment.module, submission.student, nbformat.writes(submission.notebook),
               (assignment.scratch / "nbgrader_config.py").read_text(),
               (assignment.scratch / "autograde" / "gradebook.db").read_bytes(),
               nbformat.writes(assignment.source), assignment.points, settings, reference, submission.notes)


def _prepare(root: Path, module: str, scratch: Path) -> _Assignment:
    folder = scratch / "assignment"
    (folder / "autograde").mkdir(parents=True)
    shutil.copy2(root / "nbgrader_config.py", folder / "nbgrader_config.py")
    shutil.copytree(root / "source" / module, folder / "source" / module, symlinks=True,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    code, log = _nbgrader(["generate_assignment", module, "--force"], folder)
    if code != 0 or "[ERROR]" in log:
        raise CourseError(f"nbgrader generate_assignment {module} failed:\n{log[-3000:]}")
    release = nbformat.read(folder / "release" / module / f"{module}.ipynb", as_version=4)
    source = nbformat.read(root / "source" / module / f"{module}.ipynb", as_version=4)
    return _Assignment(module, root, folder, release, source)


def judge(executed: NotebookNode, points: dict[str, float],
          reference: dict[str, dict[str, answers.Reported]] | None = None) -> dict[str, float]:
    """Score of every test cell: its points if it ran, raised nothing and (where the solution's run
    reported answers for it, ``reference``) reported the same answers, else 0.

    Unlike nbgrader, output on stderr does not fail a cell: a library warning in a correct answer
    costs nothing. A test cell missing from the notebook or never reached scores 0.

    >>> def test(grade_id, outputs, count=1):
    ...     return nbformat.v4.new_code_cell(metadata={"nbgrader": {"grade_id": grade_id}}, outputs=outputs,
    ...                                      execution_count=count)
    >>> warning = nbformat.v4.new_output("stream", name="stderr", text="ConvergenceWarning")
    >>> error = nbformat.v4.new_output("error", ename="AssertionError", evalue="", traceback=[])
    >>> executed = nbformat.v4.new_notebook(cells=[test("t1", [warning]), test("t2", [error]), test("t3", [], None)])
    >>> judge(executed, {"t1": 2.0, "t2": 1.0, "t3": 1.0, "t4": 1.0})
    {'t1': 2.0, 't2': 0.0, 't3': 0.0, 't4': 0.0}
    """
    wrong = disagreements(executed, reference or {})
    scores = dict.fromkeys(points, 0.0)
    for cell in executed.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in points and cell.cell_type == "code" and cell.get("execution_count") is not None:
            failed = any(o.get("output_type") == "error" for o in cell.get("outputs", []))
            scores[grade_id] = 0.0 if failed or wrong.get(grade_id) else points[grade_id]
    return scores


def disagreements(executed: NotebookNode, reference: dict[str, dict[str, answers.Reported]]) -> dict[str, list[str]]:
    """Per test cell, the labels of the solution's answers that the student's run did not report
    once and alike (see :mod:`course.answers`); cells without such problems are left out.

    >>> def ran(*lines):
    ...     out = nbformat.v4.new_output("stream", name="stdout", text="\\n".join(lines))
    ...     return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
    ...         metadata={"nbgrader": {"grade_id": "t1"}}, outputs=[out])])
    >>> reference = answers.notebook_answers(ran(answers.report_line("risk", 0.25), answers.report_line("n", 3)))
    >>> disagreements(ran(answers.report_line("risk", 0.25)), reference), disagreements(ran(
    ...     answers.report_line("risk", 0.25), answers.report_line("n", 3)), reference)
    ({'t1': ['n']}, {})
    """
    reported = answers.notebook_answers(executed)
    wrong = {}
    for grade_id, expected in reference.items():
        got = reported.get(grade_id, {})
        labels = [label for label, value in expected.items() if label not in got or not answers.agree(got[label], value)]
        if labels:
            wrong[grade_id] = labels
    return wrong


def _why_nbgrader_failed(code: int, log: str, settings: Settings) -> str:
    if code == -9:
        return f"the notebook ran longer than {settings.notebook_timeout} s (its kernel was killed)"
    if "DeadKernelError" in log or "Kernel died" in log:
        return "the kernel died while running the notebook (os._exit, a crash or running out of memory)"
    if "CellTimeoutError" in log:
        return (f"a cell ran longer than {settings.cell_timeout} s and did not stop when interrupted "
                "(its kernel was shut down)")
    if "Kernel didn't respond" in log:
        return "the kernel did not start"
    errors = [line.strip() for line in log.splitlines() if "Error" in line and not line.startswith("[")]
    last = errors[-1] if errors else "nbgrader wrote no graded notebook"
    return f"grading failed: {submissions.printable(last)[:200]} (see grade.log)"


def grade_job(job: Job) -> Outcome:
    """Grade one submission in a scratch course of its own, in a temporary folder of the machine
    that runs it, its answers judged against ``job.reference``; with ``reference=None`` (the
    course's own solution) the answers it reports are kept in the outcome, and no feedback is
    written. Reads and writes nothing else: the caller publishes the outcome.

    It runs nbgrader and a sandboxed kernel (seconds to minutes), so the example is not run::

        outcome = grade_job(job)        # job: a Job built by grade_class
        outcome.scores, outcome.reason  # ({'test-risk': 2.0, ...}, '') or (None, why not)
    """
    if job.settings.sandboxed:
        problem = sandbox.unavailable()
        if problem:
            return Outcome(job.student, sum(job.points.values()), notes=job.notes,
                           reason=f"not graded: the grading machine has no sandbox ({problem})")
    with tempfile.TemporaryDirectory(prefix="course-grade-job-") as scratch:
        return _grade_in(job, Path(scratch))


def _grade_in(job: Job, scratch: Path) -> Outcome:
    module, student, settings, reference = job.module, job.student, job.settings, job.reference
    outcome = Outcome(student, sum(job.points.values()), notes=job.notes)
    course = scratch / "course"
    (course / "autograde").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(job.config)
    (course / "autograde" / "gradebook.db").write_bytes(job.gradebook)
    inbox = course / "autograde" / "submitted" / student / module
    inbox.mkdir(parents=True)
    (inbox / f"{module}.ipynb").write_text(job.notebook, encoding="utf-8")
    work = course / "autograde" / "autograded" / student / module
    runtime = scratch / "runtime"
    runtime.mkdir()
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime), "TMPDIR": str(runtime), answers.ENV_VAR: "1"}
    options = [f"--ExecutePreprocessor.timeout={settings.cell_timeout}", "--OverwriteCells.add_missing_cells=True"]
    if settings.sandboxed:
        sandbox.install_kernel(scratch / "jupyter", work, scratch / "kernel-cwd", scratch / "home", runtime,
                               settings.limits)
        env["JUPYTER_PATH"] = os.pathsep.join([str(scratch / "jupyter"), os.environ.get("JUPYTER_PATH", "")])
        options += sandbox.nbgrader_options(runtime)
    else:
        options += ["--ExecutePreprocessor.kernel_name=python3"]
    code, log = _nbgrader(["autograde", module, "--create", "--force", f"--student={student}", *options],
                          course, env, timeout=settings.notebook_timeout)
    outcome.log = log
    graded = work / f"{module}.ipynb"
    if code != 0 or not graded.is_file():
        outcome.reason = _why_nbgrader_failed(code, log, settings)
        return outcome
    executed = nbformat.read(graded, as_version=4)
    scores = judge(executed, job.points, reference)
    if reference is None:
        outcome.scores = scores
        outcome.reported = {g: found for g, found in answers.notebook_answers(executed).items()
                            if g in job.points}
        return outcome
    outcome.notes += tuple(f"{grade_id}: answers unlike the solution's: {', '.join(labels)[:300]}"
                           for grade_id, labels in disagreements(executed, reference).items())
    graded.chmod(0o644)
    nbformat.write(scrub.scrub(executed, nbformat.reads(job.source, as_version=4)), graded)
    gradebook_io.record_scores(course / "autograde" / "gradebook.db", module, student, scores, replace=False)
    code, feedback_log = _nbgrader(["generate_feedback", module, f"--student={student}", "--force"], course, env,
                                   timeout=600)
    outcome.log += feedback_log
    page = course / "autograde" / "feedback" / student / module / f"{module}.html"
    if code == 0 and page.is_file():
        if page.stat().st_size > MAX_FEEDBACK_BYTES:
            page.write_text(_short_feedback(module, student, scores, job.points))
        else:
            page.write_text(site.offline_mathjax(page.read_text(encoding="utf-8")), encoding="utf-8")
        outcome.feedback_page = page.read_bytes()
    else:
        outcome.notes += ("no feedback page: nbgrader generate_feedback failed (see grade.log)",)
    outcome.scores, outcome.graded_notebook = scores, graded.read_bytes()
    return outcome


def _reference_answers(assignment: _Assignment, pool: Executor,
                       settings: Settings) -> dict[str, dict[str, answers.Reported]]:
    """The answers the course's solution reports, graded as a student's would be (same engine,
    same sandbox, same hidden tests); refuses to go on when the solution itself loses points."""
    solution = grading.fill_solutions(assignment.release, assignment.source)
    job = _job(assignment, submissions.Submission("course-solution", Path("solution"), solution), settings, None)
    run = pool.submit(grade_job, job).result()
    lost = [g for g, p in assignment.points.items() if run.scores is None or run.scores[g] < p]
    if lost:
        raise CourseError(f"the course's own solution of {assignment.module} does not get full marks "
                          f"({run.reason or 'test cells ' + ', '.join(lost)}): fix source/{assignment.module} "
                          f"before grading students.\n{run.log[-3000:]}")
    return {grade_id: found for grade_id, found in run.reported.items() if found}


def _short_feedback(module: str, student: str, scores: dict[str, float], points: dict[str, float]) -> str:
    rows = "".join(f"<tr><td>{g}</td><td>{_number(s)} / {_number(points[g])}</td></tr>" for g, s in scores.items())
    return (f"<!DOCTYPE html><html><body><h1>{module}: {student}</h1><p>Your graded notebook is too large "
            f"for a feedback page; these are its scores.</p><table>{rows}</table></body></html>")


def fingerprint(root: Path) -> dict[str, str]:
    """Hash of every file and link under ``root`` except ``autograde/`` and caches: compared
    before and after grading to prove that student code changed nothing of the course.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     root = Path(folder)
    ...     _ = (root / "nbgrader_config.py").write_text("c = get_config()")
    ...     (root / "autograde").mkdir()
    ...     _ = (root / "autograde" / "grade.log").write_text("ignored")
    ...     (root / "link").symlink_to("nbgrader_config.py")
    ...     found = fingerprint(root)
    >>> sorted(found), found["link"]
    (['link', 'nbgrader_config.py'], 'link:nbgrader_config.py')
    """
    found = {}
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = [d for d in dirs if d not in SKIPPED_IN_FINGERPRINT and not (here == root and d == "autograde")]
        for name in files + [d for d in dirs if (here / d).is_symlink()]:
            path = here / name
            key = str(path.relative_to(root))
            if path.is_symlink():
                found[key] = "link:" + os.readlink(path)
            elif path.is_file():
                found[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def _real_folder(path: Path) -> Path:
    """``path`` as a real folder: a link found there is removed (never followed), then created."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _publish(outcome: Outcome, module: str, autograde: Path) -> None:
    """Write one student's graded notebook and feedback page into ``autograde/``, through no link,
    with the exchange's files of the submission (``timestamp.txt``, ``submission_secret.txt``)
    beside them, as ``nbgrader release_feedback`` expects."""
    for kind, content, name in (("autograded", outcome.graded_notebook, f"{module}.ipynb"),
                                ("feedback", outcome.feedback_page, f"{module}.html")):
        base = _real_folder(autograde / kind)
        target = _real_folder(base / outcome.student) / module
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.is_dir():
            shutil.rmtree(target)
        if content is not None:
            target.mkdir()
            (target / name).write_bytes(content)
            for extra, text in outcome.exchange_files.items():
                (target / extra).write_text(text)
            if kind == "feedback":
                site.place_mathjax(target, link=True)


def _write(path: Path, text: str) -> None:
    """Write ``path`` itself: a link found there is replaced, not written through."""
    if path.is_symlink():
        path.unlink()
    path.write_text(text)


def _backup(database: Path) -> Path | None:
    if not database.is_file():
        return None
    folder = _real_folder(database.parent / "backups")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    copy = folder / f"gradebook-{stamp}.db"
    shutil.copy2(database, copy)
    return copy


@contextmanager
def engine(settings: Settings) -> Iterator[tuple[Executor, str, int | None]]:
    """The executor grading jobs go to, a description of it and, on a cluster, the BLAS threads one
    kernel may use there (None: share the local cores out). Local threads (``settings.jobs``),
    or the Dask cluster at ``settings.scheduler``.

    >>> with engine(Settings(jobs=2)) as (pool, where, threads):
    ...     print(pool.submit(sum, [1, 2]).result(), where, threads)
    3 2 at a time on this machine None
    """
    if not settings.scheduler:
        with ThreadPoolExecutor(max_workers=settings.jobs) as pool:
            yield pool, f"{settings.jobs} at a time on this machine", None
        return
    try:
        from distributed import Client
    except ImportError:
        raise CourseError("grading on a Dask cluster needs dask.distributed: "
                          'pip install -c constraints.txt -e ".[cluster]"') from None
    try:
        client = Client(settings.scheduler, timeout=30)
    except (OSError, TimeoutError) as error:
        raise CourseError(f"cannot reach the Dask scheduler {settings.scheduler}: {error}") from None
    with client:
        workers = client.scheduler_info(n_workers=-1)["workers"]
        if not workers:
            raise CourseError(f"the Dask cluster at {settings.scheduler} has no workers")
        cores = client.run(os.cpu_count)
        per_host: dict[str, list[str]] = {}
        for address, info in workers.items():
            per_host.setdefault(info.get("host", address), []).append(address)
        threads = min(max(1, (cores.get(members[0]) or 1) // sum(workers[a]["nthreads"] for a in members))
                      for members in per_host.values())
        slots = sum(info["nthreads"] for info in workers.values())
        yield (client.get_executor(pure=False),
               f"on the Dask cluster {settings.scheduler} ({len(workers)} workers, {slots} at a time)", threads)


def grade_class(root: Path, module: str, settings: Settings = Settings(), echo=print) -> list[Outcome]:
    """Grade every submission of ``module`` under ``root/autograde/submitted``; see the module doc.

    ``course grade MODULE`` calls it; it grades whole notebooks in the sandbox, so the example is
    not run::

        outcomes = grade_class(repo_root(), "01-regression", Settings(jobs=2))
        [o.summary for o in outcomes]   # one line per student; autograde/grades.csv written
    """
    if settings.sandboxed:
        problem = sandbox.unavailable()
        if problem:
            raise CourseError(f"refusing to run student code without a sandbox: {problem}. For work you "
                              "trust (your own tests), pass --trusted-without-sandbox.")
    autograde = root / "autograde"
    if autograde.is_symlink():
        raise CourseError(f"{autograde} is a link: grading writes only into a real folder of the course")
    autograde.mkdir(exist_ok=True)
    before = fingerprint(root)
    started = time.monotonic()
    log_lines = [f"course grade {module}: {datetime.now(timezone.utc).isoformat()} "
                 f"sandbox={'bubblewrap' if settings.sandboxed else 'NONE (trusted)'} "
                 + (f"scheduler={settings.scheduler}" if settings.scheduler else f"jobs={settings.jobs}")]
    with tempfile.TemporaryDirectory(prefix="course-grade-") as scratch_name, engine(settings) as (pool, where, threads):
        scratch = Path(scratch_name)
        assignment = _prepare(root, module, scratch)
        found = submissions.collect(autograde / "submitted", module, assignment.release)
        if not found:
            raise CourseError(f"no submissions found: put them in {autograde / 'submitted'}/STUDENT/{module}/{module}.ipynb")
        database = autograde / "gradebook.db"
        if database.is_symlink():
            raise CourseError(f"{database} is a link: grading writes only a real gradebook of the course")
        backup = _backup(database)
        if backup:
            log_lines.append(f"gradebook backed up to {backup}")
        code, log = _nbgrader(["generate_assignment", module, "--force",
                               f"--CourseDirectory.release_directory={scratch / 'unused-release'}"], root)
        log_lines.append(log)
        if code != 0 or "[ERROR]" in log:
            raise CourseError(f"registering {module} in {database} failed:\n{log[-3000:]}")
        max_score = sum(assignment.points.values())
        outcomes = [Outcome(s.student, max_score, reason=s.reason) for s in found
                    if isinstance(s, submissions.Rejected)]
        valid = [s for s in found if isinstance(s, submissions.Submission)]
        for outcome in outcomes:  # no stale score or feedback from an earlier run
            if submissions.reason_for_student_id(outcome.student) is None:
                gradebook_io.forget_submission(database, module, outcome.student)
                _publish(outcome, module, autograde)
        if threads is None:
            threads = max(1, (os.cpu_count() or 1) // max(1, min(settings.jobs, len(valid) or 1)))
        settings = replace(settings, limits=replace(settings.limits, threads=threads))
        echo(f"grading the course's own solution of {module} first: its answers are the reference")
        reference = _reference_answers(assignment, pool, settings)
        log_lines.append(f"reference: the solution reported {sum(map(len, reference.values()))} answers "
                         f"in {len(reference)} test cells")
        echo(f"grading {len(valid)} submission(s) of {module}, {where}"
             + (f"; {len(outcomes)} cannot be graded" if outcomes else ""))
        futures = {pool.submit(grade_job, _job(assignment, s, settings, reference)): s for s in valid}
        for future in as_completed(futures):
            submission = futures[future]
            try:
                outcome = future.result()
            except Exception as error:  # a bug, an odd file or a lost worker must not stop the class
                outcome = Outcome(submission.student, max_score, reason=f"grading failed: {error!r}"[:300],
                                  notes=submission.notes)
            outcome.student = submission.student  # the id is the parent's, whatever a worker returned
            outcome.exchange_files = dict(submission.exchange_files)
            if outcome.scores is not None:
                gradebook_io.record_scores(database, module, outcome.student, outcome.scores, replace=True)
            else:
                gradebook_io.forget_submission(database, module, outcome.student)
            _publish(outcome, module, autograde)
            outcomes.append(outcome)
            echo(f"  {outcome.summary}")
    outcomes.sort(key=lambda o: o.student)
    ungradable_file = autograde / "ungradable.json"
    ungradable = gradebook_io.load_ungradable(ungradable_file)
    ungradable[module] = {o.student: o.reason for o in outcomes if o.scores is None}
    _write(ungradable_file, json.dumps(ungradable, indent=1, sort_keys=True))
    gradebook_io.export_csv(database, ungradable, autograde / "grades.csv")
    for outcome in outcomes:
        log_lines.append(f"===== {outcome.student}: {outcome.summary.split(maxsplit=1)[1]}")
        log_lines += [f"note: {note}" for note in outcome.notes]
        log_lines.append(outcome.log)
    changed = _changes(before, fingerprint(root))
    log_lines.append(f"finished in {time.monotonic() - started:.0f} s; changed outside autograde/: {changed or 'nothing'}")
    _write(autograde / "grade.log", "\n".join(log_lines))
    if changed:
        raise CourseError(f"files outside autograde/ changed during grading: {', '.join(changed[:20])}")
    return outcomes
