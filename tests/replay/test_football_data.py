from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from streamapp.replay.football_data import kickoff, read_football_data, season_from_file


@pytest.fixture
def e0_2122(data_dir):
    return list(read_football_data(data_dir / "football-data" / "E0_2122.csv"))


def test_one_fixture_and_one_final_per_match(e0_2122):
    statuses = Counter(e.payload["status"] for e in e0_2122 if e.feed == "games")
    assert statuses == {"scheduled": 380, "final": 380}


def test_first_match_of_the_file(e0_2122):
    gid = "E0-2021-22-brentford-arsenal"
    events = {e.payload["event_id"]: e for e in e0_2122 if e.game_id == gid}
    start = datetime(2021, 8, 13, 19, 0, tzinfo=UTC)  # 20:00 in London (BST)
    fixture = events[f"{gid}:scheduled"]
    assert fixture.payload["start_time"] == start
    assert fixture.event_time == start - timedelta(days=7)
    opening = events[f"{gid}:open:pinnacle:moneyline:home"]
    closing = events[f"{gid}:close:pinnacle:moneyline:home"]
    assert (opening.payload["price_decimal"], closing.payload["price_decimal"]) == (4.05, 3.94)
    assert opening.event_time < closing.event_time < start
    assert events[f"{gid}:close:market_max:moneyline:draw"].payload["price_decimal"] == 3.5
    assert events[f"{gid}:open:bet365:total:over"].payload["line"] == 2.5
    handicap = events[f"{gid}:open:pinnacle:spread:home"].payload
    assert (handicap["line"], handicap["price_decimal"]) == (0.5, 1.88)
    final = events[f"{gid}:final"].payload
    assert (final["home_score"], final["away_score"]) == (2, 0)
    assert final["stats"]["home_shots"] == 8 and final["stats"]["away_shots_on_target"] == 4


def test_every_bookmaker_and_market_present(e0_2122):
    odds = Counter(
        (e.payload["bookmaker"], e.payload["market"]) for e in e0_2122 if e.feed == "odds"
    )
    for book in ("pinnacle", "bet365", "market_avg", "market_max"):
        assert odds[(book, "moneyline")] >= 380 * 3 * 2 - 10
        assert odds[(book, "total")] >= 380 * 2 * 2 - 10
        assert odds[(book, "spread")] >= 380 * 2 * 2 - 10


def test_old_files_use_two_digit_years_and_bb_columns(data_dir):
    events = list(read_football_data(data_dir / "football-data" / "E0_1213.csv"))
    books = {e.payload["bookmaker"] for e in events if e.feed == "odds"}
    assert books == {"pinnacle", "bet365", "market_avg", "market_max"}
    first = next(e for e in events if e.feed == "games")
    assert first.payload["start_time"] == datetime(2012, 8, 18, 14, 0, tzinfo=UTC)


def test_season_filter_and_names(data_dir):
    path = data_dir / "football-data" / "E0_2122.csv"
    assert season_from_file(path) == "2021-22"
    assert list(read_football_data(path, season_end=2021)) == []
    assert kickoff({"Date": "01/01/22", "Time": ""}).hour == 15
