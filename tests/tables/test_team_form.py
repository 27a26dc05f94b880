"""Team form against a hand-computed example: Arsenal's first games of 2020/21."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas import GameEvent
from streamapp.replay.football_data import read_football_data
from tables.team_form import form_features, record_result, streak


@pytest.fixture
def arsenal(data_dir):
    state = None
    for event in read_football_data(data_dir / "football-data" / "E0_2021.csv"):
        p = event.payload
        if (
            event.feed == "games"
            and p["status"] == "final"
            and "Arsenal" in (p["home_team"], p["away_team"])
        ):
            state = record_result(state, GameEvent.model_validate(p), "Arsenal")
    return state


def test_features_before_the_man_city_game(arsenal):
    # Fulham 0-3 Arsenal (12 Sep), Arsenal 2-1 West Ham (19 Sep), Liverpool 3-1 Arsenal
    # (28 Sep), Arsenal 2-1 Sheffield United (4 Oct, 14:00 BST); Man City kick off 17 Oct 17:30 BST.
    before = datetime(2020, 10, 17, 16, 30, tzinfo=UTC)
    f = form_features(arsenal, before, soccer_points=True)
    assert f["games_played"] == 4
    assert f["last3"] == {
        "games": 3, "wins": 2, "draws": 0, "losses": 1,
        "for": 5 / 3, "against": 5 / 3, "margin": 0.0, "points": 2.0,
    }  # fmt: skip
    assert f["last5"] == f["season"]
    assert (f["season"]["for"], f["season"]["against"], f["season"]["points"]) == (2.0, 1.25, 2.25)
    assert f["streak"] == "W1"
    assert f["days_rest"] == pytest.approx(13 + 3.5 / 24)
    assert f["back_to_back"] is False


def test_only_games_before_the_moment_count(arsenal):
    assert len(arsenal["games"]) == 38
    opening_day = datetime(2020, 9, 12, 11, 30, tzinfo=UTC)
    assert form_features(arsenal, opening_day)["games_played"] == 0
    assert form_features(arsenal, datetime(2021, 6, 1, tzinfo=UTC))["games_played"] == 38


def test_a_corrected_final_replaces_the_old_one(arsenal):
    last = arsenal["games"][-1]
    assert [g["game_id"] for g in arsenal["games"]].count(last["game_id"]) == 1


def test_streaks():
    def games(*results):
        return [{"for": f, "against": a} for f, a in results]

    assert streak(games((1, 0), (0, 0), (2, 1), (3, 0))) == "W2"
    assert streak(games((0, 1))) == "L1"
    assert streak([]) == ""


def test_back_to_back_in_the_nba():
    state = None
    for day, score in ((1, (100, 90)), (2, (95, 99))):
        game = GameEvent.model_validate({
            "event_id": f"g{day}:final", "event_time": f"2021-01-0{day}T03:00:00Z",
            "sport": "nba", "league": "NBA", "game_id": f"g{day}", "season": "2020-21",
            "home_team": "LAL", "away_team": f"T{day}", "start_time": f"2021-01-0{day}T00:00:00Z",
            "status": "final", "home_score": score[0], "away_score": score[1],
        })  # fmt: skip
        state = record_result(state, game, "LAL")
    f = form_features(state, datetime(2021, 1, 3, tzinfo=UTC))
    assert f["back_to_back"] is True and f["days_rest"] == 1.0 and f["streak"] == "L1"
    assert "points" not in f["last3"]
