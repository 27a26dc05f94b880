"""How long one game's Monte Carlo takes: ``tables.forecast.line_probabilities``, the call
a prediction makes for its spread and total lines (10,000 simulated scores, then each
line's push-free probabilities), for a real match with the lines its bookmakers quoted and
its league's mean goals of the season.

The simulation is seeded by the game id and may be cached for the same inputs, so each
timed run is given a game id of its own: the figure is what simulating costs, not a cache
hit (which is timed too, as ``cached_ms``)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from schemas.base import Sport
from streamapp.replay.sources import FeedEvent
from tables.forecast import line_probabilities
from tables.model_params import DEFAULT_PARAMS

SIMULATIONS = 10_000  # the model's default (ModelParams.simulations)


@dataclass
class MonteCarlo:
    game_id: str
    spreads: list[float]
    totals: list[float]
    means: tuple[float, float]
    runs: int
    median_ms: float  # a game never simulated before
    min_ms: float
    cached_ms: float  # the same game again: what a cache, if any, saves

    def to_dict(self) -> dict:
        return asdict(self)


def _most_quoted_lines(events: Sequence[FeedEvent], league: str) -> tuple[str, list, list]:
    """The league's game with the most distinct lines, and its spreads and totals as
    predict-games collects them (a spread by its home line)."""
    spreads: dict[str, set[float]] = {}
    totals: dict[str, set[float]] = {}
    for event in events:
        quote = event.payload
        if event.feed != "odds" or event.key != league or quote.get("line") is None:
            continue
        if quote["market"] == "spread" and quote["selection"] == "home":
            spreads.setdefault(quote["game_id"], set()).add(quote["line"])
        elif quote["market"] == "total":
            totals.setdefault(quote["game_id"], set()).add(quote["line"])
    game = max(spreads, key=lambda g: len(spreads[g]) + len(totals.get(g, ())))
    return game, sorted(spreads[game]), sorted(totals.get(game, ()))


def _mean_goals(events: Sequence[FeedEvent], league: str) -> tuple[float, float]:
    finals = [
        e.payload for e in events
        if e.feed == "games" and e.key == league and e.payload["status"] == "final"
    ]  # fmt: skip
    return (
        statistics.fmean(f["home_score"] for f in finals),
        statistics.fmean(f["away_score"] for f in finals),
    )


def time_simulations(
    events: Sequence[FeedEvent], runs: int, league: str = "soccer:E0"
) -> MonteCarlo:
    game_id, spreads, totals = _most_quoted_lines(events, league)
    means = _mean_goals(events, league)
    params = DEFAULT_PARAMS.sport(Sport.SOCCER)

    def once(game: str) -> float:
        started = time.perf_counter()
        line_probabilities(Sport.SOCCER, params, means, game, spreads, totals, SIMULATIONS)
        return (time.perf_counter() - started) * 1000

    once(f"{game_id}#warm-up")  # numpy's first call pays for allocation
    fresh = [once(f"{game_id}#{run}") for run in range(runs)]
    cached = [once(f"{game_id}#0") for _ in range(runs)]
    return MonteCarlo(
        game_id,
        spreads,
        totals,
        means,
        runs,
        median_ms=statistics.median(fresh),
        min_ms=min(fresh),
        cached_ms=statistics.median(cached),
    )
