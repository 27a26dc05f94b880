from __future__ import annotations

from datetime import timedelta

import pytest

from schemas import InjuryReport, LineupConfirmation, PlayerBoxScore
from tables.availability import apply_injury, apply_lineup
from tables.keys import partition_of, table_key
from tables.player_form import (
    player_features,
    record_line,
    record_team_game,
    teammate_boosts,
    usage_share,
)
from tables.stats import summary, trend
from tables.strengths import expected_goals, updated_strengths
from tests.schemas.examples import BOXSCORE, INJURY, LINEUP

HOUR = timedelta(hours=1)


def line(player: str, game: int, minutes: float, pts: int, fga: int) -> PlayerBoxScore:
    fgm = pts // 2
    return PlayerBoxScore.model_validate({
        **BOXSCORE, "event_id": f"{player}:{game}", "game_id": f"g{game}", "player_id": player,
        "player_name": player, "event_time": f"2021-05-{10 + game:02d}T03:00:00Z",
        "minutes": minutes, "pts": 2 * fgm, "fgm": fgm, "fga": max(fga, fgm), "fg3m": 0,
        "fg3a": 0, "ftm": 0, "fta": 0, "reb": 0, "oreb": 0, "dreb": 0, "ast": 0,
    })  # fmt: skip


def test_summary_and_trend():
    s = summary([10, 20, 30])
    assert (s["mean"], s["min"], s["max"], s["trend"]) == (20, 10, 30, 10)
    assert summary([]) is None and trend([5]) == 0.0


def test_player_rolling_stats_usage_and_teammate_boost():
    player, team = None, None
    # The star (S) plays games 1-3 and misses 4-5; the role player (R) scores more without him.
    for game in range(1, 6):
        star_plays = game <= 3
        lines = [line("R", game, 30, 10 if star_plays else 20, 10 if star_plays else 20)]
        lines.append(
            line(
                "S", game, 36 if star_plays else 0, 30 if star_plays else 0, 25 if star_plays else 0
            )
        )
        for entry in lines:
            team = record_team_game(team, entry)
        player = record_line(player, lines[0])
    features = player_features(player, team)
    assert features["games_played"] == 5
    assert features["pts"]["last3"]["mean"] == pytest.approx((10 + 20 + 20) / 3)
    assert features["pts"]["season"]["trend"] > 0
    assert usage_share(team["games"]["g4"], "R") == 1.0
    [boost] = teammate_boosts("R", player, team)
    assert boost["teammate"] == "S" and boost["games_without"] == 2
    assert boost["pts"] == pytest.approx(20 - 10)


def test_injury_history_records_changes_only():
    report = InjuryReport.model_validate(INJURY)
    state = apply_injury(None, report)
    state = apply_injury(state, report.model_copy(update={"event_id": "i2"}))
    out = InjuryReport.model_validate({**INJURY, "event_id": "i3", "status": "OUT"})
    state = apply_injury(state, out)
    player = state["players"]["2544"]
    assert player["status"] == "OUT"
    assert [h["status"] for h in player["history"]] == ["QUESTIONABLE", "OUT"]


def test_lineup_changes_are_kept():
    lineup = LineupConfirmation.model_validate(LINEUP)
    state = apply_lineup(None, lineup)
    swapped = lineup.model_copy(update={"players": lineup.players[:1]})
    state = apply_lineup(state, swapped)
    assert len(state["teams"]["DEN"]["history"]) == 2


def test_an_older_report_or_lineup_sent_again_after_a_restart_changes_nothing():
    """At-least-once upstream: the copies of a QUESTIONABLE then OUT pair, sent again after
    the OUT, must not put QUESTIONABLE back (nor a swapped lineup's old starters)."""
    questionable = InjuryReport.model_validate(INJURY)
    out = InjuryReport.model_validate(
        {**INJURY, "event_id": "i2", "status": "OUT", "event_time": "2021-05-20T19:00:00Z"}
    )
    state = apply_injury(apply_injury(None, questionable), out)
    again = apply_injury(apply_injury(state, questionable), out)
    assert again == state
    assert [h["status"] for h in again["players"]["2544"]["history"]] == ["QUESTIONABLE", "OUT"]
    lineup = LineupConfirmation.model_validate(LINEUP)
    swapped = lineup.model_copy(
        update={"players": lineup.players[:1], "event_time": lineup.event_time + HOUR}
    )
    game = apply_lineup(apply_lineup(None, lineup), swapped)
    assert apply_lineup(apply_lineup(game, lineup), swapped) == game
    assert len(game["teams"]["DEN"]["history"]) == 2


def test_strengths_move_toward_results():
    goals = {"home": 1.5, "away": 1.2}
    strengths, new_goals = updated_strengths({}, goals, "A", "B", 4, 0)
    assert strengths["A"]["attack"] > 1 and strengths["B"]["defence"] > 1
    assert strengths["A"]["defence"] < 1 and new_goals["home"] > goals["home"]
    home, away = expected_goals(strengths, new_goals, "A", "B")
    assert home > new_goals["home"] and away < new_goals["away"]


def test_table_keys_start_with_the_league():
    key = table_key("soccer:E0", "Arsenal")
    assert key == "soccer:E0|Arsenal" and partition_of(key) == "soccer:E0"
    with pytest.raises(ValueError, match="sport:league"):
        partition_of("Arsenal")
