"""Spread and total probabilities from a vectorised Monte Carlo of final scores.

Soccer and NHL scores are Poisson counts; NBA and NFL scores are normal around the means,
rounded to whole points. Lines are settled as bookmakers settle them: a push returns the
stake, and a quarter line (-0.25, 2.75) is half a bet on each neighbouring half line.
"""

from __future__ import annotations

import numpy as np

from schemas.base import Sport

COUNT_SPORTS = (Sport.SOCCER, Sport.NHL)


def simulate_scores(
    sport: Sport, home_mean: float, away_mean: float, sd: float, n: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` simulated (home, away) final scores; ``seed`` makes a game's draw repeatable."""
    rng = np.random.default_rng(seed)
    if sport in COUNT_SPORTS:
        return rng.poisson(home_mean, n), rng.poisson(away_mean, n)
    scores = rng.normal((home_mean, away_mean), sd, size=(n, 2)).round().clip(0)
    return scores[:, 0], scores[:, 1]


def line_shares(result: np.ndarray | float, line: float) -> tuple[np.ndarray, np.ndarray]:
    """Share of the stake won and lost for ``result + line`` (> 0 wins), per simulation.

    ``result`` is the home margin for a home spread bet, the total minus nothing for an
    over bet (with ``line`` = -total), and so on.
    """
    halves = (line - 0.25, line + 0.25) if (line * 4) % 2 == 1 else (line,)
    result = np.asarray(result, dtype=float)
    won = sum((result + h > 0).astype(float) for h in halves) / len(halves)
    lost = sum((result + h < 0).astype(float) for h in halves) / len(halves)
    return won, lost


def win_share(result: np.ndarray, line: float) -> float:
    """Probability of winning a bet on ``result + line`` with pushes left out."""
    won, lost = line_shares(result, line)
    decided = float(won.sum() + lost.sum())
    return float(won.sum()) / decided if decided else 0.5


def market_probabilities(
    home: np.ndarray, away: np.ndarray, spreads: list[float], totals: list[float]
) -> dict[str, float]:
    """Push-free win probability of each side of the given spread and total lines.

    Keys are price keys: "spread|<line>|home" (home + line beats away), "spread|<line>|away"
    for the away line, "total|<line>|over" and "total|<line>|under".
    """
    margin, total = home - away, home + away
    probabilities = {}
    for line in spreads:
        probabilities[f"spread|{line:g}|home"] = win_share(margin, line)
        probabilities[f"spread|{-line:g}|away"] = win_share(-margin, -line)
    for line in totals:
        probabilities[f"total|{line:g}|over"] = win_share(total, -line)
        probabilities[f"total|{line:g}|under"] = win_share(-total, line)
    return probabilities
