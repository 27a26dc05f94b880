"""Spread and total probabilities from a vectorised Monte Carlo of final scores.

Soccer and NHL scores are Poisson counts; NBA and NFL scores are normal around the means,
rounded to whole points. Lines are settled as bookmakers settle them: a push returns the
stake, and a quarter line (-0.25, 2.75) is half a bet on each neighbouring half line.

A game's simulated margins and totals are tallied (how many simulations gave each value),
so every line is priced from a few dozen distinct values rather than from every draw.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np

from schemas.base import Sport
from tables.poisson_draws import poisson_pair
from tables.score_counts import COMPILED as COUNTS_COMPILED
from tables.score_counts import margin_and_total_counts

COUNT_SPORTS = (Sport.SOCCER, Sport.NHL)
# Simulations kept for reuse: a game's means stay put between results while its set of
# quoted lines grows, and each new line would otherwise draw the same scores again.
SIMULATIONS_KEPT = 256
# Whole numbers spread over at most this many values are counted in one pass (bincount);
# others (NaN or infinite scores from non-finite parameters) are sorted (np.unique).
COUNTED_SPAN = 100_000


def simulate_scores(
    sport: Sport, home_mean: float, away_mean: float, sd: float, n: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` simulated (home, away) final scores; ``seed`` makes a game's draw repeatable."""
    rng = np.random.default_rng(seed)
    if sport in COUNT_SPORTS:
        return poisson_pair(rng, home_mean, away_mean, n)
    scores = rng.normal((home_mean, away_mean), sd, size=(n, 2)).round().clip(0)
    return scores[:, 0], scores[:, 1]


class Tally(NamedTuple):
    """The distinct values of a whole-numbered quantity over the simulations (as floats,
    ascending) and how many simulations gave each."""

    values: np.ndarray
    counts: np.ndarray

    def negated(self) -> Tally:
        return Tally(-self.values, self.counts)


class ScoreTally(NamedTuple):
    margin: Tally  # home - away
    total: Tally  # home + away


def tally(results: np.ndarray) -> Tally:
    values = np.asarray(results, dtype=float)
    with np.errstate(invalid="ignore"):  # NaN and infinity have no integer; they are sorted
        whole = values.astype(np.int64)
    if values.size and np.array_equal(whole, values) and np.ptp(whole) <= COUNTED_SPAN:
        lowest = int(whole.min())
        return _tally_of(np.bincount(whole - lowest), lowest)
    return _frozen(*np.unique(values, return_counts=True))


def tally_scores(home: np.ndarray, away: np.ndarray) -> ScoreTally:
    # Poisson scores: counted in compiled loops
    counted = margin_and_total_counts(home, away, COUNTED_SPAN) if COUNTS_COMPILED else None
    if counted is None:
        return ScoreTally(tally(home - away), tally(home + away))
    margins, lowest, totals = counted
    return ScoreTally(_tally_of(margins, lowest), _tally_of(totals, 0))


def _tally_of(counts: np.ndarray, lowest: int) -> Tally:
    """The Tally of whole numbers counted from ``lowest`` up (``bincount``'s counts)."""
    seen = counts.nonzero()[0]
    return _frozen((seen + lowest).astype(float), counts[seen])


def _frozen(distinct: np.ndarray, counts: np.ndarray) -> Tally:
    for array in (distinct, counts):
        array.flags.writeable = False  # shared by every caller of simulated_tally
    return Tally(distinct, counts)


@lru_cache(maxsize=SIMULATIONS_KEPT)
def simulated_tally(
    sport: Sport, home_mean: float, away_mean: float, sd: float, n: int, seed: int
) -> ScoreTally:
    """The margins and totals of ``simulate_scores``, tallied (read-only, cached)."""
    return tally_scores(*simulate_scores(sport, home_mean, away_mean, sd, n, seed))


def line_shares(result: np.ndarray | float, line: float) -> tuple[np.ndarray, np.ndarray]:
    """Share of the stake won and lost for ``result + line`` (> 0 wins), per simulation.

    ``result`` is the home margin for a home spread bet, the total minus nothing for an
    over bet (with ``line`` = -total), and so on.
    """
    halves = half_lines(line)
    result = np.asarray(result, dtype=float)
    won = sum((result + h > 0).astype(float) for h in halves) / len(halves)
    lost = sum((result + h < 0).astype(float) for h in halves) / len(halves)
    return won, lost


def half_lines(line: float) -> tuple[float, ...]:
    """The lines a bet on ``line`` is split over: two for a quarter line, else itself."""
    return (line - 0.25, line + 0.25) if (line * 4) % 2 == 1 else (line,)


def win_shares(result: Tally, lines: list[float]) -> list[float]:
    """Probability of winning a bet on ``result + line`` with pushes left out, per line.

    The stakes won and lost are those ``line_shares`` gives summed over every simulation,
    counted per distinct value instead: whole or half stakes, so every sum is exact and
    each ratio is the same to the last bit."""
    if not lines:
        return []
    halves = [half_lines(line) for line in lines]
    shifted = result.values + np.array([h for split in halves for h in split])[:, np.newaxis]
    won, lost = ((shifted > 0) @ result.counts).tolist(), ((shifted < 0) @ result.counts).tolist()
    shares, row = [], 0
    for split in halves:
        stakes_won = sum(won[row : row + len(split)]) / len(split)
        stakes_lost = sum(lost[row : row + len(split)]) / len(split)
        decided = stakes_won + stakes_lost
        shares.append(stakes_won / decided if decided else 0.5)
        row += len(split)
    return shares


def market_probabilities(
    scores: ScoreTally, spreads: list[float], totals: list[float]
) -> dict[str, float]:
    """Push-free win probability of each side of the given spread and total lines.

    Keys are price keys: "spread|<line>|home" (home + line beats away), "spread|<line>|away"
    for the away line, "total|<line>|over" and "total|<line>|under".
    """
    margin, total = scores
    home = win_shares(margin, spreads)
    away = win_shares(margin.negated(), [-line for line in spreads])
    over = win_shares(total, [-line for line in totals])
    under = win_shares(total.negated(), totals)
    probabilities = {}
    for line, home_share, away_share in zip(spreads, home, away, strict=True):
        probabilities[f"spread|{line:g}|home"] = home_share
        probabilities[f"spread|{-line:g}|away"] = away_share
    for line, over_share, under_share in zip(totals, over, under, strict=True):
        probabilities[f"total|{line:g}|over"] = over_share
        probabilities[f"total|{line:g}|under"] = under_share
    return probabilities
