"""Helper library of the course *Machine learning for chemistry and physics, interpretable*.

Notebooks import from here instead of copying code between each other:
``course.data`` (QM9, CMB, toy data), ``course.features`` (molecular representations),
``course.budget`` (quick or full run sizes), ``course.results`` (target rows for
``course reproduce``) and the ``course`` command line (``course.cli``).
"""
import os as _os

# TensorFlow prints start-up chatter on stderr, which nbgrader scores as a failed cell.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"
