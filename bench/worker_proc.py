"""A worker as the kernel counts it: its peak memory, and its CPU time (the main thread's,
and all its threads').

The main thread runs every agent and the Kafka consumer; its CPU time per event is the
work the pipeline does. It varies less between runs than events per second on a shared
machine, but not nothing: it also moves with the machine's speed (the same code gave 354
and 419 µs per event in one hour, as the Monte Carlo timing went from 0.80 to 1.18 ms),
so compare runs alternated.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def _descendants(pid: int) -> list[int]:
    children = []
    for task in (PROC / str(pid) / "task").glob("*"):
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue  # the thread ended meanwhile
    return [pid for child in children for pid in (child, *_descendants(child))]


def _peak_kb(pid: int) -> int:
    for line in (PROC / str(pid) / "status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set size) of ``pid`` and every process under it, in MB. The
    worker is one process (faust does not fork), so this is exact; were there children,
    the sum of their peaks would be an upper bound."""
    return sum(_peak_kb(p) for p in (pid, *_descendants(pid))) / 1024


def _cpu_seconds(stat: Path) -> float:
    """User and system CPU time in a /proc stat file (utime and stime)."""
    # the command name, in parentheses, may hold spaces: count fields after it
    fields = stat.read_text().rsplit(")", 1)[1].split()
    user, system = int(fields[11]), int(fields[12])
    return (user + system) / os.sysconf("SC_CLK_TCK")


def main_thread_cpu_seconds(pid: int) -> float:
    """CPU time of ``pid``'s main thread so far (/proc/<pid>/task/<pid>/stat)."""
    return _cpu_seconds(PROC / str(pid) / "task" / str(pid) / "stat")


def process_cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` so far, all its threads (/proc/<pid>/stat): the main thread
    (every agent, the consumer and the producer) and RocksDB's."""
    return _cpu_seconds(PROC / str(pid) / "stat")
