from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from schemas.game import GameStatus
from streamapp.connectors.espn import (
    game_status,
    parse_injuries,
    parse_scoreboard,
    parse_summary,
    roster_players,
)
from streamapp.connectors.exceptions import ResponseFormatError
from streamapp.connectors.leagues import NBA, NHL
from tests.connectors.conftest import capture, fetched_at

SOCCER_ALL = "espn/scoreboard_soccer_all_2026-03-21_fulltime-incl-POSTPONED-eng.1.json"
WORLD_CUP_LIVE = "espn/scoreboard_soccer_fifa.world_2026-07-03T2009Z_overtime-live-pen-aet.json"
WORLD_CUP_FINAL = "espn/scoreboard_soccer_fifa.world_2026-07-19T2213Z_all-final.json"
MLB = "espn/scoreboard_baseball_mlb_2025-09-27_RAIN_DELAY-live-final.json"
NHL_BOARD = "espn/scoreboard_hockey_nhl_2022-09-25_live-final-ot-scheduled.json"
NBA_BOARD = "espn/scoreboard_basketball_nba_2026-03-01_scheduled-with-odds.json"
NFL_WEEK1 = "espn/scoreboard_football_nfl_2022-09-11_week1-live-final-scheduled.json"
LAC_AT_MIN = "espn/summary_basketball_nba_LAC-at-MIN_in-progress_2025-01-07.json"
BOS_AT_IND = "espn/summary_basketball_nba_BOS-at-IND_final_2024-01-09.json"
MNC_AT_ARS = "espn/summary_soccer_eng.1_MNC-at-ARS_pre-match_rosters_2025-09-21.json"
COD_AT_ENG = "espn/summary_soccer_fifa.world_COD-at-ENG_in-progress_rosters_2026-07-01.json"


def scoreboard(name):
    return parse_scoreboard(capture(name), fetched_at(name))


def games(name):
    return {event.game_id: event for event in scoreboard(name).events}


def status_types(name):
    return {e["id"]: e["status"]["type"] for e in orjson.loads(capture(name))["events"]}


def test_soccer_full_time_is_final_with_string_scores_read_as_numbers():
    game = games(SOCCER_ALL)["E0-2025-26-brighton-liverpool"]  # LIV @ BHA, FT 2-1
    assert (game.status, game.home_score, game.away_score) == (GameStatus.FINAL, 2, 1)
    assert game.start_time == datetime(2026, 3, 21, 12, 45, tzinfo=UTC)  # "…T12:45Z"


def test_postponed_is_post_but_not_final_and_has_no_score():
    game = games(SOCCER_ALL)["E0-2025-26-man-city-crystal-palace"]  # CRY @ MNC
    assert (game.status, game.home_score, game.away_score) == (GameStatus.POSTPONED, None, None)


def test_multi_league_scoreboard_keeps_only_followed_leagues():
    parsed = scoreboard(SOCCER_ALL)
    assert {e.league for e in parsed.events} == {"E0", "SP1", "D1", "I1", "F1"}
    # The women's super league's "Arsenal" and "Manchester City" are not the EPL's.
    assert "league of 's:600~l:8097~e:754399' is not followed" in [s.reason for s in parsed.skipped]
    assert "espn: unknown team 'Real Oviedo' in SP1" in [s.reason for s in parsed.skipped]


def test_soccer_finals_after_extra_time_and_penalties_are_final():
    types = status_types(WORLD_CUP_FINAL)
    assert types["760489"]["name"] == "STATUS_FINAL_PEN"  # PAR @ GER, 1-1, PAR on pens
    assert game_status(types["760489"]) is GameStatus.FINAL
    assert types["760493"]["name"] == "STATUS_FINAL_AET"
    assert game_status(types["760493"]) is GameStatus.FINAL
    assert game_status(types["760486"]) is GameStatus.FINAL  # STATUS_FULL_TIME


def test_overtime_halftime_and_rain_delay_are_in_progress():
    assert game_status(status_types(WORLD_CUP_LIVE)["760499"]) is GameStatus.IN_PROGRESS
    rain = status_types(MLB)["401697309"]
    assert (rain["name"], rain["state"]) == ("STATUS_RAIN_DELAY", "in")
    assert game_status(rain) is GameStatus.IN_PROGRESS


def test_world_cup_is_not_followed_and_knockout_pseudo_teams_are_skipped_with_a_reason():
    parsed = scoreboard(WORLD_CUP_LIVE)
    assert parsed.events == []
    reasons = {s.item: s.reason for s in parsed.skipped}
    assert reasons["event 760512"] == "teams not known yet: 'Round of 16 3 Winner'"
    assert reasons["event 760486"] == "league of 's:600~l:606~e:760486' is not followed"


def test_nhl_overtime_final_and_live_scores():
    board = games(NHL_BOARD)
    ot = board["nhl-20220925-pit-cbj"]  # "Final/OT", period 4
    assert (ot.status, ot.home_score, ot.away_score) == (GameStatus.FINAL, 3, 2)
    live = board["nhl-20220925-edm-wpg"]
    assert (live.status, live.home_score, live.away_score) == (GameStatus.IN_PROGRESS, 1, 0)


def test_a_scheduled_game_has_no_score_although_espn_sends_zero():
    game = games(NBA_BOARD)["nba-20260301-lac-no"]  # NO @ LAC, 2026-03-02T02:00Z = 21:00 ET
    assert (game.status, game.home_score, game.home_team) == (GameStatus.SCHEDULED, None, "LAC")
    assert game.season == "2025-26"


def test_nfl_home_and_away_come_from_home_away():
    game = games(NFL_WEEK1)["nfl-20220911-mia-ne"]
    assert (game.home_team, game.away_team, game.home_score, game.away_score) == (
        "MIA",
        "NE",
        20,
        7,
    )


def test_summary_gives_starters_as_lineups():
    name = LAC_AT_MIN
    parsed = parse_summary(capture(name), fetched_at(name))
    lineups = {e.team: e for e in parsed.events if e.kind == "lineup"}
    clippers = [p.player_name for p in lineups["LAC"].players if p.starter]
    assert clippers == [
        "Kawhi Leonard",
        "Ivica Zubac",
        "James Harden",
        "Norman Powell",
        "Kris Dunn",
    ]
    assert lineups["LAC"].game_id == "nba-20250106-min-lac"
    assert not [e for e in parsed.events if e.kind == "boxscore"]  # not final yet


def test_a_final_nba_summary_gives_box_scores_with_string_stats_split():
    name = BOS_AT_IND
    events = parse_summary(capture(name), fetched_at(name)).events
    [game] = [e for e in events if e.kind == "game"]
    assert (game.status, game.home_score, game.away_score) == (GameStatus.FINAL, 133, 131)
    lines = {e.player_name: e for e in events if e.kind == "boxscore"}
    horford = lines["Al Horford"]  # '32','4-5','3-4','0-0',...,'-9','11'
    assert (horford.minutes, horford.fgm, horford.fga, horford.fg3m, horford.fg3a) == (
        32,
        4,
        5,
        3,
        4,
    )
    assert (horford.pts, horford.plus_minus, horford.team, horford.opponent) == (
        11,
        -9,
        "BOS",
        "IND",
    )
    stevens = lines["Lamar Stevens"]
    assert (stevens.minutes, stevens.pts, stevens.dnp_reason) == (0, 0, "COACH'S DECISION")


def test_summary_injuries_are_current_at_fetch_time_not_tied_to_the_game():
    name = BOS_AT_IND
    injuries = [
        e for e in parse_summary(capture(name), fetched_at(name)).events if e.kind == "injury"
    ]
    assert injuries and all(e.game_id is None for e in injuries)
    luis = next(e for e in injuries if e.player_name == "RJ Luis Jr.")
    assert (luis.team, luis.status.value) == ("BOS", "QUESTIONABLE")  # Day-To-Day, GTD
    assert luis.event_time == datetime(2025, 8, 5, 20, 24, tzinfo=UTC)


def test_injury_blocks_with_an_empty_team_list():
    block = orjson.loads(capture("espn/injuries_block_of_summary_nhl_CBJ-at-WSH_2023-11-19.json"))
    [ovechkin] = parse_injuries(block, NHL).events
    assert (ovechkin.team, ovechkin.player_id, ovechkin.status.value) == (
        "WSH",
        "3101",
        "QUESTIONABLE",
    )
    block = orjson.loads(capture("espn/injuries_block_of_summary_nba_LAC-at-MIN_2025-01-07.json"))
    assert {(e.team, e.player_name, e.status.value) for e in parse_injuries(block, NBA).events} == {
        ("MIN", "Rob Dillingham", "OUT"),
        ("LAC", "P.J. Tucker", "OUT"),
    }


def test_an_empty_pre_match_roster_gives_no_lineup():
    name = MNC_AT_ARS
    events = parse_summary(capture(name), fetched_at(name)).events
    [game] = events  # the scheduled game only; header scores are absent
    assert (game.game_id, game.status, game.home_score) == (
        "E0-2025-26-arsenal-man-city", GameStatus.SCHEDULED, None)  # fmt: skip


def test_soccer_roster_starters():
    # The only published soccer roster is a World Cup game (not followed): read its roster.
    summary = orjson.loads(capture(COD_AT_ENG))
    england = roster_players(summary["rosters"][0]["roster"])
    starters = [(p.player_name, p.position) for p in england if p.starter]
    assert len(starters) == 11
    assert starters[:2] == [("Jordan Pickford", "G"), ("Marc Guéhi", "CD-L")]
    assert ("Trevoh Chalobah", False) in [(p.player_name, p.starter) for p in england]


@pytest.mark.parametrize("body", [b"[]", b"{", b'{"events": "x"}', b'{"leagues": []}'])
def test_an_unparseable_scoreboard_raises_response_format_error(body):
    with pytest.raises(ResponseFormatError):
        parse_scoreboard(body, datetime(2026, 1, 1, tzinfo=UTC))


def test_a_malformed_event_is_skipped_and_the_others_kept():
    board = orjson.loads(capture(NHL_BOARD))
    board["events"].insert(0, "not an event")
    parsed = parse_scoreboard(orjson.dumps(board), fetched_at(NHL_BOARD))
    assert len(parsed.events) == 10
    assert parsed.skipped[0].reason.startswith("malformed event")
