"""Event.from_clean_json builds exactly what model_validate_json builds from the JSON ingest
and the agents write, and checks nothing: it is for that JSON only."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import orjson
import pytest

from schemas import FEEDS, Alert, Event, GameEvent, OddsQuote, Prediction, Settlement, Sport
from schemas.feeds import InvalidEvent, parse_feed_event
from streamapp.replay.catalog import season_files, timeline
from tables.league_ratings import LeagueRatings
from tables.model_params import DEFAULT_PARAMS
from tests.fuzzing import valid_events
from tests.schemas.examples import GAME, QUOTE

SEASON = 2021


def assert_identical(decoded: Event, validated: Event) -> None:
    """The same object field for field: values of the same types (1.0 is not 1, an enum
    member is not its string, a time is in the same zone), the same fields set, the same
    JSON and repr."""
    assert type(decoded) is type(validated)
    assert list(decoded.__dict__) == list(validated.__dict__)
    for name, value in validated.__dict__.items():
        assert decoded.__dict__[name] == value, name
        assert type(decoded.__dict__[name]) is type(value), name
        if isinstance(value, datetime):
            assert decoded.__dict__[name].tzinfo is value.tzinfo, name
    assert decoded.model_fields_set == validated.model_fields_set
    assert decoded.__pydantic_extra__ == validated.__pydantic_extra__
    assert decoded.__pydantic_private__ == validated.__pydantic_private__
    assert decoded == validated
    assert decoded.to_json() == validated.to_json() and repr(decoded) == repr(validated)


def check(model: type[Event], clean: bytes) -> None:
    assert_identical(model.from_clean_json(clean), model.model_validate_json(clean))


def test_every_real_event_of_a_season_decodes_as_validation_makes_it(data_dir):
    checked: dict[str, int] = {}
    for raw in timeline(season_files(data_dir, SEASON), SEASON):
        feed = FEEDS[raw.feed]
        try:
            event = parse_feed_event(feed, raw.to_bytes())
        except InvalidEvent:
            continue  # never reaches a clean topic
        check(feed.model, event.to_json())
        checked[raw.feed] = checked.get(raw.feed, 0) + 1
    assert checked.keys() >= {"games", "odds", "boxscores"} and sum(checked.values()) > 100_000


def test_every_output_of_a_season_decodes_as_validation_makes_it(data_dir):
    state = LeagueRatings(Sport.SOCCER, "E0")
    outputs = []
    for raw in timeline([data_dir / "football-data" / f"E0_{SEASON}.csv"], SEASON):
        try:
            event = parse_feed_event(FEEDS[raw.feed], raw.to_bytes())
        except InvalidEvent:
            continue
        out = state.observe(event, DEFAULT_PARAMS, 0.005)
        outputs += [*out.predictions, *out.alerts, *out.settlements]
    assert {type(o) for o in outputs} == {Prediction, Alert, Settlement}
    for output in outputs:
        check(type(output), output.to_json())


def test_generated_events_of_every_feed_decode_as_validation_makes_them():
    # Lineups and injuries are rare in the real data; the fuzzer's valid events cover them.
    events = valid_events(random.Random(3), 3_000, datetime(2024, 3, 1, tzinfo=UTC))
    assert {e.feed for e in events} == set(FEEDS)
    for generated in events:
        model = FEEDS[generated.feed].model
        check(model, model.model_validate(generated.payload).to_json())


def test_times_and_numbers_come_out_as_validation_makes_them():
    # Not what to_json writes, but JSON a clean topic could hold from an older writer.
    clean = orjson.dumps({**GAME, "event_time": "2021-08-22T19:25:00+02:00", "home_score": 0,
                          "stats": {"home_shots": 4}})  # fmt: skip
    check(GameEvent, clean)
    check(OddsQuote, orjson.dumps({**QUOTE, "price_decimal": 3, "price_american": 200}))
    check(OddsQuote, orjson.dumps({**QUOTE, "price_american": 240, "extra": "ignored"}))


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"price_decimal": 0.5}, "a price below 1.001"),
        ({"price_american": 12}, "an American price in the gap"),
        ({"selection": "over"}, "a selection of another market"),
        ({"league": "E0|x"}, "a key separator in the league"),
        ({"event_id": "q\x00"}, "a control character"),
        ({"kind": "game"}, "another feed's kind"),
        ({"line": 1e9}, "a line out of range"),
    ],
)
def test_it_checks_nothing_so_it_is_for_clean_json_only(change, why):
    hostile = orjson.dumps({**QUOTE, "price_american": 240, **change})
    with pytest.raises(InvalidEvent):
        parse_feed_event(FEEDS["odds"], hostile)
    decoded = OddsQuote.from_clean_json(hostile)  # comes through regardless
    assert all(getattr(decoded, name) == value for name, value in change.items()), why


def test_it_refuses_json_without_a_required_field():
    with pytest.raises(ValueError, match="bookmaker"):
        OddsQuote.from_clean_json(orjson.dumps({k: v for k, v in QUOTE.items()
                                                if k != "bookmaker"}))  # fmt: skip
