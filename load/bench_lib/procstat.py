"""/proc readings: a process's CPU time (all threads, utime+stime) and its RSS / peak RSS."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Memory:
    """Resident memory in KiB: now (VmRSS) and the high-water mark since start (VmHWM)."""

    rss_kb: int
    hwm_kb: int


def parse_stat_cpu_ticks(stat: str) -> int:
    """utime + stime (clock ticks) from the text of ``/proc/<pid>/stat``.

    The command name (field 2) is in parentheses and may hold spaces, so split after its ``)``.
    """
    fields = stat[stat.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state); utime is field 14, stime field 15.
    return int(fields[11]) + int(fields[12])


def parse_status_memory(status: str) -> Memory:
    """VmRSS and VmHWM (KiB) from the text of ``/proc/<pid>/status``."""
    values: dict[str, int] = {}
    for line in status.splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return Memory(rss_kb=values.get("VmRSS", 0), hwm_kb=values.get("VmHWM", 0))


def cpu_seconds(pid: int) -> float:
    """CPU time the process has used so far (user + system, every thread)."""
    return parse_stat_cpu_ticks(Path(f"/proc/{pid}/stat").read_text()) / CLOCK_TICKS


def memory(pid: int) -> Memory:
    return parse_status_memory(Path(f"/proc/{pid}/status").read_text())


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()
