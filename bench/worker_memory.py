"""A worker's peak memory, as the kernel recorded it."""

from __future__ import annotations

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
