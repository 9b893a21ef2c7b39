"""One call at the top of every notebook: quiet logs, readable figures, a seeded generator."""
from __future__ import annotations

import logging
import os
import random
import warnings

import numpy as np
from threadpoolctl import threadpool_limits


def setup(seed: int = 0) -> np.random.Generator:
    """Prepare a notebook kernel and return ``np.random.default_rng(seed)``.

    nbgrader scores any stderr output in a graded cell as a failure, so library chatter
    (absl, matplotlib font cache, sklearn convergence notes) is silenced here; TensorFlow's
    start-up lines are silenced by importing :mod:`course` (:data:`course.QUIET_TENSORFLOW`).

    BLAS runs on one thread: the notebooks' linear algebra is small, and on 2-core machines
    several kernels at once (autograding, a laptop with other work) made OpenBLAS threads
    busy-wait and slowed cells down many times over.

    It changes the process's warnings, logging, thread pools and numpy print options, so the
    example is not run here (it would change how later examples print)::

        from course.notebook import setup
        rng = setup(seed=0)   # first line of every notebook
        rng.normal(size=2)    # the same numbers on every run
    """
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    warnings.filterwarnings("ignore")
    for name in ("tensorflow", "absl", "matplotlib", "jax", "h5py"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # In an interactive kernel TensorFlow resets its logger to INFO on stdout (retracing warnings
    # and all) unless the root logger already has a handler; this one keeps our level in force.
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.NullHandler())
    threadpool_limits(limits=1, user_api="blas")
    random.seed(seed)
    np.random.seed(seed)
    np.set_printoptions(precision=4, suppress=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.figsize": (6.4, 4.0), "figure.dpi": 100, "axes.grid": True,
                         "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False})
    return np.random.default_rng(seed)
