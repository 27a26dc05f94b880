"""The Odds API v4: ``/v4/sports/{sport}/odds`` -> OddsQuote, ``/scores`` -> GameEvent.

Traps handled (feeds/FORMAT-NOTES.md): outcomes are ordered by name, not home/away, so they
are matched by name; soccer ``h2h`` is 3-way with "Draw"; ``h2h_lay`` (exchanges' lay prices)
is not a second moneyline and is ignored; a price's JSON type says nothing about its format
(decimal prices come as 10 or 6), so the caller says which ``oddsFormat`` it asked for;
market-level ``last_update`` is missing in older responses (the bookmaker's is used); scores
are strings and keyed by team name; ``scores``/``last_update`` are null before the start.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import orjson

from schemas.game import GameEvent, GameStatus
from schemas.odds import PRICE_DECIMAL_MIN, Market, OddsQuote, no_american_gap
from streamapp.connectors.changes import stable_event_id
from streamapp.connectors.exceptions import ResponseFormatError, UnknownTeam
from streamapp.connectors.leagues import League, odds_api_league
from streamapp.connectors.parsing import (
    NOT_FOLLOWED,
    UNKNOWN_TEAM,
    Parsed,
    Skipped,
    build,
    game_id,
    provider_time,
    season_of,
)
from streamapp.connectors.teams import resolve_team

PROVIDER = "oddsapi"
OddsFormat = Literal["decimal", "american"]

MARKETS = {"h2h": Market.MONEYLINE, "spreads": Market.SPREAD, "totals": Market.TOTAL}
# Exchange lay prices: the price to lay a selection, not to back it.
IGNORED_MARKETS = {"h2h_lay"}
PLAYER_PROP_PREFIX = "player_"
DRAW = "Draw"
TOTAL_SELECTIONS = {"Over": "over", "Under": "under"}


def _decode(body: bytes | str) -> list[dict[str, Any]]:
    try:
        events = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ResponseFormatError(f"not valid JSON: {error}") from None
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise ResponseFormatError("expected a JSON array of event objects")
    return events


class _Game:
    """One Odds API event with its league, teams and game id resolved."""

    def __init__(self, event: dict[str, Any], league: League) -> None:
        self.league = league
        self.start = provider_time(event["commence_time"])
        self.home_name, self.away_name = event["home_team"], event["away_team"]
        self.home_team = resolve_team(PROVIDER, league.code, self.home_name)
        self.away_team = resolve_team(PROVIDER, league.code, self.away_name)
        self.game_id = game_id(league, self.start, self.home_team, self.away_team)

    @property
    def common(self) -> dict[str, Any]:
        return {"sport": self.league.sport, "league": self.league.code, "game_id": self.game_id}


def _game(event: dict[str, Any], skipped: list[Skipped]) -> _Game | None:
    item = f"event {event.get('id')}"
    league = odds_api_league(str(event.get("sport_key")))
    if league is None:
        skipped.append(
            Skipped(item, f"sport key {event.get('sport_key')!r} is not followed", NOT_FOLLOWED)
        )
        return None
    try:
        return _Game(event, league)
    except UnknownTeam as error:
        skipped.append(Skipped(item, str(error), UNKNOWN_TEAM))
    except (KeyError, TypeError, ValueError) as error:
        skipped.append(Skipped(item, f"malformed event: {error!r}"))
    return None


def _selection(game: _Game, market: Market, outcome: dict[str, Any]) -> str | None:
    name = outcome.get("name")
    if market in (Market.TOTAL, Market.PLAYER_PROP):
        return TOTAL_SELECTIONS.get(name)
    if name == game.home_name:
        return "home"
    if name == game.away_name:
        return "away"
    if name == DRAW and market is Market.MONEYLINE:
        return "draw"
    return None


def _prices(price: Any, odds_format: OddsFormat) -> dict[str, Any] | None:
    """The quote's price fields, or None for a price no bet can be placed at (1.0 once a
    game is decided, an American number between -100 and +100)."""
    if isinstance(price, bool) or not isinstance(price, int | float):
        return None
    if odds_format == "decimal":
        return {"price_decimal": float(price)} if price >= PRICE_DECIMAL_MIN else None
    try:
        return {"price_american": no_american_gap(int(price))} if price == int(price) else None
    except ValueError:
        return None


def _quotes(
    game: _Game,
    bookmaker: dict[str, Any],
    market_data: dict[str, Any],
    odds_format: OddsFormat,
    skipped: list[Skipped],
) -> list[OddsQuote]:
    key = market_data["key"]
    book = bookmaker["key"]
    item = f"{game.game_id} {book} {key}"
    if key.startswith(PLAYER_PROP_PREFIX):
        market, stat = Market.PLAYER_PROP, key.removeprefix(PLAYER_PROP_PREFIX)
    elif key in MARKETS:
        market, stat = MARKETS[key], None
    else:
        skipped.append(Skipped(item, f"market {key!r} is not read", NOT_FOLLOWED))
        return []
    # Older responses have no market-level time: the bookmaker's applies.
    updated = provider_time(market_data.get("last_update") or bookmaker["last_update"])
    quotes = []
    for outcome in market_data["outcomes"]:
        selection = _selection(game, market, outcome)
        prices = _prices(outcome.get("price"), odds_format)
        if selection is None or prices is None:
            skipped.append(Skipped(item, f"outcome not read: {outcome!r}"))
            continue
        player = outcome.get("description") if market is Market.PLAYER_PROP else None
        line = outcome.get("point")
        price = outcome["price"]
        quote = build(
            OddsQuote,
            item,
            skipped,
            event_id=stable_event_id(
                PROVIDER, "odds", game.game_id, book, key, selection, player, line, price, updated
            ),
            event_time=updated,
            bookmaker=book,
            market=market,
            selection=selection,
            line=line,
            player=player,
            stat=stat,
            **prices,
            **game.common,
        )
        if quote:
            quotes.append(quote)
    return quotes


def parse_odds(body: bytes | str, odds_format: OddsFormat) -> Parsed:
    """Every quote of an ``/odds`` response (one sport, or ``upcoming`` mixing sports),
    requested with ``oddsFormat=odds_format``. Events of other sports, unknown teams and
    unreadable outcomes are skipped with their reason; the rest is kept."""
    events: list[OddsQuote] = []
    skipped: list[Skipped] = []
    for event in _decode(body):
        game = _game(event, skipped)
        if game is None:
            continue
        for bookmaker in event.get("bookmakers") or []:
            for market_data in bookmaker.get("markets", []):
                if market_data.get("key") in IGNORED_MARKETS:
                    continue
                try:
                    events.extend(_quotes(game, bookmaker, market_data, odds_format, skipped))
                except (KeyError, TypeError, ValueError) as error:
                    item = f"{game.game_id} {bookmaker.get('key')}"
                    skipped.append(Skipped(item, f"malformed market: {error!r}"))
    return Parsed(events, skipped)


def _score_state(game: _Game, event: dict[str, Any]) -> dict[str, Any]:
    if not event.get("scores"):
        return {"status": GameStatus.SCHEDULED}
    by_team = {score["name"]: int(score["score"]) for score in event["scores"]}
    return {
        "status": GameStatus.FINAL if event["completed"] else GameStatus.IN_PROGRESS,
        "home_score": by_team[game.home_name],
        "away_score": by_team[game.away_name],
    }


def parse_scores(body: bytes | str, received_at: datetime) -> Parsed:
    """Every followed game of a ``/scores`` response; ``received_at`` is the event time of
    games the provider has not updated yet (``last_update: null``)."""
    events: list[GameEvent] = []
    skipped: list[Skipped] = []
    for event in _decode(body):
        game = _game(event, skipped)
        if game is None:
            continue
        try:
            state = _score_state(game, event)
            updated = event.get("last_update")
            event_time = provider_time(updated) if updated else received_at
        except (KeyError, TypeError, ValueError) as error:
            skipped.append(Skipped(game.game_id, f"malformed scores: {error!r}"))
            continue
        content = (state["status"], state.get("home_score"), state.get("away_score"), game.start)
        game_event = build(
            GameEvent,
            game.game_id,
            skipped,
            event_id=stable_event_id(PROVIDER, "game", game.game_id, *content),
            event_time=event_time,
            season=season_of(game.start),
            home_team=game.home_team,
            away_team=game.away_team,
            start_time=game.start,
            **state,
            **game.common,
        )
        if game_event:
            events.append(game_event)
    return Parsed(events, skipped)
