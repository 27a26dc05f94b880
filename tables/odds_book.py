"""The odds book of one game: every bookmaker's line history per market and selection, and
what is read off it — opening, current and closing prices, overround, fair probabilities
with the margin removed, consensus, best price, volatility and steam moves.

Closing prices are read off the history against the game's start time, so they are right
whatever order quotes and the game's own events arrive in.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime
from typing import Any

from schemas.alert import Alert, AlertKind
from schemas.game import GameEvent
from schemas.odds import OddsQuote
from tables.forecast import AGGREGATES
from tables.margins import METHODS, overround

BOOK_VERSION = "odds-book"  # steam alerts come from the book, not from a model version
HISTORY_CAP = 500  # points kept per bookmaker and selection
STEAM_WINDOW_MS = 10 * 60 * 1000
STEAM_MIN_BOOKS = 3
COMPLETE = {"moneyline": {"home", "away"}, "spread": {"home", "away"}, "total": {"over", "under"}}


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def line_key(quote: OddsQuote) -> str:
    return "|".join(
        (quote.market.value, quote.bookmaker, quote.selection, quote.player or "", quote.stat or "")
    )


def new_book(game_id: str) -> dict[str, Any]:
    return {"game_id": game_id, "start": None, "status": None, "lines": {}, "steam": []}


def apply_game(book: dict[str, Any] | None, game: GameEvent) -> dict[str, Any]:
    """The book with the game's start time and status; the newest game event wins, so the
    result does not depend on how the game and odds topics interleave."""
    book = book or new_book(game.game_id)
    if millis(game.event_time) < book.get("game_time", 0):
        return book
    return {
        **book,
        "game_time": millis(game.event_time),
        "start": millis(game.start_time),
        "status": game.status.value,
        "home": game.home_team,
        "away": game.away_team,
    }


def apply_quote(book: dict[str, Any] | None, quote: OddsQuote) -> tuple[dict[str, Any], int | None]:
    """The book with ``quote`` added, and the direction it moved the price (-1, 0, +1;
    0 for the first quote or an unchanged price; None for a redelivery, which leaves the
    book unchanged).

    Ingest lets a line's quotes through only in event-time order, so a quote older than the
    line's newest point, or equal to a point it already has at that time, was seen before.
    """
    book = book or new_book(quote.game_id)
    key = line_key(quote)
    history = list(book["lines"].get(key, []))
    point = [millis(quote.event_time), quote.price_decimal, quote.line]
    if history and (point[0] < history[-1][0] or point in history[-HISTORY_CAP:]
                    and point[0] == history[-1][0]):  # fmt: skip
        return book, None
    direction = 0
    if history:
        previous = history[-1][1]
        direction = (point[1] > previous) - (point[1] < previous)
    history.append(point)
    lines = {**book["lines"], key: history[-HISTORY_CAP:]}
    book = {**book, "lines": lines}
    if direction:
        book = _maybe_steam(book, quote, direction, point[0])
    return book, direction


def _last_move(history: list[list]) -> tuple[int, int] | None:
    """(time, direction) of the newest price change in a history, if any."""
    for newer, older in zip(reversed(history), list(reversed(history))[1:], strict=False):
        if newer[1] != older[1]:
            return newer[0], (newer[1] > older[1]) - (newer[1] < older[1])
    return None


def _maybe_steam(book, quote: OddsQuote, direction: int, at: int) -> dict[str, Any]:
    """Record a steam move: several bookmakers moving one selection the same way at once."""
    market, selection = quote.market.value, quote.selection
    books = []
    for key, history in book["lines"].items():
        m, bookmaker, sel, player, stat = key.split("|")
        if (m, sel, player, stat) != (market, selection, quote.player or "", quote.stat or ""):
            continue
        if bookmaker in AGGREGATES:
            continue
        move = _last_move(history)
        if move and move[1] == direction and at - move[0] <= STEAM_WINDOW_MS:
            books.append(bookmaker)
    if len(books) < STEAM_MIN_BOOKS:
        return book
    recent = [
        s for s in book["steam"]
        if (s["market"], s["selection"], s["direction"]) == (market, selection, direction)
        and at - s["at"] <= STEAM_WINDOW_MS
    ]  # fmt: skip
    if recent:
        return book  # one situation, one steam move
    event = {"at": at, "market": market, "selection": selection, "direction": direction,
             "books": sorted(books)}  # fmt: skip
    return {**book, "steam": [*book["steam"], event]}


def steam_alert(quote: OddsQuote, steam: dict[str, Any]) -> Alert:
    """The alert for a steam move the book just recorded; its id is the move itself, so a
    redelivered quote cannot raise it twice."""
    way = "shortened" if steam["direction"] < 0 else "drifted"
    return Alert(
        event_id=f"steam:{quote.game_id}:{steam['market']}:{steam['selection']}:"
        f"{steam['direction']}:{steam['at']}",
        event_time=quote.event_time,
        sport=quote.sport,
        league=quote.league,
        game_id=quote.game_id,
        alert_kind=AlertKind.STEAM,
        market=steam["market"],
        selection=steam["selection"],
        line=quote.line,
        bookmaker=quote.bookmaker,
        price_decimal=quote.price_decimal,
        model_version=BOOK_VERSION,
        detail=f"{steam['selection']} {way} at {len(steam['books'])} bookmakers within "
        f"{STEAM_WINDOW_MS // 60_000} min: {', '.join(steam['books'])}",
    )


def volatility(history: list[list]) -> float:
    """Standard deviation of the log price changes (0 with fewer than two changes)."""
    changes = [math.log(b[1] / a[1]) for a, b in zip(history, history[1:], strict=False)]
    if len(changes) < 2:
        return 0.0
    mean = sum(changes) / len(changes)
    return math.sqrt(sum((c - mean) ** 2 for c in changes) / len(changes))


def price_at(history: list[list], moment: int | None) -> list | None:
    """The last point at or before ``moment`` (None: no such point, or no moment)."""
    if moment is None:
        return None
    eligible = [p for p in history if p[0] <= moment]
    return eligible[-1] if eligible else None


def summarize(book: dict[str, Any]) -> dict[str, Any]:
    """Everything read off the book, per market (and line for spreads/totals)."""
    markets: dict[str, dict] = defaultdict(lambda: {"bookmakers": defaultdict(dict)})
    for key, history in book["lines"].items():
        market, bookmaker, selection, player, stat = key.split("|")
        name = "|".join(p for p in (market, player, stat) if p)
        opening, current = history[0], history[-1]
        closing = price_at(history, book.get("start"))
        markets[name]["bookmakers"][bookmaker][selection] = {
            "open": opening[1],
            "open_time": opening[0],
            "current": current[1],
            "current_time": current[0],
            "line": current[2],
            "closing": closing[1] if closing else None,
            "moves": sum(a[1] != b[1] for a, b in zip(history, history[1:], strict=False)),
            "volatility": volatility(history),
            "history": history,
        }
    return {
        "game_id": book["game_id"],
        "start": book.get("start"),
        "status": book.get("status"),
        "markets": {name: _market_view(name, m["bookmakers"]) for name, m in markets.items()},
        "steam": book["steam"],
    }


def _market_view(name: str, bookmakers: dict[str, dict]) -> dict[str, Any]:
    market = name.split("|")[0]
    selections = sorted({s for prices in bookmakers.values() for s in prices})
    needed = COMPLETE.get(market)
    view: dict[str, Any] = {"bookmakers": {}, "best": {}, "consensus": None}
    fair_by_book = {}
    for bookmaker, prices in bookmakers.items():
        entry: dict[str, Any] = {"selections": prices}
        if needed and needed <= set(prices) and (len(prices) in (2, 3)):
            order = sorted(prices)
            current = [prices[s]["current"] for s in order]
            entry["overround"] = overround(current)
            entry["fair"] = {
                method: dict(zip(order, fn(current), strict=True)) for method, fn in METHODS.items()
            }
            fair_by_book[bookmaker] = entry["fair"]["multiplicative"]
        view["bookmakers"][bookmaker] = entry
    for selection in selections:
        offers = [(p[selection]["current"], b) for b, p in bookmakers.items() if selection in p]
        price, bookmaker = max(offers)
        view["best"][selection] = {"price": price, "bookmaker": bookmaker}
    # Real bookmakers make the consensus; the aggregates only when there is no real one.
    real = {b: f for b, f in fair_by_book.items() if b not in AGGREGATES}
    fair_by_book = real or fair_by_book
    if fair_by_book:
        view["consensus"] = {
            s: sum(f[s] for f in fair_by_book.values() if s in f)
            / sum(1 for f in fair_by_book.values() if s in f)
            for s in selections
            if any(s in f for f in fair_by_book.values())
        }
        view["consensus_books"] = sorted(fair_by_book)
    return view
