from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from schemas import FEEDS, parse_feed_event
from streamapp.replay.boxscores import minutes_played, read_boxscores
from streamapp.replay.moneylines import read_moneylines


def test_nba_moneylines_become_fixture_quotes_and_final(data_dir):
    events = list(read_moneylines(data_dir / "moneylines" / "nba.csv", season_end=2021))
    game = [e for e in events if e.game_id == "nba-401307882"]  # CHI 118-112 MIL, 16-05-2021
    assert [e.feed for e in game] == ["games", "odds", "odds", "games"]
    fixture, home, away, final = (e.payload for e in game)
    assert (fixture["home_team"], fixture["away_team"], fixture["season"]) == (
        "CHI",
        "MIL",
        "2020-21",
    )
    assert fixture["start_time"] == datetime(2021, 5, 17, 0, 0, tzinfo=UTC)
    assert (home["price_american"], away["price_american"]) == (227, -274)
    assert (final["home_score"], final["away_score"]) == (118, 112)
    seasons = {e.payload["season"] for e in events if e.feed == "games"}
    assert seasons == {"2020-21"}


def test_every_real_us_event_is_valid(data_dir):
    for sport in ("nba", "nfl", "nhl"):
        for event in read_moneylines(data_dir / "moneylines" / f"{sport}.csv", season_end=2021):
            parse_feed_event(FEEDS[event.feed], event.to_bytes())


def test_box_scores_join_the_moneyline_game_ids(data_dir):
    events = list(
        read_boxscores(
            data_dir / "nba-boxscores" / "playoffs.csv",
            data_dir / "moneylines" / "nba.csv",
            season_end=2021,
        )
    )
    assert len(events) == 2518
    assert not [e for e in events if e.game_id.startswith("nba-stats-")]
    teams = Counter(e.payload["team"] for e in events)
    assert "GS" in teams or "UTAH" in teams  # ESPN spellings, as in the game events
    for event in events:
        parse_feed_event(FEEDS["boxscores"], event.to_bytes())


def test_minutes():
    assert minutes_played("34:30") == 34.5
    assert minutes_played("") == 0.0
