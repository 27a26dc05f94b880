"""Every feed's model: valid examples pass, each kind of bad input is rejected with a reason."""

from __future__ import annotations

import orjson
import pytest

from schemas import FEEDS, GameEvent, GameStatus, InjuryStatus, OddsQuote, parse_feed_event
from schemas.feeds import InvalidEvent
from tests.schemas.examples import BOXSCORE, GAME, INJURY, LINEUP, QUOTE

VALID = {"games": GAME, "odds": QUOTE, "injuries": INJURY, "lineups": LINEUP, "boxscores": BOXSCORE}


def parse(feed: str, payload) -> object:
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return parse_feed_event(FEEDS[feed], body)


def reason_of(feed: str, payload) -> tuple[str, str]:
    with pytest.raises(InvalidEvent) as caught:
        parse(feed, payload)
    return caught.value.reason, caught.value.error_type


@pytest.mark.parametrize("feed", sorted(VALID))
def test_valid_examples_parse(feed):
    event = parse(feed, VALID[feed])
    assert event.event_id == VALID[feed]["event_id"]
    assert event.event_time.tzinfo is not None
    assert event.partition_key == f"{VALID[feed]['sport']}:{VALID[feed]['league']}"
    assert event.order_group and event.ordering_key


@pytest.mark.parametrize("feed", sorted(VALID))
def test_non_json_bytes(feed):
    reason, error_type = reason_of(feed, b"\x00\xff{garbage")
    assert error_type == "malformed_json"
    assert "JSON" in reason


@pytest.mark.parametrize("feed", sorted(VALID))
def test_json_that_is_not_an_object(feed):
    assert reason_of(feed, b"[1, 2, 3]") == ("not a JSON object", "malformed_json")


@pytest.mark.parametrize("feed", sorted(VALID))
def test_empty_message(feed):
    assert reason_of(feed, b"")[0] == "empty message"


@pytest.mark.parametrize("feed", sorted(VALID))
def test_unknown_sport(feed):
    reason, error_type = reason_of(feed, {**VALID[feed], "sport": "curling"})
    assert reason.startswith("sport:")
    assert error_type == "invalid_value"


@pytest.mark.parametrize("feed", sorted(VALID))
@pytest.mark.parametrize("field", ["event_id", "event_time", "sport"])
def test_missing_common_fields(feed, field):
    payload = {k: v for k, v in VALID[feed].items() if k != field}
    reason, error_type = reason_of(feed, payload)
    assert reason == f"{field}: Field required"
    assert error_type == "missing_field"


def test_negative_score_is_rejected():
    reason, _ = reason_of("games", {**GAME, "home_score": -1})
    assert "home_score" in reason and "greater than or equal to 0" in reason


def test_final_without_score_is_rejected():
    payload = {k: v for k, v in GAME.items() if k != "away_score"}
    assert "needs home_score and away_score" in reason_of("games", payload)[0]


def test_same_team_twice_is_rejected():
    assert "same" in reason_of("games", {**GAME, "away_team": "Arsenal"})[0]


def test_scheduled_game_needs_no_score():
    payload = {k: v for k, v in GAME.items() if not k.endswith("_score")}
    game = parse("games", {**payload, "status": "scheduled"})
    assert isinstance(game, GameEvent) and game.status is GameStatus.SCHEDULED


@pytest.mark.parametrize("price", [1.0, 0.5, 0.0, -2.0])
def test_decimal_odds_at_or_below_one_are_rejected(price):
    assert "price_decimal" in reason_of("odds", {**QUOTE, "price_decimal": price})[0]


def test_american_price_fills_decimal_and_back():
    quote = parse(
        "odds", {**QUOTE, "selection": "home", "price_decimal": None, "price_american": 150}
    )
    assert isinstance(quote, OddsQuote)
    assert quote.price_decimal == pytest.approx(2.5)
    quote = parse("odds", {**QUOTE, "price_decimal": 1.5})
    assert quote.price_american == -200


def test_american_odds_inside_the_gap_are_rejected():
    payload = {**QUOTE, "price_decimal": None, "price_american": 50}
    assert "American odds" in reason_of("odds", payload)[0]


def test_disagreeing_prices_are_rejected():
    payload = {**QUOTE, "price_decimal": 3.0, "price_american": 150}
    assert "disagrees" in reason_of("odds", payload)[0]


def test_quote_without_any_price():
    payload = {k: v for k, v in QUOTE.items() if k != "price_decimal"}
    assert "needs price_decimal or price_american" in reason_of("odds", payload)[0]


def test_draw_only_in_soccer():
    payload = {**QUOTE, "sport": "nba", "league": "NBA"}
    assert "draw" in reason_of("odds", payload)[0]


def test_total_needs_a_line_and_a_fitting_selection():
    assert "needs a line" in reason_of("odds", {**QUOTE, "market": "total", "selection": "over"})[0]
    assert "not one of" in reason_of("odds", {**QUOTE, "market": "total", "line": 2.5})[0]


def test_player_prop_needs_player_and_stat():
    payload = {**QUOTE, "market": "player_prop", "selection": "over", "line": 24.5}
    assert "player and stat" in reason_of("odds", payload)[0]
    prop = parse("odds", {**payload, "player": "Nikola Jokic", "stat": "points"})
    assert "Nikola Jokic" in prop.ordering_key


def test_unknown_injury_status():
    assert "status" in reason_of("injuries", {**INJURY, "status": "MAYBE"})[0]
    report = parse("injuries", {**INJURY, "status": "OUT"})
    assert report.status is InjuryStatus.OUT
    assert report.partition_key == "nba:NBA"
    assert report.order_group == "NBA:LAL"
    assert parse("injuries", {**INJURY, "game_id": "nba-1"}).order_group == "NBA:LAL"


def test_lineup_rejects_duplicate_players_and_empty_lists():
    twice = {**LINEUP, "players": [LINEUP["players"][0]] * 2}
    assert "same player twice" in reason_of("lineups", twice)[0]
    assert "players" in reason_of("lineups", {**LINEUP, "players": []})[0]


def test_boxscore_consistency():
    assert "pts" in reason_of("boxscores", {**BOXSCORE, "pts": 36})[0]
    assert "fgm" in reason_of("boxscores", {**BOXSCORE, "fgm": 30})[0]
    assert "reb" in reason_of("boxscores", {**BOXSCORE, "reb": 12})[0]
    assert "minutes" in reason_of("boxscores", {**BOXSCORE, "minutes": -3})[0]


def test_event_time_without_zone_is_utc():
    game = parse("games", {**GAME, "event_time": "2021-08-22T17:25:00"})
    assert game.event_time.utcoffset().total_seconds() == 0


def test_reasons_are_capped_to_a_few_fields():
    reason, _ = reason_of("odds", {})
    assert reason.endswith("more")
