"""The model floor: the pure per-event steps of the pipeline timed alone, and the ceiling
their sum puts on any runtime, in the units of pipeline_eps."""

from __future__ import annotations

import pytest

from bench import model_floor
from bench.micro_hotpath import book_all, clean_stream, decode_trusted, observe_all
from bench.model_floor import ModelFloor, measure_model_floor, raw_messages, validate_each
from streamapp.replay.catalog import season_files, timeline
from streamapp.settings import Settings


@pytest.fixture(scope="module")
def season_sample():
    """The season's first 3,000 real events and its first box scores (not timed)."""
    season = timeline(season_files(Settings().data_dir, 2021), 2021)
    return [*season[:3_000], *[e for e in season if e.feed == "boxscores"][:20]]


def test_the_ceiling_spreads_validate_observe_and_book_over_every_replayed_event():
    seconds = {"validate": 0.2, "decode": 0.14, "observe": 0.5, "book": 0.3}
    floor = ModelFloor(replayed=21_000, game_and_odds=20_000, seconds=seconds)

    assert floor.us_per_event("validate") == pytest.approx(10.0)
    # decode is per agent reading a clean topic: not in the floor
    assert floor.floor_us_per_event == pytest.approx(50.0)
    assert floor.ceiling_eps == pytest.approx(21_000)  # replayed events per floor second
    assert floor.to_dict()["ceiling_eps"] == pytest.approx(21_000)
    assert "validate 10.0 + observe 25.0 + book 15.0 = 50.0 µs" in floor.summary()


def test_each_step_runs_over_the_game_and_odds_events_only(season_sample, monkeypatch):
    ran: dict[str, object] = {}

    def once(step, repeat):
        ran[len(ran)] = step()
        return 1.0

    monkeypatch.setattr(model_floor, "best_cpu_seconds", once)
    floor = measure_model_floor(season_sample)
    games_and_odds = sum(e.feed in ("games", "odds") for e in season_sample)

    assert floor.replayed == len(season_sample) > games_and_odds == floor.game_and_odds
    assert list(floor.seconds) == ["validate", "decode", "observe", "book"]
    validated, decoded, (outputs, leagues), (emitted, books, _) = ran.values()
    assert validated == games_and_odds  # every real message here passes ingest
    assert decoded is None and outputs == [] and emitted == []  # nothing kept
    assert leagues and len(books) > 100
    assert floor.ceiling_eps == pytest.approx(len(season_sample) / 3)


def test_validation_leaves_out_what_ingest_dead_letters(season_sample):
    messages = raw_messages(season_sample)
    feed, _, value = messages[0]
    wrong_key = (feed, b"soccer:XX", value)  # synthetic: keyed by a league it is not of

    assert validate_each([*messages, wrong_key]) == validate_each(messages) == len(messages)


def test_without_its_outputs_kept_the_state_is_the_same(season_sample):
    events = decode_trusted(clean_stream(season_sample))
    kept, leagues = observe_all(events)
    none_kept, same_leagues = observe_all(events, keep_outputs=False)
    emitted, books, logs = book_all(events)

    assert kept and none_kept == []
    assert {k: v.to_dict() for k, v in leagues.items()} == {
        k: v.to_dict() for k, v in same_leagues.items()
    }
    assert emitted and book_all(events, keep_outputs=False) == ([], books, logs)
