"""Hostile input: whatever the bytes, parsing gives an event or InvalidEvent with a reason
that names the field, and an accepted event holds only finite, bounded values."""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from schemas import FEEDS
from schemas.feeds import DEFAULT_WINDOW, InvalidEvent, TimeWindow, parse_feed_event
from tests.schemas.examples import BOXSCORE, GAME, INJURY, LINEUP, QUOTE

VALID = {"games": GAME, "odds": QUOTE, "injuries": INJURY, "lineups": LINEUP, "boxscores": BOXSCORE}
# A fixed clock a little after the examples' times, so the window tests do not depend on today.
NOW = datetime(2021, 8, 23, tzinfo=UTC).timestamp()
ERROR_TYPES = {"malformed_json", "missing_field", "invalid_value"}


def body(payload) -> bytes:
    """JSON as a hostile feed may write it: integers of any size, NaN and Infinity as
    literals (orjson refuses the first and writes the others as null)."""
    return json.dumps(payload).encode()


def refusal(feed: str, payload: bytes, window: TimeWindow | None = None) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as caught:
        parse_feed_event(FEEDS[feed], payload, window, now=NOW)
    return caught.value


def raw(text: str) -> bytes:
    return text.encode()


def game_with(member: str) -> bytes:
    """The example game with one more JSON member, written as a hostile feed would."""
    return raw(orjson.dumps(GAME).decode()[:-1] + "," + member + "}")


NO_PRICE = {**QUOTE, "price_decimal": None}
TOTAL = {**QUOTE, "market": "total", "selection": "over", "line": 2.5}
# (name, feed, payload, error type, text the reason must contain: the field at fault)
HOSTILE_CASES = [
    ("NaN in stats", "games", game_with('"stats":{"home_shots":NaN}'), "invalid_value",
     "stats.home_shots"),
    ("Infinity in stats", "games", game_with('"stats":{"home_shots":Infinity}'), "invalid_value",
     "stats.home_shots"),
    ("1e400 in stats", "games", game_with('"stats":{"x":1e400}'), "invalid_value", "stats.x"),
    ("negative stat", "games", body({**GAME, "stats": {"home_shots": -1}}), "invalid_value",
     "stats.home_shots"),
    ("huge stat", "games", body({**GAME, "stats": {"home_shots": 1e6}}), "invalid_value",
     "stats.home_shots"),
    ("too many stats", "games", body({**GAME, "stats": {f"s{i}": 1 for i in range(65)}}),
     "invalid_value", "stats"),
    ("long stat name", "games", body({**GAME, "stats": {"s" * 65: 1}}), "invalid_value", "stats"),
    ("NUL in a stat name", "games", body({**GAME, "stats": {"a\x00b": 1}}), "invalid_value",
     "stats.a\\x00b"),
    ("home score 2**63", "games", body({**GAME, "home_score": 2**63}), "invalid_value",
     "home_score"),
    ("away score 2**200", "games", body({**GAME, "away_score": 2**200}), "invalid_value",
     "away_score"),
    ("soccer score of 31", "games", body({**GAME, "home_score": 31}), "invalid_value",
     "home_score"),
    ("NBA score of 251", "games",
     body({**GAME, "sport": "nba", "league": "NBA", "home_score": 251}), "invalid_value",
     "home_score"),
    ("score as 1e400", "games", game_with('"home_score":1e400'), "invalid_value", "home_score"),
    ("event time overflows UTC", "games", body({**GAME, "event_time": "9999-12-31T23:59:59-05:00"}),
     "invalid_value", "event_time"),
    ("start time underflows UTC", "games",
     body({**GAME, "start_time": "0001-01-01T00:00:00+05:00"}), "invalid_value", "start_time"),
    ("event time far ahead", "games",
     body({**GAME, "event_time": "2031-01-01T00:00:00Z", "start_time": "2031-01-01T00:00:00Z"}),
     "invalid_value", "event_time"),
    ("event time in 1900", "games",
     body({**GAME, "event_time": "1900-01-01T00:00:00Z", "start_time": "1900-01-01T00:00:00Z"}),
     "invalid_value", "event_time"),
    ("event time as a huge number", "games", body({**GAME, "event_time": 1e300}),
     "invalid_value", "event_time"),
    ("start time years from the event", "games", body({**GAME, "start_time": "2025-08-22T15:30Z"}),
     "invalid_value", "start_time"),
    ("decimal price 1e308", "odds", body({**QUOTE, "price_decimal": 1e308}), "invalid_value",
     "price_decimal"),
    ("decimal price Infinity", "odds",
     raw(orjson.dumps(QUOTE).decode().replace("3.4", "Infinity")), "invalid_value",
     "price_decimal"),
    ("decimal price NaN", "odds", raw(orjson.dumps(QUOTE).decode().replace("3.4", "NaN")),
     "invalid_value", "price_decimal"),
    ("decimal price just above 1", "odds", body({**QUOTE, "price_decimal": 1.0000001}),
     "invalid_value", "price_decimal"),
    ("American price 1e308", "odds", body({**NO_PRICE, "price_american": 1e308}),
     "invalid_value", "price_american"),
    ("American price 10**400", "odds", body({**NO_PRICE, "price_american": 10**400}),
     "invalid_value", "price_american"),
    ("American price -Infinity", "odds",
     raw(orjson.dumps(NO_PRICE).decode()[:-1] + ',"price_american":-Infinity}'),
     "invalid_value", "price_american"),
    ("American price inside the gap", "odds", body({**NO_PRICE, "price_american": 50}),
     "invalid_value", "price_american"),
    ("American price disagrees", "odds", body({**QUOTE, "price_american": 500}),
     "invalid_value", "price_american"),
    ("line 1e400", "odds", raw(orjson.dumps(TOTAL).decode().replace("2.5", "1e400")),
     "invalid_value", "line"),
    ("total line of 600", "odds", body({**TOTAL, "line": 600}), "invalid_value", "line"),
    ("negative total line", "odds", body({**TOTAL, "line": -2.5}), "invalid_value", "line"),
    ("spread of 150", "odds", body({**TOTAL, "market": "spread", "selection": "home",
                                     "line": -150}), "invalid_value", "line"),
    ("NUL in a team", "games", body({**GAME, "home_team": "Arse\x00nal"}), "invalid_value",
     "home_team"),
    ("escape in a bookmaker", "odds", body({**QUOTE, "bookmaker": "pin\x1b[31mnacle"}),
     "invalid_value", "bookmaker"),
    ("line break in an id", "games", body({**GAME, "event_id": "a\nb"}), "invalid_value",
     "event_id"),
    ("C1 control in a player", "boxscores", body({**BOXSCORE, "player_name": "Jok\x85ic"}),
     "invalid_value", "player_name"),
    ("NUL in a lineup player", "lineups",
     body({**LINEUP, "players": [{**LINEUP["players"][0], "player_id": "\x00"}]}),
     "invalid_value", "players.0.player_id"),
    ("key separator in a league", "games", body({**GAME, "league": "E0|x"}), "invalid_value",
     "league"),
    ("event id of 250 characters", "games", body({**GAME, "event_id": "e" * 250}),
     "invalid_value", "event_id"),
    ("game id of 250 characters", "odds", body({**QUOTE, "game_id": "g" * 250}),
     "invalid_value", "game_id"),
    ("1 MB team name", "games", body({**GAME, "home_team": "A" * 1_000_000}), "invalid_value",
     "home_team"),
    ("1 MB id", "injuries", body({**INJURY, "event_id": "i" * 1_000_000}), "invalid_value",
     "event_id"),
    ("unbounded game type", "games", body({**GAME, "game_type": "x" * 1000}), "invalid_value",
     "game_type"),
    ("lineup players are not objects", "lineups", body({**LINEUP, "players": [1, 2]}),
     "invalid_value", "players.0"),
    ("wrong type", "games", body({**GAME, "home_score": "two"}), "invalid_value", "home_score"),
    ("unknown enum", "injuries", body({**INJURY, "status": "MAYBE"}), "invalid_value", "status"),
    ("null id", "games", body({**GAME, "event_id": None}), "invalid_value", "event_id"),
    ("empty id", "games", body({**GAME, "event_id": ""}), "invalid_value", "event_id"),
    ("missing field", "games", body({k: v for k, v in GAME.items() if k != "season"}),
     "missing_field", "season"),
    ("10,000-deep nesting", "games", raw('{"x":' + "[" * 10_000 + "]" * 10_000 + "}"),
     "malformed_json", "JSON"),
    ("invalid UTF-8 in a string", "games",
     orjson.dumps(GAME).replace(b"Arsenal", b"Ars\xffnal"), "malformed_json", "JSON"),
    ("truncated JSON", "games", orjson.dumps(GAME)[:40], "malformed_json", "JSON"),
    ("lone surrogate escape", "games", orjson.dumps(GAME).replace(b"Arsenal", b"\\udc00"),
     "malformed_json", "JSON"),
    ("a JSON array", "odds", b"[1, 2, 3]", "malformed_json", "JSON object"),
    ("a JSON string", "odds", b'"odds"', "malformed_json", "JSON object"),
    ("a JSON number", "odds", b"1e400", "malformed_json", "JSON object"),
    ("JSON null", "odds", b"null", "malformed_json", "JSON object"),
    ("an empty message", "lineups", b"", "malformed_json", "empty"),
    ("an empty object", "boxscores", b"{}", "missing_field", "event_id"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("feed", "payload", "error_type", "named"),
    [case[1:] for case in HOSTILE_CASES],
    ids=[case[0] for case in HOSTILE_CASES],
)
def test_hostile_input_is_refused_with_its_field_named(feed, payload, error_type, named):
    refused = refusal(feed, payload)
    assert refused.error_type == error_type
    assert named in refused.reason
    assert len(refused.reason) <= 1000
    assert "\x00" not in refused.reason


def string_fields(payload: dict, path: tuple = ()) -> list[tuple]:
    """The path of every string value in ``payload``, through lists and objects."""
    found = []
    for key, value in payload.items():
        if isinstance(value, str):
            found.append((*path, key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                found += string_fields(item, (*path, key, i))
    return found


def with_value(payload, path: tuple, value):
    head, *rest = path
    copy = list(payload) if isinstance(payload, list) else dict(payload)
    copy[head] = with_value(payload[head], tuple(rest), value) if rest else value
    return copy


@pytest.mark.parametrize(
    ("feed", "path"),
    [(feed, path) for feed, payload in VALID.items() for path in string_fields(payload)],
)
@pytest.mark.parametrize("control", ["\x00", "\x07", "\x7f", "\x9b"])
def test_every_string_field_refuses_control_characters(feed, path, control):
    original = VALID[feed]
    value = original
    for step in path:
        value = value[step]
    payload = with_value(original, path, value[:1] + control + value[1:])
    refused = refusal(feed, body(payload))
    assert refused.error_type == "invalid_value"
    assert ".".join(map(str, path)) in refused.reason


def test_an_injury_reason_may_hold_line_breaks_but_not_nul():
    report = parse_feed_event(
        FEEDS["injuries"], body({**INJURY, "reason": "ankle\nsprain"}), now=NOW
    )
    assert report.reason == "ankle\nsprain"
    assert "reason" in refusal("injuries", body({**INJURY, "reason": "ankle\x00"})).reason


# -- the event-time window ---------------------------------------------------------------


def at(seconds_from_now: float) -> str:
    return datetime.fromtimestamp(NOW + seconds_from_now, UTC).isoformat()


def test_an_event_up_to_the_window_ahead_is_accepted_and_beyond_it_refused():
    ahead = DEFAULT_WINDOW.max_ahead_seconds
    inside = {**QUOTE, "event_time": at(ahead - 1)}
    assert parse_feed_event(FEEDS["odds"], body(inside), now=NOW).event_id == QUOTE["event_id"]
    refused = refusal("odds", body({**QUOTE, "event_time": at(ahead + 1)}))
    assert refused.error_type == "invalid_value"
    assert refused.reason.startswith("event_time:") and "ahead of now" in refused.reason


def test_the_default_window_stays_under_the_brokers_hour():
    assert DEFAULT_WINDOW.max_ahead_seconds < 3600
    assert DEFAULT_WINDOW.earliest == datetime(1990, 1, 1, tzinfo=UTC)


def test_a_window_of_its_own_moves_both_limits():
    window = TimeWindow(earliest=datetime(2021, 8, 22, tzinfo=UTC), max_ahead_seconds=60)
    assert "before" in refusal("odds", body({**QUOTE, "event_time": at(-3 * 86400)}), window).reason
    assert "ahead" in refusal("odds", body({**QUOTE, "event_time": at(120)}), window).reason
    quote = parse_feed_event(FEEDS["odds"], body({**QUOTE, "event_time": at(30)}), window, NOW)
    assert quote.event_time == datetime.fromtimestamp(NOW + 30, UTC)


def test_without_now_the_window_is_checked_against_the_clock():
    soon = datetime.fromtimestamp(time.time() + 60, UTC).isoformat()
    later = datetime.fromtimestamp(time.time() + 3600, UTC).isoformat()
    assert parse_feed_event(FEEDS["odds"], body({**QUOTE, "event_time": soon}))
    with pytest.raises(InvalidEvent, match="ahead of now"):
        parse_feed_event(FEEDS["odds"], body({**QUOTE, "event_time": later}))


@pytest.mark.parametrize(
    "window",
    [
        {"earliest": datetime(1990, 1, 1)},  # no zone
        {"max_ahead_seconds": math.inf},
        {"max_ahead_seconds": -1},
    ],
)
def test_a_window_that_makes_no_sense_is_refused(window):
    with pytest.raises(ValueError):
        TimeWindow(**window)


# -- valid events still pass --------------------------------------------------------------


@pytest.mark.parametrize("feed", sorted(VALID))
def test_real_looking_examples_still_pass(feed):
    event = parse_feed_event(FEEDS[feed], orjson.dumps(VALID[feed]), now=NOW)
    assert event.event_id == VALID[feed]["event_id"]


def test_bounds_leave_room_for_real_extremes():
    nba = {**GAME, "sport": "nba", "league": "NBA", "home_score": 168, "away_score": 147}
    assert parse_feed_event(FEEDS["games"], body(nba), now=NOW).home_score == 168
    longest = {**GAME, "game_id": "g" * 80, "event_id": "e" * 120, "stats": {"home_shots": 46}}
    assert parse_feed_event(FEEDS["games"], body(longest), now=NOW).game_id == "g" * 80
    for american, decimal in ((-100_000, 1.001), (100_000, 1001.0)):
        quote = {**NO_PRICE, "selection": "home", "price_american": american}
        assert parse_feed_event(FEEDS["odds"], body(quote), now=NOW).price_decimal == decimal
        quote = {**QUOTE, "price_decimal": decimal}
        assert parse_feed_event(FEEDS["odds"], body(quote), now=NOW).price_american == american
    prop = {**TOTAL, "market": "player_prop", "player": "Josh Allen", "stat": "passing_yards",
            "line": 289.5}  # fmt: skip
    assert parse_feed_event(FEEDS["odds"], body(prop), now=NOW).line == 289.5


def test_a_megabyte_payload_is_refused_quickly():
    payload = body({**GAME, "home_team": "A" * 1_000_000, "notes": "n" * 1_000_000})
    started = time.perf_counter()
    refusal("games", payload)
    assert time.perf_counter() - started < 0.5


# -- properties -----------------------------------------------------------------------------


def numbers_in(value) -> list[float]:
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, dict):
        return [n for v in value.values() for n in numbers_in(v)]
    if isinstance(value, list | tuple):
        return [n for v in value for n in numbers_in(v)]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [value]
    return []


def parsed_or_refused(feed: str, payload: bytes):
    """The event, or None when refused; anything but InvalidEvent fails the test."""
    try:
        event = parse_feed_event(FEEDS[feed], payload, now=NOW)
    except InvalidEvent as refused:
        assert refused.error_type in ERROR_TYPES
        assert refused.reason and "\x00" not in refused.reason
        return None
    assert all(math.isfinite(n) for n in numbers_in(event))
    earliest = DEFAULT_WINDOW.earliest
    latest = datetime.fromtimestamp(NOW, UTC) + timedelta(seconds=DEFAULT_WINDOW.max_ahead_seconds)
    assert earliest <= event.event_time <= latest
    return event


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(feed=st.sampled_from(sorted(VALID)), payload=st.binary(max_size=200))
def test_arbitrary_bytes_give_an_event_or_invalid_event(feed, payload):
    parsed_or_refused(feed, payload)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(feed=st.sampled_from(sorted(VALID)), value=JSON)
def test_arbitrary_json_gives_an_event_or_invalid_event(feed, value):
    parsed_or_refused(feed, body(value))


def hostile_number():
    return st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e400", str(2**200),
                            str(2**63), "1e308", "-0.0", "0"]) | st.floats().map(repr)  # fmt: skip


@settings(derandomize=True, max_examples=500, deadline=None)
@given(data=st.data(), feed=st.sampled_from(sorted(VALID)))
def test_a_valid_event_with_one_field_replaced_is_accepted_only_when_sane(data, feed):
    """Each field of a valid example replaced by any JSON value or a hostile number: the
    result is refused, or accepted with finite numbers and its time inside the window."""
    original = VALID[feed]
    field = data.draw(st.sampled_from([*original, "stats", "line", "price_american"]))
    if data.draw(st.booleans()):
        text = orjson.dumps({**original, field: None}).decode()
        number = data.draw(hostile_number())
        if field == "stats":
            number = f'{{"home_shots_on_target":{number}}}'
        payload = text.replace(f'"{field}":null', f'"{field}":{number}').encode()
    else:
        payload = body({**original, field: data.draw(JSON)})
    parsed_or_refused(feed, payload)
