"""A game's forecast from a league's state: model-only probabilities, spread and total
probabilities from the score simulation, the market's fair probabilities and the
market-aware blend of the two. Pure functions over plain values.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from functools import lru_cache

from schemas.base import Sport
from tables.elo import win_probabilities
from tables.goals_model import outcome_probabilities, score_matrix
from tables.margins import multiplicative
from tables.model_params import SportParams
from tables.simulation import market_probabilities, simulated_tally

BACK_TO_BACK_MS = 36 * 3600 * 1000  # played within a day and a half before
# the game before the last within three and a half days: the third game in four nights
THREE_IN_FOUR_MS = 84 * 3600 * 1000
# Aggregated prices (an average or maximum over many bookmakers) describe the market but
# cannot be bet at; they count for the consensus only when no real bookmaker has a price.
AGGREGATES = frozenset({"market_avg", "market_max", "oddsportal_avg"})
OUTCOMES = {Sport.SOCCER: ("home", "draw", "away")}
TWO_WAY = ("home", "away")
# Score models kept for reuse: a game's expected goals change only when a result comes in,
# while its prices, each of which asks for a forecast, change all day.
SCORE_MODELS_KEPT = 4096


def outcomes(sport: Sport) -> tuple[str, ...]:
    return OUTCOMES.get(sport, TWO_WAY)


def rest_adjustment(
    params: SportParams,
    start: int,
    home_last: int | None,
    away_last: int | None,
    home_before: int | None = None,
    away_before: int | None = None,
) -> float:
    """Elo points added to the home side for rest. A back-to-back costs the away side
    ``rest_penalty`` and the home side ``home_rest_share`` of it; a third game in four
    nights (``*_before``: the start of the game before the last) costs a further
    ``three_in_four_penalty``."""

    def tired(last: int | None) -> bool:
        return last is not None and start - last <= BACK_TO_BACK_MS

    def crowded(before: int | None) -> bool:
        return before is not None and start - before <= THREE_IN_FOUR_MS

    home_tired = params.home_rest_share * tired(home_last)
    adjustment = params.rest_penalty * (tired(away_last) - home_tired)
    if params.three_in_four_penalty:
        adjustment += params.three_in_four_penalty * (crowded(away_before) - crowded(home_before))
    return adjustment


def soccer_means(
    goals_means: tuple[float, float], shots_means: tuple[float, float] | None, shots_weight: float
) -> tuple[float, float]:
    """Expected goals: the goals model's, pulled geometrically toward the shots model's."""
    if shots_means is None or not shots_weight:
        return goals_means
    return tuple(  # type: ignore[return-value]
        math.exp((1 - shots_weight) * math.log(g) + shots_weight * math.log(s))
        for g, s in zip(goals_means, shots_means, strict=True)
    )


def soccer_probabilities(
    means: tuple[float, float],
    elo: Sequence[float],
    params: SportParams,
    elo_edge: float = 0.0,
    log_ratios: Mapping[str, float] | None = None,
    slow_edge: float = 0.0,
) -> list[float]:
    """Home/draw/away: the ordered logit of ``outcome_index`` when the parameters have its
    cut points, else the Poisson score model blended with the Elo probabilities."""
    if params.draw_cut > params.away_cut:
        index = outcome_index(params, elo_edge, log_ratios or {}, slow_edge)
        return ordered_logit(index, params.away_cut, params.draw_cut)
    poisson = poisson_outcomes(*means, params.low_score_rho)
    w = params.elo_weight
    return [(1 - w) * p + w * e for p, e in zip(poisson, elo, strict=True)]


def outcome_index(
    params: SportParams,
    elo_edge: float,
    log_ratios: Mapping[str, float],
    slow_edge: float = 0.0,
) -> float:
    """How far the home side is ahead: the weighted log(home/away expected count) of each
    count in ``log_ratios`` (goals, shots_on_target, shots, corners; a missing one counts 0)
    plus the weighted Elo edges (points, home advantage included) over 400: the Elo's and
    the long-memory Elo's."""
    index = params.elo_index_weight * elo_edge / 400.0
    index += params.slow_elo_index_weight * slow_edge / 400.0
    for count, weight in (
        ("goals", params.goals_index_weight),
        ("shots_on_target", params.shots_on_target_index_weight),
        ("shots", params.shots_index_weight),
        ("corners", params.corners_index_weight),
    ):
        if weight:
            index += weight * log_ratios.get(count, 0.0)
    return index


def ordered_logit(index: float, away_cut: float, draw_cut: float) -> list[float]:
    """Home/draw/away of an ordered logit: away below ``away_cut``, draw up to ``draw_cut``."""

    def logistic(z: float) -> float:
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))

    away = logistic(away_cut - index)
    not_home = logistic(draw_cut - index)
    return [1.0 - not_home, not_home - away, away]


@lru_cache(maxsize=SCORE_MODELS_KEPT)
def poisson_outcomes(home_mean: float, away_mean: float, rho: float) -> tuple[float, float, float]:
    """Home/draw/away of the Dixon-Coles score matrix (cached: a pure function of these)."""
    return outcome_probabilities(score_matrix(home_mean, away_mean, rho=rho))


def model_probabilities(
    sport: Sport,
    params: SportParams,
    home_rating: float,
    away_rating: float,
    rest: float,
    means: tuple[float, float],
    log_ratios: Mapping[str, float] | None = None,
    slow_edge: float = 0.0,
) -> list[float]:
    """Soccer: ``log_ratios``, log(home/away expected count) per count, and ``slow_edge``,
    the long-memory Elo edge (``outcome_index``)."""
    home, draw, away = win_probabilities(home_rating, away_rating, params, rest)
    if sport is Sport.SOCCER:
        elo_edge = home_rating + params.home_advantage + rest - away_rating
        elo = (home, draw or 0.0, away)
        return soccer_probabilities(means, elo, params, elo_edge, log_ratios, slow_edge)
    return [home, away]


def score_means(
    sport: Sport, params: SportParams, elo_edge: float, means: tuple[float, float]
) -> tuple[float, float]:
    """Means for the score simulation. NBA/NFL: the total from the attack/defence model, the
    margin from the Elo difference (home advantage and rest included)."""
    if not params.points_per_elo:
        return means
    total, margin = sum(means), elo_edge * params.points_per_elo
    return (total + margin) / 2, (total - margin) / 2


def line_probabilities(
    sport: Sport,
    params: SportParams,
    means: tuple[float, float],
    game_id: str,
    spreads: Sequence[float],
    totals: Sequence[float],
    simulations: int,
) -> dict[str, float]:
    """Spread/total probabilities from ``simulations`` simulated scores; the seed comes from
    the game id, so a game's figures are the same on every worker and every replay."""
    if not spreads and not totals:
        return {}
    seed = zlib.crc32(game_id.encode())
    scores = simulated_tally(sport, *means, params.score_sd, simulations, seed)
    return market_probabilities(scores, list(spreads), list(totals))


def consensus(
    prices: Mapping[str, Mapping[str, float]],
    selections: Sequence[str],
    sharp_books: Sequence[str] = (),
) -> list[float] | None:
    """Mean fair (margin-free) probabilities over the bookmakers that price every selection.

    ``prices``: bookmaker -> selection -> decimal price. The sharp books alone when one of
    them has a full market, else every real bookmaker, else the aggregates.
    """
    needed = set(selections)
    complete = {b: p for b, p in prices.items() if needed <= p.keys()}
    books = (
        [b for b in complete if b in sharp_books]
        or [b for b in complete if b not in AGGREGATES]
        or list(complete)
    )
    if not books:
        return None
    fair = [multiplicative([complete[b][s] for s in selections]) for b in sorted(books)]
    return [sum([f[i] for f in fair]) / len(fair) for i in range(len(selections))]


def blend(model: Sequence[float], market: Sequence[float], market_weight: float) -> list[float]:
    """Log-linear pool: p ~ model^(1-w) * market^w, renormalised."""
    model_weight = 1 - market_weight
    pooled = [
        math.exp(model_weight * math.log(max(m, 1e-9)) + market_weight * math.log(max(q, 1e-9)))
        for m, q in zip(model, market, strict=True)
    ]
    total = sum(pooled)
    return [p / total for p in pooled]


def max_change(current: Sequence[float], last: Sequence[float] | None) -> float:
    if last is None or len(last) != len(current):
        return math.inf
    return max(abs(a - b) for a, b in zip(current, last, strict=True))
