"""CPU time of a worker's main thread, as the kernel counts it.

The main thread runs every agent; its CPU time per event is the work the pipeline does.
It varies less between runs than events per second on a shared machine, but not nothing:
it also moves with the machine's speed (the same code gave 354 and 419 µs per event in one
hour, as the Monte Carlo timing went from 0.80 to 1.18 ms), so compare runs alternated.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def main_thread_cpu_seconds(pid: int) -> float:
    """User and system CPU time of ``pid``'s main thread so far (utime and stime of
    /proc/<pid>/task/<pid>/stat)."""
    stat = (PROC / str(pid) / "task" / str(pid) / "stat").read_text()
    # the command name, in parentheses, may hold spaces: count fields after it
    fields = stat.rsplit(")", 1)[1].split()
    user, system = int(fields[11]), int(fields[12])
    return (user + system) / os.sysconf("SC_CLK_TCK")
