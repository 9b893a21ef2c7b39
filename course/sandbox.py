"""A bubblewrap sandbox for the kernels that run student code while grading.

nbgrader itself runs as the instructor; only the kernel it starts is confined. The kernel sees the
system and Python read-only, the ``course`` package read-only, and three private folders: its
working folder (empty, at the path nbgrader runs it in but a folder of its own, so that nothing it
leaves there, a link included, reaches the folder nbgrader writes the graded notebook to), a home
folder and the folder of its connection file. It has no network (its own empty network namespace:
it talks to nbgrader over Unix sockets), its own process namespace (every process it starts dies
with it) and resource limits.

>>> problem = unavailable()
>>> problem is None or "bubblewrap" in problem
True
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import course
from course.paths import INSTALLED_CHECKOUT

KERNEL_NAME = "course-sandbox"
GiB, MiB = 1024**3, 1024**2


@dataclass(frozen=True)
class Limits:
    """Per-kernel resource limits (``prlimit`` inside the sandbox).

    >>> Limits(memory=2 * GiB).memory // MiB, Limits().threads
    (2048, 1)
    """

    memory: int = 6 * GiB        # RLIMIT_DATA: heap and private mappings
    file_size: int = 256 * MiB   # RLIMIT_FSIZE: the largest file it may write
    processes: int = 256         # RLIMIT_NPROC (not enforced for root, see autograde/README.md)
    open_files: int = 1024       # RLIMIT_NOFILE
    cpu_seconds: int = 3600      # RLIMIT_CPU: a backstop behind the grader's wall clock
    threads: int = 1             # BLAS/OpenMP threads, so parallel kernels do not oversubscribe


def unavailable() -> str | None:
    """Why sandboxed grading cannot run here, or None when it can (see the module's example)."""
    if not shutil.which("bwrap"):
        return "bubblewrap (bwrap) is not installed: `apt-get install bubblewrap` (Debian/Ubuntu)"
    if not shutil.which("prlimit"):
        return "prlimit (util-linux) is not installed"
    probe = subprocess.run(["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/",
                            "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"bubblewrap cannot create namespaces here: {probe.stderr.strip()[:300]}"
    return None


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for name in ("/bin", "/lib", "/lib32", "/lib64", "/sbin"):
        path = Path(name)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), name]
        elif path.is_dir():
            args += ["--ro-bind", name, name]
    return args


def _python_binds(package_parent: Path) -> list[str]:
    """Read-only binds for the interpreter, its libraries and the ``course`` package, nothing of
    the repository around it (``source/``, ``solutions/``, ``autograde/``)."""
    # The interpreter's own folders always (a venv inside the repository included: binding it shows
    # the venv, not the repository); other sys.path entries only outside any course folder, since
    # ``python -m`` puts the working directory, the course being graded, on sys.path.
    prefixes = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    others = {Path(p).resolve() for p in sys.path if p and Path(p).is_dir()} - prefixes
    allowed = prefixes | {path for path in others
                          if not any((q / "nbgrader_config.py").is_file() for q in (path, *path.parents))
                          and path != package_parent and package_parent not in path.parents}
    chosen: list[Path] = []
    for path in sorted(allowed, key=lambda p: len(p.parts)):
        if not any(c == path or c in path.parents for c in chosen):
            chosen.append(path)
    package = package_parent / "course"
    args = [arg for path in chosen for arg in ("--ro-bind", str(path), str(path))]
    return args + ["--ro-bind", str(package), str(package)]



def kernel_argv(work: Path, cwd: Path, home: Path, runtime: Path, limits: Limits) -> list[str]:
    """The command line of one sandboxed kernel (``{connection_file}`` filled in by Jupyter):
    the private folder ``cwd`` appears at ``work``, where nbgrader runs the notebook.

    >>> folders = [Path(f"/tmp/grading/{name}") for name in ("work", "cwd", "home", "runtime")]
    >>> argv = kernel_argv(*folders, Limits(memory=GiB))
    >>> argv[:2], argv[-4:], "--unshare-all" in argv, f"--data={GiB}" in argv
    (['bwrap', '--unshare-all'], ['-m', 'ipykernel_launcher', '-f', '{connection_file}'], True, True)
    >>> argv[argv.index("--chdir") + 1]
    '/tmp/grading/work'
    """
    # Here, not at the top: grading imports this module, and neither needs the data stack (NumPy) there.
    from course import answers
    from course.data.qm9_cache import resolve_cache_dir

    package_parent = INSTALLED_CHECKOUT
    cache = resolve_cache_dir().parent
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(home),
           "PYTHONPATH": str(package_parent), "LANG": "C.UTF-8", "MPLCONFIGDIR": str(home / "matplotlib"),
           "COURSE_CACHE_DIR": str(cache), "PYTHONDONTWRITEBYTECODE": "1", answers.ENV_VAR: "1",
           **course.QUIET_TENSORFLOW,
           **{k: str(limits.threads) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}}
    # Mounts apply in order and a later one covers an earlier one: the empty /tmp goes first, so
    # that an interpreter, a checkout or a cache that lives under /tmp stays visible.
    args = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
            *_system_binds(), *_python_binds(package_parent)]
    if cache.is_dir():
        args += ["--ro-bind", str(cache), str(cache)]
    args += ["--bind", str(home), str(home), "--bind", str(runtime), str(runtime),
             "--bind", str(cwd), str(work), "--chdir", str(work)]
    for key, value in env.items():
        args += ["--setenv", key, value]
    limit = [f"--data={limits.memory}", f"--fsize={limits.file_size}", f"--nproc={limits.processes}",
             f"--nofile={limits.open_files}", f"--cpu={limits.cpu_seconds}"]
    return [*args, "prlimit", *limit, "--", sys.executable, "-m", "ipykernel_launcher",
            "-f", "{connection_file}"]


def install_kernel(jupyter_data: Path, work: Path, cwd: Path, home: Path, runtime: Path, limits: Limits) -> None:
    """Write the ``course-sandbox`` kernel spec into ``jupyter_data/kernels`` (put that folder first
    on ``JUPYTER_PATH`` of the nbgrader process).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     base = Path(folder)
    ...     install_kernel(base / "jupyter", *(base / name for name in ("work", "cwd", "home", "runtime")), Limits())
    ...     spec = json.loads((base / "jupyter" / "kernels" / KERNEL_NAME / "kernel.json").read_text())
    >>> spec["display_name"], spec["argv"][0]
    ('Python 3 (grading sandbox)', 'bwrap')
    """
    spec = jupyter_data / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    for folder in (work, cwd, home, runtime):
        folder.mkdir(parents=True, exist_ok=True)
    _seed_matplotlib_cache(home / "matplotlib")
    (spec / "kernel.json").write_text(json.dumps({
        "argv": kernel_argv(work, cwd, home, runtime, limits),
        "display_name": "Python 3 (grading sandbox)", "language": "python"}, indent=1))


def _seed_matplotlib_cache(target: Path) -> None:
    """Copy the instructor's matplotlib font cache: building it in the kernel would print
    "Matplotlib is building the font cache" on stderr and cost the student a cell."""
    try:
        import matplotlib

        source = Path(matplotlib.get_cachedir())
    except Exception:  # matplotlib missing or unconfigurable: nothing to seed
        return
    target.mkdir(parents=True, exist_ok=True)
    for font_list in source.glob("fontlist-*.json"):
        shutil.copy2(font_list, target / font_list.name)


def nbgrader_options(runtime: Path) -> list[str]:
    """nbgrader command-line options that route execution through the sandbox kernel.

    >>> nbgrader_options(Path("/tmp/grading/runtime"))
    ['--ExecutePreprocessor.kernel_name=course-sandbox', '--KernelManager.transport=ipc',
     '--KernelManager.ip=/tmp/grading/runtime/kernel']
    """
    return [f"--ExecutePreprocessor.kernel_name={KERNEL_NAME}", "--KernelManager.transport=ipc",
            f"--KernelManager.ip={runtime / 'kernel'}"]
