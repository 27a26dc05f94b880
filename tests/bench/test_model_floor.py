"""The model floor: the pure per-event steps of the pipeline timed alone, and the ceiling
their sum puts on any runtime."""

from __future__ import annotations

import pytest

from bench.model_floor import ModelFloor, measure_model_floor, raw_messages, validate_each
from streamapp.replay.catalog import season_files, timeline


@pytest.fixture
def season_start(data_dir):
    return timeline(season_files(data_dir, 2021), 2021)[:3_000]


def test_the_ceiling_is_what_validate_observe_and_book_leave_of_a_second():
    floor = ModelFloor(10, {"validate": 10.0, "decode": 7.0, "observe": 25.0, "book": 15.0})

    assert floor.floor_us_per_event == 50.0  # decode is per agent reading a topic: not in it
    assert floor.ceiling_eps == pytest.approx(20_000)
    assert floor.to_dict()["ceiling_eps"] == pytest.approx(20_000)
    assert "validate 10.0 + observe 25.0 + book 15.0 = 50.0 µs" in floor.summary()


def test_every_step_is_timed_over_the_seasons_game_and_odds_events(season_start):
    floor = measure_model_floor(season_start, repeat=1)

    assert floor.events == sum(e.feed in ("games", "odds") for e in season_start) > 2_000
    assert set(floor.us_per_event) == {"validate", "decode", "observe", "book"}
    assert all(us > 0 for us in floor.us_per_event.values())


def test_validation_leaves_out_what_ingest_dead_letters(season_start):
    messages = raw_messages(season_start)
    feed, key, value = messages[0]
    wrong_key = (feed, b"soccer:XX", value)  # synthetic: keyed by a league it is not of

    assert validate_each([*messages, wrong_key]) == validate_each(messages) > 2_000
