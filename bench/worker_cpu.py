"""CPU time of a worker's main thread, as the kernel counts it.

The main thread runs every agent; its CPU time per event is the work the pipeline does,
and varies far less between runs than events per second on a shared machine (a busy
neighbour slows the wall clock more than it inflates the thread's own CPU time).
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
