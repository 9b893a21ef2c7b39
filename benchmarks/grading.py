"""Benchmark: ``course grade`` throughput on copies of the Module 1 solution, serial vs parallel,
sandboxed vs not.

Writes submissions per minute, wall times, the peak memory of the largest process and the machine
(cores, load, date) to benchmarks/results/grading.json. Goals (issue 16): parallel >= 1.7x serial
on 2 cores, the sandbox costing < 20 % against no sandbox. Wall times depend on what else runs on
the machine: the load average at the start of each run is recorded beside it.

    nice -n 10 python benchmarks/grading.py [--submissions 50] [--jobs 2]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from course import grading, paths
from course.machine import stamp

MODULE = "01-regression"
RESULTS = Path(__file__).parent / "results" / "grading.json"


def course_copy(folder: Path, submissions: int) -> Path:
    """A copy of the course with ``submissions`` students who all typed in the solution."""
    root = paths.repo_root()
    shutil.copy2(root / "nbgrader_config.py", folder)
    shutil.copytree(root / "source" / MODULE, folder / "source" / MODULE)
    release = nbformat.read(root / "release" / MODULE / f"{MODULE}.ipynb", as_version=4)
    source = nbformat.read(root / "source" / MODULE / f"{MODULE}.ipynb", as_version=4)
    solved = grading.fill_solutions(release, source)
    for index in range(submissions):
        inbox = folder / "autograde" / "submitted" / f"student{index:03d}" / MODULE
        inbox.mkdir(parents=True)
        nbformat.write(solved, inbox / f"{MODULE}.ipynb")
    return folder


def grade_once(submissions: int, jobs: int, sandboxed: bool) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        course = course_copy(Path(scratch), submissions)
        load = os.getloadavg()
        command = [sys.executable, "-m", "course", "grade", MODULE, "--jobs", str(jobs)]
        started = time.perf_counter()
        done = subprocess.run(command + ([] if sandboxed else ["--trusted-without-sandbox"]), cwd=course,
                              capture_output=True, text=True)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(done.stdout[-2000:] + done.stderr[-2000:])
        full = (course / "autograde" / "grades.csv").read_text().count(",21.0,21.0,graded")
    return {"submissions": submissions, "jobs": jobs, "sandboxed": sandboxed, "wall_s": round(wall, 1),
            "submissions_per_minute": round(60 * submissions / wall, 2), "full_marks": full,
            "load_average_at_start": load}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    runs = [grade_once(args.submissions, 1, True), grade_once(args.submissions, args.jobs, True),
            grade_once(args.submissions, args.jobs, False)]
    serial, parallel, unsandboxed = runs
    report = {
        "machine": stamp(),
        "runs": runs,
        "parallel_over_serial": round(serial["wall_s"] / parallel["wall_s"], 2),
        "sandbox_cost": round(parallel["wall_s"] / unsandboxed["wall_s"] - 1, 3),
        "peak_rss_mb_largest_process": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        "goals": {"parallel_over_serial": ">= 1.7", "sandbox_cost": "< 0.20"},
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
