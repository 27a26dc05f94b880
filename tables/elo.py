"""Elo ratings per sport: home advantage, margin-of-victory multiplier, season regression.

The NBA and NFL parameters follow FiveThirtyEight's published methods; NHL and soccer use
the same shape with constants fitted to their scoring (few goals, many draws in soccer).
"""

from __future__ import annotations

import math

from schemas.base import Sport
from tables.model_params import SportParams

MEAN_RATING = 1505.0


def expected_home_score(home_rating: float, away_rating: float, home_advantage: float) -> float:
    """Expected score of the home team (win = 1, draw = 0.5) under the Elo logistic."""
    return 1.0 / (1.0 + 10.0 ** ((away_rating - home_rating - home_advantage) / 400.0))


def result_score(home_score: int, away_score: int) -> float:
    """The home side's Elo result: 1 for a win, 0.5 for a draw, 0 for a loss."""
    return 1.0 if home_score > away_score else 0.0 if home_score < away_score else 0.5


def mov_multiplier(sport: Sport, margin: int, winner_elo_edge: float) -> float:
    """How much a win by ``margin`` counts, damped when the favourite wins (autocorrelation)."""
    margin = abs(margin)
    if margin == 0:
        return 1.0
    if sport is Sport.NBA:
        return (margin + 3.0) ** 0.8 / (7.5 + 0.006 * winner_elo_edge)
    if sport is Sport.NFL:
        return math.log(margin + 1.0) * 2.2 / (winner_elo_edge * 0.001 + 2.2)
    # Few-goal sports: one goal counts once, each further goal a little more.
    return math.log(margin + 1.0) / math.log(2.0) * 2.2 / (winner_elo_edge * 0.001 + 2.2)


def updated_ratings(
    sport: Sport,
    home_rating: float,
    away_rating: float,
    home_score: int,
    away_score: int,
    params: SportParams,
) -> tuple[float, float]:
    """Ratings of both teams after a result; the update is zero-sum."""
    expected = expected_home_score(home_rating, away_rating, params.home_advantage)
    actual = result_score(home_score, away_score)
    home_edge = home_rating + params.home_advantage - away_rating
    winner_edge = home_edge if home_score >= away_score else -home_edge
    shift = params.k * mov_multiplier(sport, home_score - away_score, winner_edge)
    shift *= actual - expected
    return home_rating + shift, away_rating - shift


def regressed(rating: float, params: SportParams) -> float:
    """A rating carried into a new season, pulled toward the mean."""
    return MEAN_RATING + params.season_carry * (rating - MEAN_RATING)


def win_probabilities(
    home_rating: float, away_rating: float, params: SportParams, adjustment: float = 0.0
) -> tuple[float, float | None, float]:
    """(home, draw, away); draw is None for sports without draws.

    For soccer the draw takes a share of the probability that peaks for equal teams and
    shrinks as one side dominates, keeping the Elo expected score (home + draw/2) intact.
    ``adjustment`` adds Elo points to the home side (rest, for example).
    """
    expected = expected_home_score(home_rating + adjustment, away_rating, params.home_advantage)
    if not params.draw_peak:
        return expected, None, 1.0 - expected
    balance = 4.0 * expected * (1.0 - expected)  # 1 for equal teams, 0 for a sure thing
    draw = params.draw_peak * balance
    return expected - draw / 2.0, draw, 1.0 - expected - draw / 2.0
