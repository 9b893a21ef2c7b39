"""A short description of the computer a result was obtained on."""
from __future__ import annotations

import os
import platform
from pathlib import Path


def describe() -> dict[str, str | int | None]:
    """CPU model, core count, memory, OS and Python, for results files and benchmarks."""
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


def one_line(info: dict | None = None) -> str:
    info = info or describe()
    return f"{info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB, {info['os']}"
