from __future__ import annotations

from schemas.base import Sport
from streamapp.connectors.leagues import (
    League,
    espn_league,
    espn_league_of_uid,
    odds_api_league,
)


def test_espn_paths_map_to_the_history_leagues():
    assert espn_league("soccer/eng.1") == League(Sport.SOCCER, "E0")
    assert espn_league("esp.1") == League(Sport.SOCCER, "SP1")
    assert espn_league("soccer/ita.1").code == "I1"
    assert espn_league("soccer/ger.1").code == "D1"
    assert espn_league("soccer/fra.1").code == "F1"
    assert espn_league("basketball/nba") == League(Sport.NBA, "NBA")
    assert espn_league("football/nfl") == League(Sport.NFL, "NFL")
    assert espn_league("hockey/nhl") == League(Sport.NHL, "NHL")


def test_odds_api_sport_keys_map_to_the_history_leagues():
    assert odds_api_league("soccer_epl").code == "E0"
    assert odds_api_league("soccer_spain_la_liga").code == "SP1"
    assert odds_api_league("soccer_italy_serie_a").code == "I1"
    assert odds_api_league("soccer_germany_bundesliga").code == "D1"
    assert odds_api_league("soccer_france_ligue_one").code == "F1"
    assert odds_api_league("basketball_nba") == League(Sport.NBA, "NBA")
    assert odds_api_league("americanfootball_nfl") == League(Sport.NFL, "NFL")
    assert odds_api_league("icehockey_nhl") == League(Sport.NHL, "NHL")


def test_leagues_not_followed_are_none():
    assert odds_api_league("soccer_uefa_champs_league") is None
    assert odds_api_league("mma_mixed_martial_arts") is None
    assert espn_league("soccer/fifa.world") is None
    assert espn_league("baseball/mlb") is None


def test_the_league_of_a_multi_league_scoreboard_event_comes_from_its_uid():
    # soccer/all capture: an EPL game, and a women's super league game with "Arsenal".
    assert espn_league_of_uid("s:600~l:700~e:740898").code == "E0"
    assert espn_league_of_uid("s:600~l:8097~e:754397") is None
    assert espn_league_of_uid("s:40~l:46~e:401810723").code == "NBA"
