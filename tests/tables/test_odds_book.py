from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas import GameEvent, OddsQuote
from tables.odds_book import (
    STEAM_MIN_BOOKS,
    apply_game,
    apply_quote,
    bookmakers_of,
    lines_by_selection,
    summarize,
    volatility,
)
from tests.schemas.examples import GAME, QUOTE

KICKOFF = datetime(2021, 8, 22, 15, 30, tzinfo=UTC)


def quote(book: str, selection: str, price: float, minutes_before: float) -> OddsQuote:
    return OddsQuote.model_validate({
        **QUOTE, "event_id": f"{book}:{selection}:{minutes_before}", "bookmaker": book,
        "selection": selection, "price_decimal": price,
        "event_time": KICKOFF - timedelta(minutes=minutes_before),
    })  # fmt: skip


def fixture() -> GameEvent:
    payload = {k: v for k, v in GAME.items() if not k.endswith("_score")}
    return GameEvent.model_validate(
        {**payload, "status": "scheduled", "start_time": KICKOFF,
         "event_time": KICKOFF - timedelta(days=7)}
    )  # fmt: skip


def test_open_current_closing_and_moves():
    book, moved = apply_quote(None, quote("pinnacle", "home", 2.10, 2880))
    assert moved == 0
    book, moved = apply_quote(book, quote("pinnacle", "home", 2.00, 60))
    assert moved == -1
    book, _ = apply_quote(book, quote("pinnacle", "home", 2.05, -10))  # in play, after kick-off
    line = summarize(book)["markets"]["moneyline"]["bookmakers"]["pinnacle"]["selections"]["home"]
    assert line["closing"] is None  # the start time is not known yet
    line = summarize(apply_game(book, fixture()))["markets"]["moneyline"]["bookmakers"]
    home = line["pinnacle"]["selections"]["home"]
    assert (home["open"], home["current"], home["closing"], home["moves"]) == (2.10, 2.05, 2.00, 2)


def test_fair_probabilities_consensus_and_best_price():
    book = None
    for name, prices in (("pinnacle", (2.0, 3.5, 4.0)), ("bet365", (1.95, 3.6, 4.2)),
                         ("market_max", (2.1, 3.7, 4.4))):  # fmt: skip
        for selection, price in zip(("home", "draw", "away"), prices, strict=True):
            book, _ = apply_quote(book, quote(name, selection, price, 30))
    market = summarize(book)["markets"]["moneyline"]
    pinnacle = market["bookmakers"]["pinnacle"]
    assert pinnacle["overround"] == pytest.approx(1 / 2 + 1 / 3.5 + 1 / 4 - 1)
    assert sum(pinnacle["fair"]["shin"].values()) == pytest.approx(1.0)
    assert market["consensus_books"] == ["bet365", "pinnacle"]  # aggregates left out
    assert sum(market["consensus"].values()) == pytest.approx(1.0)
    assert market["best"]["away"] == {"price": 4.4, "bookmaker": "market_max"}


def test_steam_needs_several_books_moving_the_same_way_in_the_window():
    books = ["pinnacle", "bet365", "williamhill", "betfair"]
    book = None
    for name in books:
        book, _ = apply_quote(book, quote(name, "home", 2.2, 120))
    for i, name in enumerate(books[:STEAM_MIN_BOOKS]):
        book, _ = apply_quote(book, quote(name, "home", 2.0, 20 - i))
    [steam] = book["steam"]
    assert steam["direction"] == -1 and steam["books"] == sorted(books[:STEAM_MIN_BOOKS])
    book, _ = apply_quote(book, quote("betfair", "home", 2.0, 15))
    assert len(book["steam"]) == 1  # the same situation is one steam move


def test_moves_far_apart_are_not_steam():
    book = None
    for name in ("a", "b", "c"):
        book, _ = apply_quote(book, quote(name, "home", 2.2, 1000))
    for i, name in enumerate(("a", "b", "c")):
        book, _ = apply_quote(book, quote(name, "home", 2.0, 500 - 60 * i))
    assert book["steam"] == []


def test_volatility():
    assert volatility([[0, 2.0], [1, 2.0]]) == 0.0
    assert volatility([[0, 2.0], [1, 2.2], [2, 2.0], [3, 2.2]]) > 0


def test_the_newest_game_event_wins_whatever_the_order():
    scheduled = fixture()
    final = GameEvent.model_validate({**GAME, "start_time": KICKOFF})
    assert apply_game(apply_game(None, final), scheduled)["status"] == "final"
    assert apply_game(apply_game(None, scheduled), final)["status"] == "final"


def test_a_redelivered_quote_changes_nothing():
    first, _ = apply_quote(None, quote("pinnacle", "home", 2.10, 60))
    again, direction = apply_quote(first, quote("pinnacle", "home", 2.10, 60))
    assert direction is None and again == first


def test_quotes_delivered_again_in_order_change_nothing():
    quotes = [quote("pinnacle", "home", 2.10, 60), quote("pinnacle", "home", 2.00, 5)]
    book = None
    for q in quotes:
        book, _ = apply_quote(book, q)
    again = book
    for q in quotes:  # a restart re-reads both
        again, direction = apply_quote(again, q)
        assert direction is None
    assert again == book


def test_a_books_line_keys_are_indexed_by_selection_and_bookmaker():
    keys = ("moneyline|pinnacle|home||", "moneyline|bet365|home||", "total|pinnacle|over||")
    assert bookmakers_of(keys) == ["bet365", "pinnacle"]
    assert lines_by_selection(keys)["moneyline", "home", "", ""] == {
        "pinnacle": "moneyline|pinnacle|home||", "bet365": "moneyline|bet365|home||"
    }  # fmt: skip
    # A name holding "|" makes a key of more parts: the steam and stale-book rules, which
    # split every key, fail on it as they always did, while the first quote is booked.
    with pytest.raises(ValueError, match="too many values to unpack"):
        lines_by_selection((*keys, "moneyline|a|b|home||"))
    book, moved = apply_quote(None, quote("a|b", "home", 2.1, 30))
    assert moved == 0 and list(book["lines"]) == ["moneyline|a|b|home||"]
