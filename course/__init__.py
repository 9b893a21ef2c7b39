"""Helper library of the course *Machine learning for chemistry and physics, interpretable*.

Notebooks import from here instead of copying code between each other:
``course.data`` (QM9, CMB, toy data), ``course.features`` (molecular representations),
``course.budget`` (quick or full run sizes), ``course.results`` (target rows for
``course reproduce``) and the ``course`` command line (``course.cli``).
"""
import os as _os

#: Environment that keeps TensorFlow silent on stderr, which nbgrader scores as a failed cell.
#: It must be in place before TensorFlow's first import, so it is set here, when anything of the
#: course is imported (CLI, notebooks, and the kernels and nbgrader processes they start inherit
#: it). ``TF_CPP_MIN_LOG_LEVEL`` alone does not hide the "oneDNN custom operations are on" line
#: that TensorFlow 2.21 prints on AVX-512 CPUs; turning the oneDNN rewrites off does. A value the
#: user set already wins.
QUIET_TENSORFLOW = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0"}
for _key, _value in QUIET_TENSORFLOW.items():
    _os.environ.setdefault(_key, _value)

__version__ = "0.1.0"
