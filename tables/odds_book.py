"""The odds book of one game: every bookmaker's line history per market and selection, and
what is read off it — opening, current and closing prices, overround, fair probabilities
with the margin removed, consensus, best price, volatility and steam moves — and the
game's anomalies (tables.anomalies): prices far from the other books', scores going
backwards, lines one book moves alone, bookmakers that stop moving.

Closing prices are read off the history against the game's start time, so they are right
whatever order quotes and the game's own events arrive in. Anomalies are judged from the
quotes alone (and the game events alone), and kept in time order, for the same reason.
"""

from __future__ import annotations

import math
from bisect import insort
from collections import defaultdict
from datetime import datetime
from functools import lru_cache
from typing import Any

from schemas.alert import Alert, AlertKind
from schemas.base import Sport
from schemas.game import GameEvent
from schemas.odds import OddsQuote
from tables.anomalies import (
    CONSENSUS_MAX_AGE_MS,
    LONE_MOVE_MIN_OTHER_BOOKS,
    LONE_MOVE_WINDOW_MS,
    STALE_AFTER_MOVES,
    Anomaly,
    big_move,
    flags_stale,
    lone_line_move,
    price_outliers,
    score_backwards,
    stale_bookmaker,
)
from tables.forecast import AGGREGATES
from tables.margins import METHODS, overround

BOOK_VERSION = "odds-book"  # steam alerts come from the book, not from a model version
HISTORY_CAP = 500  # points kept per bookmaker and selection
STEAM_WINDOW_MS = 10 * 60 * 1000
STEAM_MIN_BOOKS = 3
COMPLETE = {"moneyline": {"home", "away"}, "spread": {"home", "away"}, "total": {"over", "under"}}
# The selections that make a whole market, in a fixed order (a draw only in soccer).
WHOLE_MARKET = {"moneyline": ("home", "draw", "away"), "spread": ("home", "away"),
                "total": ("over", "under"), "player_prop": ("over", "under")}  # fmt: skip
ANOMALIES_CAP = 50  # the most recent anomalies kept per game
# Sets of line keys indexed recently: a game's set changes only when a bookmaker quotes a
# selection for the first time, and many games share theirs.
LINE_INDEXES_KEPT = 1024


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def line_key(quote: OddsQuote) -> str:
    return "|".join(
        (quote.market.value, quote.bookmaker, quote.selection, quote.player or "", quote.stat or "")
    )


# What a book's line keys hold, read once per set of keys rather than by every quote (both
# are shared by every caller: read only).


@lru_cache(maxsize=LINE_INDEXES_KEPT)
def bookmakers_of(keys: tuple[str, ...]) -> list[str]:
    """Every bookmaker of a book's line keys, sorted."""
    return sorted({key.split("|", 2)[1] for key in keys})


@lru_cache(maxsize=LINE_INDEXES_KEPT)
def lines_by_selection(keys: tuple[str, ...]) -> dict[tuple[str, str, str, str], dict[str, str]]:
    """(market, selection, player, stat) -> bookmaker -> line key, in the book's order; the
    ValueError of unpacking when a key has not five parts (a name holding "|")."""
    by_selection: dict[tuple[str, str, str, str], dict[str, str]] = {}
    for key in keys:
        market, bookmaker, selection, player, stat = key.split("|")
        by_selection.setdefault((market, selection, player, stat), {})[bookmaker] = key
    return by_selection


def new_book(game_id: str) -> dict[str, Any]:
    return {"game_id": game_id, "start": None, "status": None, "lines": {}, "steam": [],
            "anomalies": [], "pending_moves": []}  # fmt: skip


def apply_game(book: dict[str, Any] | None, game: GameEvent) -> dict[str, Any]:
    """The book with the game's start time and status; the newest game event wins, so the
    result does not depend on how the game and odds topics interleave."""
    book = book or new_book(game.game_id)
    at = millis(game.event_time)
    if at < book.get("game_time", 0):
        return book
    score = None
    if game.home_score is not None and game.away_score is not None:
        score = [game.home_score, game.away_score]
    previous = book.get("score")
    backwards = score_backwards(
        game.game_id, previous and tuple(previous), score and tuple(score), at
    )
    book = {
        **book,
        "game_time": at,
        "start": millis(game.start_time),
        "status": game.status.value,
        "home": game.home_team,
        "away": game.away_team,
        "score": score or previous,
    }
    return _with_anomalies(book, [backwards] if backwards else [])


def apply_quote(book: dict[str, Any] | None, quote: OddsQuote) -> tuple[dict[str, Any], int | None]:
    """The book with ``quote`` added, and the direction it moved the price (-1, 0, +1;
    0 for the first quote or an unchanged price; None for a redelivery, which leaves the
    book unchanged).

    Ingest lets a line's quotes through only in event-time order, so a quote older than the
    line's newest point, or equal to a point it already has at that time, was seen before.
    """
    book = book or new_book(quote.game_id)
    key = line_key(quote)
    history = book["lines"].get(key, [])
    point = [millis(quote.event_time), quote.price_decimal, quote.line]
    if history and (point[0] < history[-1][0] or point[0] == history[-1][0]
                    and point in history[-HISTORY_CAP:]):  # fmt: skip
        return book, None
    direction = 0
    previous = history[-1] if history else None
    if previous:
        direction = (point[1] > previous[1]) - (point[1] < previous[1])
    lines = {**book["lines"], key: [*history[-(HISTORY_CAP - 1) :], point]}
    book = {**book, "lines": lines}
    if direction:
        book = _maybe_steam(book, quote, direction, point[0])
    return _judge(book, quote, key, previous, point), direction


def _last_move(history: list[list]) -> tuple[int, int] | None:
    """(time, direction) of the newest price change in a history, if any."""
    for i in range(len(history) - 1, 0, -1):
        newer, older = history[i][1], history[i - 1][1]
        if newer != older:
            return history[i][0], (newer > older) - (newer < older)
    return None


def _maybe_steam(book, quote: OddsQuote, direction: int, at: int) -> dict[str, Any]:
    """Record a steam move: several bookmakers moving one selection the same way at once."""
    market, selection = quote.market.value, quote.selection
    books = []
    same = (market, selection, quote.player or "", quote.stat or "")
    for bookmaker, key in lines_by_selection(tuple(book["lines"])).get(same, {}).items():
        if bookmaker in AGGREGATES:
            continue
        move = _last_move(book["lines"][key])
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


# -- anomalies ----------------------------------------------------------------------------


def new_anomalies(before: dict[str, Any] | None, after: dict[str, Any]) -> list[dict[str, Any]]:
    """The anomalies ``after`` holds that ``before`` did not: what one event revealed."""
    known, now = (before or {}).get("anomalies", []), after.get("anomalies", [])
    if now is known:
        return []  # the book kept its list: nothing was added (most events)
    seen = {a["id"] for a in known}
    return [a for a in now if a["id"] not in seen]


def _with_anomalies(book: dict[str, Any], found: list[Anomaly]) -> dict[str, Any]:
    """The book with ``found`` added to its anomalies: each once, the newest kept, in time
    order (so the stored value does not depend on how the game and odds topics interleave)."""
    if not found:
        return book
    known = book.get("anomalies", [])
    ids = {a["id"] for a in known}
    fresh = [a.to_dict() for a in found if a.id not in ids]
    if not fresh:
        return book
    # The list is kept in that order, so each new one is placed by bisection (as a stable
    # sort of the list and the new ones would place it).
    kept = list(known)
    for anomaly in fresh:
        insort(kept, anomaly, key=_anomaly_order)
    return {**book, "anomalies": kept[-ANOMALIES_CAP:]}


def _anomaly_order(anomaly: dict[str, Any]) -> tuple[int, str]:
    return anomaly["at"], anomaly["id"]


def _judge(book: dict[str, Any], quote: OddsQuote, key: str, previous: list | None,
           point: list):  # fmt: skip
    """The book with the anomalies ``quote`` (of line ``key``) reveals: prices now far from
    the others', lone moves whose window it closes, and books left behind by its move."""
    at = point[0]
    found = _price_outliers(book, quote, at)
    pending = book.get("pending_moves", [])
    # A move waits out its window: most quotes close none, and keep the list as it is.
    if pending and min(move["at"] for move in pending) < at - LONE_MOVE_WINDOW_MS:
        waiting, pending = pending, []
        for move in waiting:
            if at - move["at"] <= LONE_MOVE_WINDOW_MS:
                pending.append(move)  # another book may still follow
                continue
            market, bookmaker, selection, player, stat = move["key"].split("|")
            lone = lone_line_move(
                book["game_id"], _market_label(market, player, stat, selection, move["line"]),
                bookmaker, selection, move, _change_times_near(book, move["key"], move["at"]),
            )  # fmt: skip
            if lone:
                found.append(lone)
    if previous and previous[1:] != point[1:]:
        others = _other_lines(book, key)
        found += _left_behind(book, quote, key, others)
        size = big_move(previous, point)
        if size is not None and len(others) >= LONE_MOVE_MIN_OTHER_BOOKS:
            pending = [*pending, {"key": key, "at": at, "size": size, "from": previous[1],
                                  "to": point[1], "line": point[2]}]  # fmt: skip
    return _with_anomalies({**book, "pending_moves": pending}, found)


def _market_label(market: str, player: str, stat: str, selection: str, line) -> str:
    """A market as anomalies name it, with its line as the home (or over) side has it."""
    name = " ".join(p for p in (market, player, stat) if p)
    if line is None:
        return name
    if market == "spread":
        return f"{name} {(-line if selection == 'away' else line):+g}"
    return f"{name} {line:g}"


def _whole_market(quote: OddsQuote) -> dict[str, float | None]:
    """The selections that make the quote's market whole, and the line each has there."""
    market = quote.market.value
    selections = WHOLE_MARKET[market]
    if market == "moneyline" and quote.sport is not Sport.SOCCER:
        selections = ("home", "away")
    if market == "spread":  # the other side of a handicap has the opposite line
        return {s: quote.line if s == quote.selection else -quote.line for s in selections}
    return dict.fromkeys(selections, quote.line)


def _price_outliers(book: dict[str, Any], quote: OddsQuote, now: int) -> list[Anomaly]:
    """Outliers among the fresh whole markets of the quote's market and line, judged when
    the quote completes its book's update. Every book is judged, not only the quote's:
    books quoting at the same moment arrive one by one, and the first ones have no
    consensus to be judged against until the last is in."""
    line_of = _whole_market(quote)
    market, player, stat = quote.market.value, quote.player or "", quote.stat or ""
    lines = book["lines"]

    def update(bookmaker: str) -> tuple[dict[str, float], int] | None:
        """A book's newest prices of every selection, if they are one fresh update on this
        line: (selection -> price, time)."""
        points = []
        for selection in line_of:
            history = lines.get("|".join((market, bookmaker, selection, player, stat)))
            if history is None:
                return None
            points.append(history[-1])
        newest = max(p[0] for p in points)
        if newest < now - CONSENSUS_MAX_AGE_MS:
            return None
        for line, point in zip(line_of.values(), points, strict=True):
            if point[0] != newest or point[2] != line:
                return None
        return {s: point[1] for s, point in zip(line_of, points, strict=True)}, newest

    if update(quote.bookmaker) is None:
        return []  # the rest of this book's update is still arriving
    # Aggregates count as books here: they stand for the rest of the market, and a
    # football-data game has only two real books.
    snapshots, priced_at = {}, {}
    for bookmaker in bookmakers_of(tuple(lines)):
        found = update(bookmaker)
        if found:
            snapshots[bookmaker], priced_at[bookmaker] = found
    label = _market_label(market, player, stat, quote.selection, quote.line)
    return price_outliers(book["game_id"], label, snapshots, tuple(line_of), priced_at)


def _change_times(history: list[list], most: int = 0, since: int | None = None) -> list[int]:
    """Times at which a line's price or handicap changed, newest first: the ``most`` newest
    (0: all), none before ``since``. A plain loop: it runs for every book at each move."""
    times: list[int] = []
    for i in range(len(history) - 1, 0, -1):
        newer, older = history[i], history[i - 1]
        if newer[1] != older[1] or newer[2] != older[2]:  # [time, price, line]
            if since is not None and newer[0] < since:
                break
            times.append(newer[0])
            if len(times) == most:
                break
    return times


def _other_lines(book: dict[str, Any], key: str) -> dict[str, list[list]]:
    """The histories of the same selection (market, player, stat) at the other bookmakers."""
    market, bookmaker, selection, player, stat = key.split("|")
    same = lines_by_selection(tuple(book["lines"]))[market, selection, player, stat]
    return {other: book["lines"][k] for other, k in same.items() if other != bookmaker}


def _change_times_near(book: dict[str, Any], key: str, at: int) -> list[int]:
    """When the other books changed the same selection, within the lone-move window of ``at``."""
    near = []
    for history in _other_lines(book, key).values():
        for moment in _change_times(history, since=at - LONE_MOVE_WINDOW_MS):
            if moment <= at + LONE_MOVE_WINDOW_MS:
                near.append(moment)
    return near


def _left_behind(
    book: dict[str, Any], quote: OddsQuote, key: str, others: dict[str, list[list]]
) -> list[Anomaly]:
    """Bookmakers whose price of the selection has not changed while the others, this
    quote's book (line ``key``) included, moved it ``STALE_AFTER_MOVES`` times (distinct
    moments, so an aggregate echoing a real book's move does not count twice); ``others``:
    the other books' histories of the selection."""
    lines = {**others, quote.bookmaker: book["lines"][key]}
    if sum(len(history) - 1 for history in lines.values()) < STALE_AFTER_MOVES:
        return []  # too few moves yet to leave anyone behind
    # A book's moves since its own last change are the distinct change moments after it,
    # counted up to one past STALE_AFTER_MOVES (the rule fires at exactly that many): the
    # newest of those are among each line's newest few.
    newest = {
        bookmaker: _change_times(history, STALE_AFTER_MOVES + 1)
        for bookmaker, history in lines.items()
    }
    recent = sorted({moment for times in newest.values() for moment in times}, reverse=True)
    recent = recent[: STALE_AFTER_MOVES + 1]
    found = []
    for bookmaker, history in lines.items():
        if bookmaker == quote.bookmaker:
            continue
        unchanged_since = newest[bookmaker][0] if newest[bookmaker] else history[0][0]
        moves = 0
        for moment in recent:  # newest first
            if moment <= unchanged_since:
                break
            moves += 1
        if not flags_stale(moves):
            continue  # no anomaly: its label is not built
        stale = stale_bookmaker(
            book["game_id"],
            _market_label(quote.market.value, quote.player or "", quote.stat or "",
                          quote.selection, history[-1][2]),
            bookmaker, quote.selection, unchanged_since, moves,
        )  # fmt: skip
        if stale:
            found.append(stale)
    return found


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
        "anomalies": book.get("anomalies", []),
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
