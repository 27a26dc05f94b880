from __future__ import annotations

import orjson
import pytest

from schemas import GameEvent, Sport
from tables.elo import ELO_PARAMS, MEAN_RATING, regressed, updated_ratings
from tables.league_ratings import LeagueRatings
from tests.schemas.examples import GAME


def event(home: str, away: str, status: str, when: str, season="2021-22", score=None, gid=None):
    payload = {
        **GAME,
        "event_id": f"{home}-{away}:{status}",
        "game_id": gid or f"{home}-{away}",
        "home_team": home,
        "away_team": away,
        "status": status,
        "event_time": when,
        "season": season,
    }
    if score is None:
        payload.pop("home_score"), payload.pop("away_score")
    else:
        payload["home_score"], payload["away_score"] = score
    return GameEvent.model_validate(payload)


def test_fixture_then_result_then_affected_fixtures():
    state = LeagueRatings(Sport.SOCCER, "E0")
    assert state.observe(event("A", "B", "scheduled", "2021-08-01T00:00:00Z")) == ["A-B"]
    first = state.prediction_if_moved(
        "A-B", event("A", "B", "scheduled", "2021-08-01T00:00:00Z"), 0.005
    )
    assert first.p_home > first.p_away  # home advantage between equal teams
    assert state.observe(event("C", "A", "scheduled", "2021-08-02T00:00:00Z")) == ["C-A"]
    assert state.observe(event("D", "E", "scheduled", "2021-08-02T00:00:00Z")) == ["D-E"]
    affected = state.observe(event("A", "B", "final", "2021-08-08T17:00:00Z", score=(3, 0)))
    assert affected == ["C-A"]  # only upcoming games of A or B
    assert "A-B" not in state.upcoming
    expected = updated_ratings(
        Sport.SOCCER, MEAN_RATING, MEAN_RATING, 3, 0, ELO_PARAMS[Sport.SOCCER]
    )
    assert state.ratings == {"A": expected[0], "B": expected[1]}


def test_a_repeated_final_counts_once():
    state = LeagueRatings(Sport.SOCCER, "E0")
    final = event("A", "B", "final", "2021-08-08T17:00:00Z", score=(1, 0))
    state.observe(final)
    after_one = dict(state.ratings)
    assert state.observe(final) == []
    assert state.ratings == after_one


def test_small_moves_are_not_re_emitted():
    state = LeagueRatings(Sport.SOCCER, "E0")
    fixture = event("A", "B", "scheduled", "2021-08-01T00:00:00Z")
    state.observe(fixture)
    assert state.prediction_if_moved("A-B", fixture, 0.005) is not None
    assert state.prediction_if_moved("A-B", fixture, 0.005) is None


def test_new_season_regresses_ratings():
    state = LeagueRatings(Sport.SOCCER, "E0")
    state.observe(event("A", "B", "final", "2021-05-01T17:00:00Z", season="2020-21", score=(4, 0)))
    strong = state.ratings["A"]
    state.observe(event("B", "A", "scheduled", "2021-08-01T00:00:00Z", season="2021-22"))
    assert state.season == "2021-22"
    assert state.ratings["A"] == pytest.approx(regressed(strong, ELO_PARAMS[Sport.SOCCER]))


def test_state_survives_a_json_round_trip():
    state = LeagueRatings(Sport.NBA, "NBA")
    state.observe(event("A", "B", "scheduled", "2021-08-01T00:00:00Z"))
    state.observe(event("C", "D", "final", "2021-08-01T03:00:00Z", score=(100, 90)))
    again = LeagueRatings.from_dict(orjson.loads(orjson.dumps(state.to_dict())))
    assert again.to_dict() == state.to_dict()


def test_a_finished_game_scores_its_last_pregame_prediction():
    state = LeagueRatings(Sport.SOCCER, "E0")
    fixture = event("A", "B", "scheduled", "2021-08-01T00:00:00Z")
    state.observe(fixture)
    p = state.prediction_if_moved("A-B", fixture, 0.005)
    state.observe(event("A", "B", "final", "2021-08-08T17:00:00Z", score=(2, 0)))
    assert state.scored == 1
    assert state.brier == pytest.approx((p.p_home - 1) ** 2 + p.p_draw**2 + p.p_away**2)


def test_a_fixture_delivered_again_after_its_result_is_ignored():
    state = LeagueRatings(Sport.SOCCER, "E0")
    fixture = event("A", "B", "scheduled", "2021-08-01T00:00:00Z")
    state.observe(fixture)
    state.observe(event("A", "B", "final", "2021-08-08T17:00:00Z", score=(2, 0)))
    assert state.observe(fixture) == [] and state.upcoming == {}
