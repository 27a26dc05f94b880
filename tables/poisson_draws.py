"""numpy's Poisson draws for a game's two score means: the same counts from the same
generator, in a loop Cython compiles (tables.compiled).

Below a mean of 10 numpy draws a count by multiplying uniforms until the product falls to
exp(-mean) (its ``random_poisson_mult``), a call through the bit generator per uniform
(README, Benchmark: ~1.5x the time of this loop). ``Generator.random`` gives the very
doubles those draws consume, in the same order, so multiplying them here in the same
order gives the same counts; only the generator is left further on (it drew a block's
unused uniforms), and a game's generator is used for nothing after its scores.
Run as plain Python the loop would be slower than numpy: numpy draws then.
"""

from __future__ import annotations

import math

import cython
import numpy as np

COMPILED: bool = cython.compiled
# numpy multiplies uniforms below this mean (another algorithm above; none at 0)
MULTIPLIED_BELOW = 10.0


def poisson_pair(
    rng: np.random.Generator, home_mean: float, away_mean: float, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """``rng.poisson(home_mean, n), rng.poisson(away_mean, n)``."""
    if COMPILED and 0 < home_mean < MULTIPLIED_BELOW and 0 < away_mean < MULTIPLIED_BELOW:
        return multiplied_pair(rng, home_mean, away_mean, n)
    return rng.poisson(home_mean, n), rng.poisson(away_mean, n)


def multiplied_pair(
    rng: np.random.Generator, home_mean: float, away_mean: float, n: int, block: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """numpy's draws for means in (0, 10), by its multiplication, from uniforms drawn
    ``block`` at a time (by default about as many as the draws take)."""
    counts = np.empty(2 * n, dtype=np.int64)
    block = block or int((home_mean + away_mean + 2) * n * 1.05) + 64
    floors = math.exp(-home_mean), math.exp(-away_mean)
    uniforms, filled, used = np.empty(0), 0, 0
    while filled < 2 * n:  # again when a block ran out in mid-draw: that draw starts over
        more = rng.random(block)
        uniforms = np.concatenate((uniforms[used:], more)) if used < len(uniforms) else more
        filled, used = _multiply(uniforms, counts, filled, n, *floors)
    return counts[:n], counts[n:]


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.locals(
    uniforms=cython.double[:],
    counts=cython.long[:],
    filled=cython.Py_ssize_t,
    n=cython.Py_ssize_t,
    home_floor=cython.double,
    away_floor=cython.double,
    used=cython.Py_ssize_t,
    end=cython.Py_ssize_t,
    start=cython.Py_ssize_t,
    floor=cython.double,
    product=cython.double,
    count=cython.long,
)
def _multiply(uniforms, counts, filled, n, home_floor, away_floor):
    """Counts from ``filled`` on (the first ``n`` home, the rest away), each the number of
    ``uniforms`` multiplied before the product falls to its floor; where the counts and
    the uniforms stopped (at the draw that ran out of uniforms)."""
    used, end = 0, uniforms.shape[0]
    while filled < counts.shape[0]:
        floor = home_floor if filled < n else away_floor
        start, count, product = used, 0, 1.0
        while True:
            if used == end:
                return filled, start
            product *= uniforms[used]
            used += 1
            if product > floor:
                count += 1
            else:
                break
        counts[filled] = count
        filled += 1
    return filled, used
