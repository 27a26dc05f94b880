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


def test_an_absent_high_usage_teammate_raises_the_projection(lakers):
    players, team = lakers
    assert LEBRON in roster(team) and next_opponent(team) == "PHX"
    healthy = project(players[LEBRON], team, {})
    without_davis = project(players[LEBRON], team, {DAVIS: "OUT"})
    doubtful = project(players[LEBRON], team, {DAVIS: "DOUBTFUL"})
    assert without_davis["pts"] != healthy["pts"]
    # DOUBTFUL weighs the same boost by the chance he misses: between the two
    assert min(healthy["pts"], without_davis["pts"]) <= doubtful["pts"]
    assert doubtful["pts"] <= max(healthy["pts"], without_davis["pts"])
    stat, move = largest_move(healthy, without_davis)
    assert stat in PROP_STATS and move == without_davis[stat] - healthy[stat]


def test_an_injured_player_projects_to_nothing(lakers):
    players, team = lakers
    assert project(players[DAVIS], team, {DAVIS: "OUT"}) == dict.fromkeys(PROP_STATS, 0.0)
    assert project(players[DAVIS], team, {})["pts"] > 10


def test_opponent_factor_is_the_teams_output_against_it_relative_to_all_games(lakers):
    _, team = lakers
    factors = opponent_factors(team, "PHX")
    assert set(factors) == set(PROP_STATS)
    assert all(0.5 < f < 1.5 for f in factors.values())
    assert opponent_factors(team, "nobody") == dict.fromkeys(PROP_STATS, 1.0)
