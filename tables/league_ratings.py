"""One league's model state, and what each game or odds event does to it.

Ratings (Elo), attack/defence strengths, rest, and every upcoming game with its market
prices, the predictions last emitted for it and the alerts raised on it. ``observe`` folds
one event in and returns the outputs it causes: predictions (model-only and market-aware,
only when they moved), value alerts, and on a final result the settlement of the game's
predictions and alerts. The agent and the backtest both call it; nothing here does I/O.

The state is a plain dict in a faust table keyed by league, so every team of a league is
rated in one place and in the order events arrive.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple

from schemas.alert import Alert, AlertKind
from schemas.base import Sport
from schemas.game import GameEvent, GameStatus
from schemas.odds import Market, OddsQuote
from schemas.prediction import Prediction
from schemas.settlement import Settled, Settlement
from tables import forecast
from tables.anomalies import is_lone_outlier
from tables.edges import expected_value, kelly_fraction
from tables.elo import (
    MEAN_RATING,
    expected_home_score,
    regressed,
    result_score,
    updated_ratings,
)
from tables.exceptions import FailedAfterOutputs
from tables.model_params import ModelParams, SportParams
from tables.settlement import (
    add_alert,
    add_prediction,
    new_performance,
    outcome_index,
    score_prediction,
    settle_alert,
)
from tables.strengths import (
    START_AVERAGES,
    carried_into_new_season,
    expected_goals,
    log_ratio,
    updated_strengths,
)

MODEL_ONLY = "model-only"
MARKET_AWARE = "market-aware"
# Finals remembered per league so a corrected re-send of a result is not counted twice.
REMEMBERED_FINALS = 500
# The rolling Brier score is a plain mean over the first games, then weighs this many.
BRIER_WINDOW = 100
HOUR_MS = 3600 * 1000
PAIRS = {"home": "away", "away": "home", "over": "under", "under": "over"}
# A league has seen all its teams after this many results; a team new after that is promoted.
ESTABLISHED_AFTER = 200
ABSENT_MS = 200 * 24 * HOUR_MS  # longer than any break within a season
# Bounds of the memos below: price keys (and a game's set of them) seen lately in any
# league, and each league's current home advantage with a few to spare.
PRICE_KEYS_KEPT = 4096
HOME_ADVANTAGES_KEPT = 256
# Soccer counts beyond goals and shots on target with attack/defence strengths of their own
# (they feed the outcome index, tables.forecast.outcome_index): name -> the home and away
# statistic of a final (GameEvent.stats, as streamapp.replay.football_data fills it).
EXTRA_COUNTS = {
    "all_shots": ("home_shots", "away_shots"),
    "corners": ("home_corners", "away_corners"),
}
# The outcome index's name of each count.
INDEX_NAMES = {"all_shots": "shots", "corners": "corners"}


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def price_key(market: str, line: float | None, selection: str) -> str:
    return f"{market}|{'' if line is None else format(line, 'g')}|{selection}"


MONEYLINE_HOME = price_key("moneyline", None, "home")


class MarketOf(NamedTuple):
    """The market a price key belongs to: its name, the line of each selection (a spread's
    other side has the opposite line), the selections that make it whole (the key's own
    first in a two-way market) and the price key of each, also as a set: the market's
    identity, whichever of its keys named it."""

    market: str
    line_of: dict[str, float] | None  # shared by every caller: read only
    selections: tuple[str, ...]
    keys: tuple[str, ...]
    key_set: frozenset[str]


@lru_cache(maxsize=PRICE_KEYS_KEPT)
def market_of(sport: Sport, key: str) -> MarketOf:
    """The market of a price key (cached: keys recur all season)."""
    market, line, selection = key.split("|")
    if market == "moneyline":
        line_of, names = None, forecast.outcomes(sport)
    else:
        other = PAIRS[selection]
        value = float(line)
        line_of = {selection: value, other: -value if market == "spread" else value}
        names = (selection, other)
    keys = tuple(price_key(market, line_of[s] if line_of else None, s) for s in names)
    return MarketOf(market, line_of, names, keys, frozenset(keys))


@lru_cache(maxsize=PRICE_KEYS_KEPT)
def quoted_lines(keys: tuple[str, ...]) -> tuple[list[float], list[float]]:
    """The spread lines (the home side's) and total lines among a game's price keys,
    ascending (shared by every caller: read only)."""
    lines = sorted({k for k in keys if not k.startswith("moneyline")})
    spreads = sorted({float(k.split("|")[1]) for k in lines if k.endswith("|home")})
    totals = sorted({float(k.split("|")[1]) for k in lines if k.startswith("total")})
    return spreads, totals


@lru_cache(maxsize=HOME_ADVANTAGES_KEPT)
def with_home_advantage(sport_params: SportParams, home_advantage: str) -> SportParams:
    """``sport_params`` with a league's learnt home advantage, given as ``float.hex()``: a
    key that tells 0.0 from -0.0, which compare equal but are not the same value."""
    return replace(sport_params, home_advantage=float.fromhex(home_advantage))


@lru_cache(maxsize=HOME_ADVANTAGES_KEPT)
def slow_params(sport_params: SportParams) -> SportParams:
    """``sport_params`` for the long-memory Elo's update: its own update size."""
    return replace(sport_params, k=sport_params.slow_k)


def more_of_instant(event: GameEvent | OddsQuote, following: GameEvent | OddsQuote | None) -> bool:
    """Whether ``following``, the league's next event (None: none at hand), is another
    quote of ``event``'s instant (``LeagueRatings.observe``'s ``instant_continues``)."""
    return (
        isinstance(event, OddsQuote)
        and isinstance(following, OddsQuote)
        and millis(following.event_time) == millis(event.event_time)
    )


class GameBooks:
    """bookmaker -> selection -> current price, per market of one game.

    A bookmaker's market is read as one snapshot: a selection whose price is older than
    the bookmaker's newest price on the market is left out (the rest of an update that
    is still arriving, quote by quote). Each market is read off the prices once and kept
    by its key set, whichever side asked first (no caller depends on the order of the
    selections in a snapshot), with its consensus: one event asks for a market several
    times (consensus, market-aware lines, value alerts, closing prices), and a quote
    changes one market of the game. The league's state keeps a game's books across its
    events (``LeagueRatings._books_of``): a changed price forgets the snapshots and
    consensuses of its markets only (``changed``).
    """

    def __init__(self, prices: dict[str, dict[str, list]]) -> None:
        self.prices = prices
        self.snapshots: dict[frozenset[str], dict[str, tuple[int, dict[str, float]]]] = {}
        self.consensuses: dict[tuple[tuple[str, ...], tuple[str, ...]], list[float] | None] = {}
        # per event: what ``of`` gave for each ``since`` (an event's own price age limit)
        self.books: dict[tuple[frozenset[str], int], dict[str, dict[str, float]]] = {}

    def next_event(self) -> GameBooks:
        """Ready for the game's next event."""
        self.books.clear()
        return self

    def changed(self, key: str) -> None:
        """A price of ``key`` changed: its markets are read again when asked for."""
        for key_set in [key_set for key_set in self.snapshots if key in key_set]:
            del self.snapshots[key_set]
        for asked in [asked for asked in self.consensuses if key in asked[0]]:
            del self.consensuses[asked]
        self.books.clear()

    def consensus(self, market: MarketOf, sharp_books: Sequence[str]) -> list[float] | None:
        """``forecast.consensus`` of the market's books, in the order of its selections."""
        asked = market.keys, tuple(sharp_books)
        if asked not in self.consensuses:
            self.consensuses[asked] = forecast.consensus(
                self.of(market), market.selections, sharp_books
            )
        return self.consensuses[asked]

    def of(self, market: MarketOf, since: int = 0) -> dict[str, dict[str, float]]:
        """The market's books, leaving out bookmakers whose newest price is older than
        ``since`` (shared by every caller: read only)."""
        books = self.books.get((market.key_set, since))
        if books is None:
            snapshots = self.snapshots.get(market.key_set)
            if snapshots is None:
                snapshots = self.snapshots[market.key_set] = self._read(market)
            books = self.books[market.key_set, since] = {
                bookmaker: prices for bookmaker, (newest, prices) in snapshots.items()
                if newest >= since
            }  # fmt: skip
        return books

    def complete(self, market: MarketOf, bookmaker: str) -> bool:
        """Whether ``of`` gives the bookmaker's whole market: a price of every selection,
        all of one update (read off the bookmaker's own prices, not the market's)."""
        times = set()
        for key in market.keys:
            point = self.prices.get(key, {}).get(bookmaker)
            if point is None:
                return False
            times.add(point[1])
        return len(times) == 1

    def _read(self, market: MarketOf) -> dict[str, tuple[int, dict[str, float]]]:
        """bookmaker -> (time of its newest price, its snapshot) of one market."""
        quoted: dict[str, dict[str, list]] = {}
        for selection, key in zip(market.selections, market.keys, strict=True):
            for bookmaker, point in self.prices.get(key, {}).items():
                points = quoted.get(bookmaker)
                if points is None:
                    quoted[bookmaker] = {selection: point}
                else:
                    points[selection] = point
        snapshots = {}
        for bookmaker, points in quoted.items():
            newest = max([at for _, at in points.values()])
            snapshots[bookmaker] = newest, {s: p for s, (p, at) in points.items() if at == newest}
        return snapshots


@dataclass
class Outputs:
    predictions: list[Prediction] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    settlements: list[Settlement] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.predictions or self.alerts or self.settlements)


@dataclass
class LeagueRatings:
    sport: Sport
    league: str
    season: str = ""
    ratings: dict[str, float] = field(default_factory=dict)
    # Soccer: a long-memory Elo (SportParams.slow_k; not regressed between seasons).
    slow_ratings: dict[str, float] = field(default_factory=dict)
    # Attack/defence per team on goals (points) and, in soccer, on shots on target, with
    # the league's home/away averages of each.
    strengths: dict[str, dict[str, float]] = field(default_factory=dict)
    goals: dict[str, float] = field(default_factory=dict)
    shot_strengths: dict[str, dict[str, float]] = field(default_factory=dict)
    shots: dict[str, float] = field(default_factory=dict)
    # Soccer: the same for each of EXTRA_COUNTS (count -> team -> factors; count -> averages).
    count_strengths: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    count_averages: dict[str, dict[str, float]] = field(default_factory=dict)
    last_played: dict[str, int] = field(default_factory=dict)  # team -> last start (ms)
    # NBA rest (SportParams.three_in_four_penalty): team -> start of the game before its last
    # (ms); kept only when that penalty is set.
    previous_played: dict[str, int] = field(default_factory=dict)
    # Elo home advantage, learnt per league (it fell to almost nothing without crowds).
    home_advantage: float | None = None
    upcoming: dict[str, dict[str, Any]] = field(default_factory=dict)
    finished: deque[str] = field(default_factory=lambda: deque(maxlen=REMEMBERED_FINALS))
    # Rolling Brier score of the last model-only prediction of each finished game.
    brier: float | None = None
    scored: int = 0
    # "<version>|<model>" -> running settlement sums (tables.settlement)
    performance: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Not stored: each upcoming game's model-only figures while no game event changed the
    # ratings they come from (quotes, most events, change none of them).
    _models: dict[str, tuple[tuple, tuple[list[float], dict]]] = field(
        default_factory=dict, repr=False, compare=False
    )
    # Not stored: each upcoming game's books as its quotes left them (GameBooks).
    _books: dict[str, GameBooks] = field(default_factory=dict, repr=False, compare=False)
    # Not stored: the games this instant's quotes made due a forecast (game id -> the last
    # such quote), forecast when the instant ends (``observe``).
    _due: dict[str, OddsQuote] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        averages = START_AVERAGES[self.sport.value]
        self.goals = self.goals or dict(averages["goals"])
        self.shots = self.shots or dict(averages.get("shots", {}))
        if self.sport is Sport.SOCCER:
            for count in EXTRA_COUNTS:
                self.count_averages.setdefault(count, dict(averages[count]))
                self.count_strengths.setdefault(count, {})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LeagueRatings:
        return cls(
            sport=Sport(data["sport"]),
            league=data["league"],
            season=data.get("season", ""),
            ratings=dict(data.get("ratings", {})),
            slow_ratings=dict(data.get("slow_ratings", {})),
            strengths=dict(data.get("strengths", {})),
            goals=dict(data.get("goals", {})),
            shot_strengths=dict(data.get("shot_strengths", {})),
            shots=dict(data.get("shots", {})),
            count_strengths={
                c: dict(teams) for c, teams in data.get("count_strengths", {}).items()
            },
            count_averages={c: dict(a) for c, a in data.get("count_averages", {}).items()},
            last_played=dict(data.get("last_played", {})),
            previous_played=dict(data.get("previous_played", {})),
            home_advantage=data.get("home_advantage"),
            upcoming=dict(data.get("upcoming", {})),
            finished=deque(data.get("finished", ()), maxlen=REMEMBERED_FINALS),
            brier=data.get("brier"),
            scored=data.get("scored", 0),
            performance=dict(data.get("performance", {})),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "sport": self.sport.value,
            "league": self.league,
            "season": self.season,
            "ratings": self.ratings,
            "slow_ratings": self.slow_ratings,
            "strengths": self.strengths,
            "goals": self.goals,
            "shot_strengths": self.shot_strengths,
            "shots": self.shots,
            "count_strengths": self.count_strengths,
            "count_averages": self.count_averages,
            "last_played": self.last_played,
            "previous_played": self.previous_played,
            "home_advantage": self.home_advantage,
            "upcoming": self.upcoming,
            "finished": list(self.finished),
            "brier": self.brier,
            "scored": self.scored,
            "performance": self.performance,
        }

    def rating(self, team: str) -> float:
        return self.ratings.get(team, MEAN_RATING)

    # -- events -------------------------------------------------------------------------

    def observe(
        self,
        event: GameEvent | OddsQuote,
        params: ModelParams,
        min_change: float,
        alert_on_outliers: bool = False,
        instant_continues: bool = False,
    ) -> Outputs:
        """Apply one game or odds event; return the predictions, alerts and settlements.
        ``alert_on_outliers``: a price far from the other books' may make a value alert
        (setting STREAMAPP_ALERT_ON_OUTLIER_PRICES). ``instant_continues``: the league's
        next event is another quote of this one's instant (``more_of_instant``).

        A quote's game is forecast again once the instant's last quote is in: quotes that
        share an instant are one move of the market (one poll of several bookmakers), and
        a forecast of half of it would be judged against prices that were never quoted
        alone. A later event first forecasts an instant whose last quote was never applied
        (it raised): those outputs come with the later event's.

        An event that raises once outputs were made (that pending instant's, or the
        games forecast before the one that raised) raises ``FailedAfterOutputs`` with
        them, from its error: their state is kept, so they are to be sent."""
        out = Outputs()
        try:
            if self._due and not more_of_instant(next(iter(self._due.values())), event):
                self._forecast_due(params, min_change, alert_on_outliers, out)
            if isinstance(event, OddsQuote):
                self._observe_quote(event)
                if not instant_continues:
                    self._forecast_due(params, min_change, alert_on_outliers, out)
            else:
                self._observe_game(event, params, min_change, alert_on_outliers, out)
        except Exception as error:
            if out:
                raise FailedAfterOutputs(out) from error
            raise
        return out

    def _observe_game(
        self,
        game: GameEvent,
        params: ModelParams,
        min_change: float,
        alert_on_outliers: bool,
        out: Outputs,
    ) -> None:
        self._models.clear()
        self._books.clear()  # kept between a league's game events only: a bounded cache
        self._enter_season(game.season, params)
        if game.game_id in self.finished or self._known_fixture(game):
            # Already over, or this very fixture already known: delivered again after a
            # restart (at-least-once upstream), it changes nothing. Forecast again, a known
            # fixture would republish its prediction with whatever came since.
            return
        self._admit(game.home_team, game, params)
        self._admit(game.away_team, game, params)
        if game.status is GameStatus.SCHEDULED:
            entry = self.upcoming.setdefault(game.game_id, {"prices": {}, "alerts": []})
            entry.update(
                home=game.home_team,
                away=game.away_team,
                start=millis(game.start_time),
                type=game.game_type,
            )
            self._forecast(game.game_id, game, params, min_change, alert_on_outliers, out)
            return
        if game.status in (GameStatus.POSTPONED, GameStatus.CANCELLED):
            self.upcoming.pop(game.game_id, None)
            return
        if game.status is not GameStatus.FINAL:
            return
        learned = self._learned(game, params)  # first: a refused result changes nothing
        entry = self.upcoming.pop(game.game_id, None)
        if entry:
            self._settle(game, entry, params.sharp_books, out)
        self.finished.append(game.game_id)
        for name, value in learned.items():
            setattr(self, name, value)
        for game_id, other in self.upcoming.items():
            if {other["home"], other["away"]} & {game.home_team, game.away_team}:
                self._forecast(game_id, game, params, min_change, alert_on_outliers, out)

    def _books_of(self, game_id: str, entry: dict[str, Any]) -> GameBooks:
        """The game's books, kept since its last quote if they still read its prices."""
        books = self._books.get(game_id)
        if books is None or books.prices is not entry["prices"]:
            books = self._books[game_id] = GameBooks(entry["prices"])
        return books.next_event()

    def _known_fixture(self, game: GameEvent) -> bool:
        entry = self.upcoming.get(game.game_id)
        return (
            game.status is GameStatus.SCHEDULED
            and entry is not None
            and (entry["home"], entry["away"], entry["start"], entry["type"])
            == (game.home_team, game.away_team, millis(game.start_time), game.game_type)
        )

    def _observe_quote(self, quote: OddsQuote) -> None:
        """Take a quote's price into its game's book; the game is due a forecast when the
        price is new and completes its bookmaker's market."""
        entry = self.upcoming.get(quote.game_id)
        if entry is None or quote.market is Market.PLAYER_PROP:
            return
        at = millis(quote.event_time)
        if at > entry["start"]:
            return  # in-play prices are not the pregame market this model prices
        key = price_key(quote.market.value, quote.line, quote.selection)
        books = entry["prices"].setdefault(key, {})
        known = books.get(quote.bookmaker, [None, -1])
        if known[1] > at or known == [quote.price_decimal, at]:
            return  # an older price, or this very quote, delivered again
        books[quote.bookmaker] = [quote.price_decimal, at]
        game_books = self._books_of(quote.game_id, entry)
        game_books.changed(key)
        if not game_books.complete(market_of(self.sport, key), quote.bookmaker):
            return  # the rest of this bookmaker's update is still arriving
        self._due[quote.game_id] = quote

    def _forecast_due(
        self, params: ModelParams, min_change: float, alert_on_outliers: bool, out: Outputs
    ) -> None:
        """Forecast each game the instant's quotes made due, each after its last such quote
        (taken first: a forecast that raises leaves none due to fail the next event)."""
        due, self._due = self._due, {}
        for game_id, quote in due.items():
            self._forecast(game_id, quote, params, min_change, alert_on_outliers, out)

    # -- ratings ------------------------------------------------------------------------

    def _enter_season(self, season: str, params: ModelParams) -> None:
        # Seasons are labelled so that later ones sort higher ("2021-22", "NBA_2021").
        if season <= self.season:
            return
        if self.season:
            sport_params = params.sport(self.sport)
            self.ratings = {t: regressed(r, sport_params) for t, r in self.ratings.items()}
            self.strengths = carried_into_new_season(self.strengths)
            self.shot_strengths = carried_into_new_season(self.shot_strengths)
            self.count_strengths = {
                count: carried_into_new_season(teams)
                for count, teams in self.count_strengths.items()
            }
        self.season = season

    def _admit(self, team: str, game: GameEvent, params: ModelParams) -> None:
        """A team new to an established league, or back after a season away (promoted),
        starts as the league's weakest teams are, not as an average or its old self."""
        pool = params.sport(self.sport).newcomer_pool
        if not pool or len(self.finished) < ESTABLISHED_AFTER:
            return
        last = self.last_played.get(team)
        away_long = last is not None and millis(game.start_time) - last > ABSENT_MS
        if team in self.ratings and not away_long:
            return
        self.last_played.pop(team, None)
        weakest = sorted(
            (t for t in self.ratings if t != team and t in self.last_played),
            key=self.ratings.__getitem__,
        )[:pool]
        if len(weakest) < pool:
            return
        self.ratings[team] = sum(self.ratings[t] for t in weakest) / pool
        slow = [self.slow_ratings[t] for t in weakest if t in self.slow_ratings]
        if slow:
            self.slow_ratings[team] = sum(slow) / len(slow)
        for strengths in (self.strengths, self.shot_strengths, *self.count_strengths.values()):
            known = [strengths[t] for t in weakest if t in strengths]
            if known:
                strengths[team] = {
                    factor: sum(s[factor] for s in known) / len(known)
                    for factor in ("attack", "defence")
                }

    def _params(self, params: ModelParams) -> SportParams:
        """The sport's parameters with this league's learnt home advantage."""
        sport_params = params.sport(self.sport)
        if self.home_advantage is None or not sport_params.home_advantage_step:
            return sport_params
        return with_home_advantage(sport_params, float(self.home_advantage).hex())

    def _learned(self, game: GameEvent, params: ModelParams) -> dict[str, Any]:
        """The state a final result leads to (attribute -> new value), computed without
        changing any. A ValueError if a rating, strength or average would not be finite:
        whatever arrives, the league's model state stays usable."""
        sport_params = self._params(params)
        home, away = game.home_team, game.away_team
        home_score, away_score = game.home_score or 0, game.away_score or 0
        before = self.rating(home), self.rating(away)
        after = updated_ratings(self.sport, *before, home_score, away_score, sport_params)
        learned: dict[str, Any] = {"ratings": {**self.ratings, home: after[0], away: after[1]}}
        changed = {f"rating of {home}": after[0], f"rating of {away}": after[1]}
        if sport_params.slow_k:
            slow = updated_ratings(
                self.sport,
                self.slow_ratings.get(home, MEAN_RATING),
                self.slow_ratings.get(away, MEAN_RATING),
                home_score,
                away_score,
                slow_params(sport_params),
            )
            learned["slow_ratings"] = {**self.slow_ratings, home: slow[0], away: slow[1]}
            changed.update({f"slow rating of {home}": slow[0], f"slow rating of {away}": slow[1]})
        if sport_params.home_advantage_step:
            surprise = result_score(home_score, away_score) - expected_home_score(
                *before, sport_params.home_advantage
            )
            learned["home_advantage"] = (
                sport_params.home_advantage + sport_params.home_advantage_step * surprise
            )
        learned["strengths"], learned["goals"] = updated_strengths(
            self.strengths, self.goals, home, away, home_score, away_score,
            sport_params.strength_step, sport_params.league_step,
        )  # fmt: skip
        home_shots = game.stats.get("home_shots_on_target")
        away_shots = game.stats.get("away_shots_on_target")
        if self.shots and home_shots is not None and away_shots is not None:
            learned["shot_strengths"], learned["shots"] = updated_strengths(
                self.shot_strengths, self.shots, home, away, home_shots, away_shots,
                sport_params.strength_step, sport_params.league_step,
            )  # fmt: skip
        counts = {}
        for count, (home_stat, away_stat) in EXTRA_COUNTS.items():
            home_count, away_count = game.stats.get(home_stat), game.stats.get(away_stat)
            if count in self.count_averages and home_count is not None and away_count is not None:
                counts[count] = updated_strengths(
                    self.count_strengths[count], self.count_averages[count], home, away,
                    home_count, away_count, sport_params.strength_step, sport_params.league_step,
                )  # fmt: skip
        if counts:
            learned["count_strengths"] = {
                **self.count_strengths,
                **{c: teams for c, (teams, _) in counts.items()},
            }
            learned["count_averages"] = {
                **self.count_averages,
                **{c: averages for c, (_, averages) in counts.items()},
            }
        start = millis(game.start_time)
        learned["last_played"] = {**self.last_played, home: start, away: start}
        if sport_params.three_in_four_penalty:
            # NBA rest: each side's previous start moves one game back
            learned["previous_played"] = {
                **self.previous_played,
                **{t: self.last_played[t] for t in (home, away) if t in self.last_played},
            }
        if "home_advantage" in learned:
            changed["home advantage"] = learned["home_advantage"]
        for averages, strengths in (("goals", "strengths"), ("shots", "shot_strengths")):
            if strengths not in learned:
                continue
            for side, value in learned[averages].items():
                changed[f"{averages} {side} average"] = value
            for team in (home, away):
                for factor, value in learned[strengths][team].items():
                    changed[f"{strengths} {factor} of {team}"] = value
        for count, (teams, averages) in counts.items():
            for side, value in averages.items():
                changed[f"{count} {side} average"] = value
            for team in (home, away):
                for factor, value in teams[team].items():
                    changed[f"{count} {factor} of {team}"] = value
        broken = [name for name, value in changed.items() if not math.isfinite(value)]
        if broken:
            raise ValueError(
                f"the result of {game.game_id} ({home_score}-{away_score}) would make "
                f"{', '.join(broken)} non-finite; it is not applied"
            )
        return learned

    # -- forecasts ----------------------------------------------------------------------

    def _model(self, entry: dict[str, Any], sport_params: SportParams) -> tuple[list[float], dict]:
        """Model-only probabilities of a game and the inputs they came from."""
        home, away = entry["home"], entry["away"]
        rest = forecast.rest_adjustment(
            sport_params, entry["start"], self.last_played.get(home), self.last_played.get(away),
            self.previous_played.get(home), self.previous_played.get(away),
        )  # fmt: skip
        means = expected_goals(self.strengths, self.goals, home, away)
        log_ratios = None
        if self.sport is Sport.SOCCER:
            log_ratios = {"goals": log_ratio(means)}
            shots = None
            if self.shots:
                shot_means = expected_goals(self.shot_strengths, self.shots, home, away)
                log_ratios["shots_on_target"] = log_ratio(shot_means)
                conversion = (self.goals["home"] / self.shots["home"],
                              self.goals["away"] / self.shots["away"])  # fmt: skip
                shots = (shot_means[0] * conversion[0], shot_means[1] * conversion[1])
            for count, averages in self.count_averages.items():
                count_means = expected_goals(self.count_strengths[count], averages, home, away)
                log_ratios[INDEX_NAMES[count]] = log_ratio(count_means)
            means = forecast.soccer_means(means, shots, sport_params.shots_weight)
        home_rating, away_rating = self.rating(home), self.rating(away)
        slow_edge = 0.0
        if sport_params.slow_k:
            slow_edge = (
                self.slow_ratings.get(home, MEAN_RATING)
                + sport_params.home_advantage
                - self.slow_ratings.get(away, MEAN_RATING)
            )
        probabilities = forecast.model_probabilities(
            self.sport, sport_params, home_rating, away_rating, rest, means, log_ratios, slow_edge
        )
        elo_edge = home_rating + sport_params.home_advantage + rest - away_rating
        inputs = {
            "home_rating": home_rating,
            "away_rating": away_rating,
            "rest_adjustment": rest,
            "home_mean": means[0],
            "away_mean": means[1],
        }
        if log_ratios is not None:
            # the terms of the soccer outcome index (bench/fit_outcome_index.py fits on them)
            inputs["elo_edge"], inputs["slow_elo_edge"] = elo_edge, slow_edge
            inputs.update({f"log_ratio_{count}": r for count, r in log_ratios.items()})
        return probabilities, {"inputs": inputs, "elo_edge": elo_edge, "means": means}

    def _lines(
        self,
        game_id: str,
        entry: dict,
        params: ModelParams,
        sport_params: SportParams,
        model: dict,
    ) -> dict:
        """Model-only spread/total probabilities for every line quoted on the game; the
        simulation reruns only when the model's means or the set of lines changed."""
        spreads, totals = quoted_lines(tuple(entry["prices"]))
        means = forecast.score_means(self.sport, sport_params, model["elo_edge"], model["means"])
        signature = [round(means[0], 6), round(means[1], 6), [*spreads], [*totals],
                     params.version]  # fmt: skip
        cached = entry.get("lines")
        if cached and cached["signature"] == signature:
            return cached["probabilities"]
        probabilities = forecast.line_probabilities(
            self.sport, sport_params, means, game_id, spreads, totals, params.simulations
        )
        entry["lines"] = {"signature": signature, "probabilities": probabilities}
        return probabilities

    def _forecast(
        self,
        game_id: str,
        trigger: GameEvent | OddsQuote,
        params: ModelParams,
        min_change: float,
        alert_on_outliers: bool,
        out: Outputs,
    ) -> None:
        """Predict a game again, and look for value, after ``trigger``."""
        entry = self.upcoming[game_id]
        books = self._books_of(game_id, entry)
        sport_params = params.sport(self.sport)
        league_params = self._params(params)
        signature = (params.version, entry["home"], entry["away"], entry["start"])
        cached = self._models.get(game_id)
        if cached is None or cached[0] != signature:
            cached = self._models[game_id] = signature, self._model(entry, league_params)
        model, details = cached[1]
        lines = self._lines(game_id, entry, params, league_params, details)
        moneyline = market_of(self.sport, MONEYLINE_HOME)
        names = moneyline.selections
        market = books.consensus(moneyline, params.sharp_books)
        aware = forecast.blend(model, market, sport_params.market_weight) if market else None
        aware_lines = self._aware_lines(
            books, lines, sport_params.market_weight, params.sharp_books
        )
        for name, probabilities, line_probs in (
            (MODEL_ONLY, model, lines),
            (MARKET_AWARE, aware, aware_lines),
        ):
            if probabilities is None:
                continue
            last = entry.get(name)
            if (
                last
                and last["version"] == params.version
                and (forecast.max_change(probabilities, last["p"]) < min_change)
            ):
                continue
            inputs = dict(details["inputs"])
            if name == MARKET_AWARE:
                inputs.update({f"market_{n}": q for n, q in zip(names, market, strict=True)})
            prediction = self._prediction(
                game_id, entry, trigger, name, params.version, probabilities, line_probs, inputs
            )
            entry[name] = {"p": probabilities, "id": prediction.event_id, "version": params.version}
            out.predictions.append(prediction)
        if aware is not None:
            selection_probs = {
                price_key("moneyline", None, s): (p, q)
                for s, p, q in zip(names, aware, market, strict=True)
            }
            selection_probs.update(aware_lines)
            self._value_alerts(
                game_id, entry, books, trigger, params, selection_probs, alert_on_outliers, out
            )

    def _aware_lines(
        self, books: GameBooks, lines: dict[str, float], weight: float, sharp_books
    ) -> dict[str, tuple[float, float]]:
        """Market-aware spread/total probabilities (and the market's fair one) per price key
        of a line with a two-sided market."""
        aware = {}
        for key, p in lines.items():
            market = market_of(self.sport, key)
            if market.selections[0] not in ("home", "over"):
                continue
            fair = books.consensus(market, sharp_books)
            if fair is None:
                continue
            both = forecast.blend([p, 1 - p], fair, weight)
            aware[key] = (both[0], fair[0])
            aware[market.keys[1]] = (both[1], fair[1])  # the other side's key
        return aware

    def _prediction(
        self, game_id, entry, trigger, model, version, probabilities, lines, inputs
    ) -> Prediction:
        three_way = len(probabilities) == 3
        return Prediction(
            event_id=f"{game_id}:{model}:{version}:{trigger.event_id}",
            **self._scope(game_id, trigger),
            model=model,
            model_version=version,
            home_team=entry["home"],
            away_team=entry["away"],
            start_time=datetime.fromtimestamp(entry["start"] / 1000, UTC).isoformat(),
            p_home=probabilities[0],
            p_draw=probabilities[1] if three_way else None,
            p_away=probabilities[-1],
            lines={k: (v[0] if isinstance(v, tuple) else v) for k, v in lines.items()},
            inputs=inputs,
        )

    # -- alerts -------------------------------------------------------------------------

    def _value_alerts(
        self, game_id, entry, books, trigger, params, selection_probs, alert_on_outliers, out
    ) -> None:
        """A value alert per selection whose best real price beats the market-aware
        probability by ``value_edge``; one per selection within the cooldown. A price that
        is a lone outlier against the other books' is passed over unless
        ``alert_on_outliers``: it is more often a feed error than a gift."""
        at = millis(trigger.event_time)
        if entry["start"] - at < params.alert_min_minutes_before_start * 60_000:
            return  # a price this close to the start is the closing line: no value left in it
        fresh_since = at - int(params.max_price_age_minutes * 60_000)
        cooldown = entry.setdefault("cooldown", {})
        max_price, value_edge = params.max_price, params.value_edge
        for key, (probability, fair) in selection_probs.items():
            if at - cooldown.get(key, -(10**15)) < params.alert_cooldown_hours * HOUR_MS:
                continue
            selection = key.split("|")[2]
            whole_market = market_of(self.sport, key)
            names = whole_market.selections
            fresh = books.of(whole_market, fresh_since)
            offers = [
                (price, bookmaker)
                for bookmaker, prices in fresh.items()
                if (price := prices.get(selection)) is not None
                and bookmaker not in forecast.AGGREGATES
                and price <= max_price
                and expected_value(probability, price) >= value_edge
            ]
            # Best price first; only these are judged (a margin removal per book each time).
            offer = next(
                (
                    (price, bookmaker)
                    for price, bookmaker in sorted(offers, reverse=True)
                    if alert_on_outliers or not is_lone_outlier(fresh, names, bookmaker, selection)
                ),
                None,
            )
            if offer is None:
                continue
            price, bookmaker = offer
            edge = expected_value(probability, price)
            market, line, selection = key.split("|")
            stake = kelly_fraction(probability, price, params.kelly_fraction, params.kelly_cap)
            alert = Alert(
                event_id=f"value:{game_id}:{key}:{trigger.event_id}",
                **self._scope(game_id, trigger),
                alert_kind=AlertKind.VALUE,
                market=market,
                selection=selection,
                line=float(line) if line else None,
                bookmaker=bookmaker,
                price_decimal=price,
                model_probability=probability,
                market_probability=fair,
                edge=edge,
                stake_fraction=stake,
                model_version=params.version,
                detail=f"{entry['home']} v {entry['away']}: {selection} at {price:g} "
                f"({bookmaker}), fair {1 / fair:.2f}, model {1 / probability:.2f}",
            )
            cooldown[key] = at
            entry["alerts"].append(
                {"id": alert.event_id, "key": key, "market": market, "selection": selection,
                 "line": alert.line, "bookmaker": bookmaker, "price": price, "stake": stake,
                 "version": params.version}
            )  # fmt: skip
            out.alerts.append(alert)

    # -- settlement ---------------------------------------------------------------------

    def _settle(self, game: GameEvent, entry: dict[str, Any], sharp_books, out: Outputs) -> None:
        home_score, away_score = game.home_score or 0, game.away_score or 0
        three_way = self.sport is Sport.SOCCER
        outcome = outcome_index(home_score, away_score, three_way)
        for name in (MODEL_ONLY, MARKET_AWARE):
            last = entry.get(name)
            if last is None:
                continue
            scores = score_prediction(last["p"], home_score, away_score)
            add_prediction(self._performance(last["version"], name), last["p"], scores, outcome)
            if name == MODEL_ONLY:
                self._roll_brier(scores["brier"])
            out.settlements.append(
                self._settlement(
                    game, Settled.PREDICTION, last["id"], name, last["version"], **scores
                )  # fmt: skip
            )
        books = GameBooks(entry["prices"])
        for alert in entry["alerts"]:
            closing_fair = self._closing_fair(books, alert, sharp_books)
            same_book = entry["prices"].get(alert["key"], {}).get(alert["bookmaker"])
            settled = settle_alert(
                alert, home_score, away_score, same_book[0] if same_book else None, closing_fair
            )
            add_alert(self._performance(alert["version"], MARKET_AWARE), settled)
            out.settlements.append(
                self._settlement(
                    game, Settled.ALERT, alert["id"], MARKET_AWARE, alert["version"],
                    profit=settled["profit"], clv=settled["clv"],
                    clv_same_book=settled["clv_same_book"],
                )
            )  # fmt: skip

    def _closing_fair(self, books: GameBooks, alert: dict, sharp_books) -> float | None:
        """The fair closing probability of an alert's selection (margin removed)."""
        market = market_of(self.sport, alert["key"])
        names = market.selections
        fair = books.consensus(market, sharp_books)
        return fair[names.index(alert["selection"])] if fair else None

    def _performance(self, version: str, model: str) -> dict[str, Any]:
        return self.performance.setdefault(f"{version}|{model}", new_performance())

    def _roll_brier(self, score: float) -> None:
        self.scored += 1
        weight = 1.0 / min(self.scored, BRIER_WINDOW)
        self.brier = score if self.brier is None else (1 - weight) * self.brier + weight * score

    def _scope(self, game_id: str, trigger: GameEvent | OddsQuote) -> dict[str, Any]:
        """The fields every output about a game shares: its league, game and event time."""
        return {
            "event_time": trigger.event_time,
            "sport": self.sport,
            "league": self.league,
            "game_id": game_id,
        }

    def _settlement(self, game, settled, ref_id, model, version, **figures) -> Settlement:
        return Settlement(
            event_id=f"settle:{ref_id}",
            **self._scope(game.game_id, game),
            settled=settled,
            ref_id=ref_id,
            model=model,
            model_version=version,
            **figures,
        )
