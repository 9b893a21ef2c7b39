"""A short description of the computer a result was obtained on."""
from __future__ import annotations

import ctypes
import datetime
import os
import platform
import re
from pathlib import Path


def describe() -> dict[str, str | int | None]:
    """CPU model, core count, memory, OS and Python, for results files and benchmarks.

    >>> info = describe()
    >>> sorted(info), info["cores"] >= 1
    (['cores', 'cpu', 'memory_gib', 'os', 'python'], True)
    """
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gib = None
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        kib = int(meminfo.read_text().split("MemTotal:")[1].split()[0])
        memory_gib = round(kib / 2**20, 1)
    return {"cpu": cpu, "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count(), "memory_gib": memory_gib,
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version()}


def stamp(**extra) -> dict:
    """What a result file records of its run: :func:`describe`, the UTC date and the load average now
    (the machines are shared, so a time means little without it), plus ``extra``.

    >>> sorted(stamp(note="shared"))[:5]
    ['cores', 'cpu', 'date', 'load_average', 'memory_gib']
    """
    return {**describe(), "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "load_average": [round(x, 2) for x in os.getloadavg()], **extra}


def pin_mmap_threshold() -> None:
    """Make glibc serve every allocation above 128 KiB by mmap (off by default once large blocks are freed).

    Then freed large arrays go back to the system instead of being reused from the heap unseen, so the
    growth of resident memory measures what a computation needs.

    It changes the allocator of the whole process, so the example is not run::

        pin_mmap_threshold()   # once, before a memory benchmark
    """
    ctypes.CDLL("libc.so.6").mallopt(-3, 128 * 1024)  # -3 is M_MMAP_THRESHOLD; setting it stops its adaptation


def status_mib(field: str) -> float:
    """A memory field of /proc/self/status in MiB (Linux): ``VmRSS`` now, ``VmHWM`` its peak since the last reset.

    >>> rss = status_mib("VmRSS"); isinstance(rss, float) and rss > 0
    True
    """
    return int(re.search(field + r":\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1)) / 1024


def reset_peak_memory() -> float:
    """Restart the peak resident memory (VmHWM) from now; returns the resident memory (VmRSS) now, in MiB.

    Unlike ``tracemalloc`` this sees buffers that LAPACK wrappers allocate with malloc. It writes
    to ``/proc/self/clear_refs``, which some containers forbid, so the example is not run::

        before = reset_peak_memory()
        work()
        growth_mib = status_mib("VmHWM") - before
    """
    Path("/proc/self/clear_refs").write_text("5")
    return status_mib("VmRSS")


def one_line(info: dict | None = None) -> str:
    """The machine (``info`` from :func:`describe`, this one by default) in one line, for a table's caption.

    >>> one_line({"cpu": "AMD EPYC", "cores": 2, "memory_gib": 7.8, "os": "Linux 6.1", "python": "3.11.7"})
    'AMD EPYC, 2 cores, 7.8 GiB, Linux 6.1'
    """
    info = info or describe()
    return f"{info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB, {info['os']}"
