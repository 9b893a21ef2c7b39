"""nbgrader configuration of the course, read by every nbgrader command run in this folder.

Paths are relative to the folder holding this file, so a copy of it in another folder (the
test suite's scratch courses) describes a course rooted there.
"""
import os

from course import QUIET_TENSORFLOW

# Kernels started by nbgrader inherit this process's environment: TensorFlow stays silent from
# its first import on (stderr in a graded cell scores zero).
for key, value in QUIET_TENSORFLOW.items():
    os.environ.setdefault(key, value)

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "mlchem-interpretable"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = os.path.join("autograde", "submitted")
c.CourseDirectory.autograded_directory = os.path.join("autograde", "autograded")
c.CourseDirectory.feedback_directory = os.path.join("autograde", "feedback")
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(c.CourseDirectory.root, "autograde", "gradebook.db")

# Student code is untrusted: no cell may run longer than this (seconds) while grading.
c.ExecutePreprocessor.timeout = 600
c.ExecutePreprocessor.interrupt_on_timeout = True
# Every notebook of the course runs on the standard python3 kernel.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# nbgrader's exchange (handing assignments out and in through a shared folder) is not how this
# course travels: students get release/ with the repository and hand in their notebook files. Its
# tools (the Assignment List and Course List of the Nbgrader menu, the Formgrader's release and
# collect buttons) look for the exchange anyway and report "Error fetching courses!" and
# "exchange directory does not exist" without one, so an empty, git-ignored one lives here.
c.Exchange.root = os.path.join(c.CourseDirectory.root, "autograde", "exchange")
os.makedirs(c.Exchange.root, exist_ok=True)
