"""Prop projections on real playoff box scores: the 2021 Lakers, where Anthony Davis missed
game 5 against Phoenix (LeBron James's numbers with and without him are in the data)."""

from __future__ import annotations

import pytest

from schemas import PlayerBoxScore
from streamapp.replay.boxscores import read_boxscores
from tables.player_form import record_line, record_team_game
from tables.props import (
    PROP_STATS,
    largest_move,
    next_opponent,
    opponent_factors,
    project,
    roster,
)

DAVIS, LEBRON = "203076", "2544"


@pytest.fixture
def lakers(data_dir):
    players, team = {}, None
    path = data_dir / "nba-boxscores" / "playoffs.csv"
    for event in read_boxscores(path, data_dir / "moneylines" / "nba.csv", season_end=None):
        line = PlayerBoxScore.model_validate(event.payload)
        if line.team != "LAL":
            continue
        players[line.player_id] = record_line(players.get(line.player_id), line)
        team = record_team_game(team, line)
    return players, team


def test_an_absent_teammate_moves_the_projection_by_a_shrunk_with_without_gap(lakers):
    # LeBron's points in the games he played (27: the 2020 playoffs and 2021 v PHX) sum to
    # 720; the last five are 23, 21, 25, 24, 29 (122) and the last ten 261, so his form is
    # 0.5 x 24.4 + 0.3 x 26.1 + 0.2 x 720 / 27 = 25.363333.
    # Davis missed one of them (game 5 v PHX, LeBron 24): without - with = 24 - 696 / 26 =
    # -2.769231, shrunk by 1 / (1 + 3) games: -0.692308. So his points FALL without Davis,
    # to 24.671026; DOUBTFUL (a 0.75 chance he misses) moves them by 0.75 x that: 24.844103.
    # Threes rise: 62 in all, 6 that game; form 0.5 x 3.0 + 0.3 x 2.8 + 0.2 x 62 / 27 =
    # 2.799259, plus (6 - 56 / 26) / 4 = 0.961538: 3.760798.
    # Rebounds move most: 269 in all, 5 that game: (5 - 264 / 26) / 4 = -1.288462.
    players, team = lakers
    assert LEBRON in roster(team) and next_opponent(team) == "PHX"
    healthy = project(players[LEBRON], team, {})
    without_davis = project(players[LEBRON], team, {DAVIS: "OUT"})
    doubtful = project(players[LEBRON], team, {DAVIS: "DOUBTFUL"})
    assert healthy["pts"] == pytest.approx(25.363333, abs=1e-6)
    assert without_davis["pts"] == pytest.approx(24.671026, abs=1e-6)
    assert doubtful["pts"] == pytest.approx(24.844103, abs=1e-6)
    assert healthy["fg3m"] == pytest.approx(2.799259, abs=1e-6)
    assert without_davis["fg3m"] == pytest.approx(3.760798, abs=1e-6)
    stat, move = largest_move(healthy, without_davis)
    assert stat == "reb" and move == pytest.approx(-1.288462, abs=1e-6)


def test_an_injured_player_projects_to_nothing(lakers):
    players, team = lakers
    assert project(players[DAVIS], team, {DAVIS: "OUT"}) == dict.fromkeys(PROP_STATS, 0.0)
    assert project(players[DAVIS], team, {})["pts"] > 10


def test_opponent_factor_is_the_teams_output_against_it_relative_to_all_games(lakers):
    _, team = lakers
    factors = opponent_factors(team, "PHX")
    assert set(factors) == set(PROP_STATS)
    assert all(0.5 < f < 1.5 for f in factors.values())
    # The Lakers' 53 games score 5,355 points (101.037736 a game), the 6 v PHX 585 (97.5);
    # shrunk by 6 / (6 + 5): 1 + 6/11 x (97.5 / 101.037736 - 1) = 0.980901
    assert factors["pts"] == pytest.approx(0.980901, abs=1e-6)
    assert opponent_factors(team, "nobody") == dict.fromkeys(PROP_STATS, 1.0)
