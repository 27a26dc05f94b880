"""How many simulated games ended with each home margin and each total, counted in typed
passes over the two score arrays (compiled with the other hot modules, tables.compiled):
the counts numpy's subtraction, addition and ``bincount`` give, without the arrays they
build on the way. Run as plain Python the loops would be slower than numpy: numpy counts
then (tables.simulation).
"""

from __future__ import annotations

import cython
import numpy as np

COMPILED: bool = cython.compiled


def margin_and_total_counts(
    home: np.ndarray, away: np.ndarray, span: int
) -> tuple[np.ndarray, int, np.ndarray] | None:
    """For scores that are int64 arrays of one length, none negative, none above half of
    ``span``: how many games had each margin (home - away) from ``lowest`` up, that
    ``lowest``, and how many had each total from 0 up (zeros where none did), in arrays of
    at most ``span`` + 1. None for other scores."""
    if home.dtype != np.int64 or away.dtype != np.int64:
        return None
    if home.ndim != 1 or home.shape != away.shape or not home.size:
        return None
    highest = _highest(home, away)
    if highest < 0 or 2 * highest > span:
        return None  # a negative score, or counts too long to hold
    margins = np.zeros(2 * highest + 1, dtype=np.int64)
    totals = np.zeros(2 * highest + 1, dtype=np.int64)
    _count(home, away, margins, totals, highest)
    return margins, -highest, totals


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.locals(
    home=cython.long[:],
    away=cython.long[:],
    i=cython.Py_ssize_t,
    highest=cython.long,
    lowest=cython.long,
)
def _highest(home, away):
    """The highest score of either side, or -1 if any is negative."""
    highest, lowest = 0, 0
    for i in range(home.shape[0]):
        highest = max(highest, home[i], away[i])
        lowest = min(lowest, home[i], away[i])
    return -1 if lowest < 0 else highest


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.locals(
    home=cython.long[:],
    away=cython.long[:],
    margins=cython.long[:],
    totals=cython.long[:],
    highest=cython.long,
    i=cython.Py_ssize_t,
)
def _count(home, away, margins, totals, highest):
    for i in range(home.shape[0]):
        margins[home[i] - away[i] + highest] += 1
        totals[home[i] + away[i]] += 1
