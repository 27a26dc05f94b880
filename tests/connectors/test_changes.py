from __future__ import annotations

import time
from datetime import UTC, datetime

import orjson

from schemas import FEEDS, parse_feed_event
from schemas.odds import Market
from streamapp.connectors.changes import detect_changes
from streamapp.connectors.espn import parse_scoreboard, parse_summary
from streamapp.connectors.nba_injury_report import parse_injury_report, report_time_from_name
from streamapp.connectors.odds_api import parse_odds, parse_scores
from tests.connectors.conftest import FEEDS as CAPTURES
from tests.connectors.conftest import capture, fetched_at

NBA_ODDS = "the-odds-api/odds_basketball_nba_h2h-spreads_decimal_us_2023-12-11.json"
FEED_OF_KIND = {"game": "games", "odds": "odds", "injury": "injuries", "lineup": "lineups",
                "boxscore": "boxscores"}  # fmt: skip


def nba_odds(body=None):
    return parse_odds(body or capture(NBA_ODDS), "decimal").events


def test_the_same_response_twice_sends_nothing_the_second_time():
    first = detect_changes({}, nba_odds())
    assert len(first.events) == len(nba_odds())
    assert detect_changes(first.snapshot, nba_odds()).events == []


def test_a_restart_reparsing_the_same_response_gives_the_same_ids():
    assert [e.event_id for e in nba_odds()] == [e.event_id for e in nba_odds()]


def test_one_changed_price_gives_one_event_with_a_new_id():
    events = orjson.loads(capture(NBA_ODDS))
    snapshot = detect_changes({}, nba_odds()).snapshot
    book = events[0]["bookmakers"][0]  # draftkings, Heat @ Hornets
    market = book["markets"][0]
    market["outcomes"][0]["price"] = 2.5  # Charlotte Hornets 2.4 -> 2.5
    market["last_update"] = book["last_update"] = "2023-12-11T17:02:00Z"
    [change] = detect_changes(snapshot, nba_odds(orjson.dumps(events))).events
    assert (change.game_id, change.bookmaker, change.market, change.selection) == (
        "nba-20231211-cha-mia", "draftkings", Market.MONEYLINE, "home")  # fmt: skip
    assert change.price_decimal == 2.5
    assert change.event_id not in {e.event_id for e in nba_odds()}


def test_an_injury_counts_only_when_its_status_changes():
    name = "espn/summary_basketball_nba_LAC-at-MIN_in-progress_2025-01-07.json"
    summary = orjson.loads(capture(name))

    def injuries():
        events = parse_summary(orjson.dumps(summary), fetched_at(name)).events
        return [e for e in events if e.kind == "injury"]

    snapshot = detect_changes({}, injuries()).snapshot
    entry = summary["injuries"][0]["injuries"][0]  # Rob Dillingham, Out
    entry["date"] = "2025-01-06T12:00Z"
    entry["details"]["type"] = "Hamstring"
    assert detect_changes(snapshot, injuries()).events == []  # new date and reason only
    entry["status"] = "Day-To-Day"
    [change] = detect_changes(snapshot, injuries()).events
    assert (change.player_name, change.status.value) == ("Rob Dillingham", "QUESTIONABLE")


def test_a_match_seen_by_both_providers_is_one_game():
    # No capture holds a match both providers cover. Derived pair: the Odds API's
    # Avalanche @ Wild event (2025-03-12T00:10:00Z) moved, in memory, to the ESPN
    # scoreboard's Avalanche @ Wild game of 2022-09-25 (20:00Z); only date and id change.
    espn_name = "espn/scoreboard_hockey_nhl_2022-09-25_live-final-ot-scheduled.json"
    [espn_game] = [e for e in parse_scoreboard(capture(espn_name), fetched_at(espn_name)).events
                   if e.home_team == "MIN"]  # fmt: skip
    odds = orjson.loads(
        capture("the-odds-api/odds_multisport_nba-nhl-mlb-epl-ucl_h2h_decimal_us_2025-03-10.json")
    )
    [event] = [e for e in odds if e["home_team"] == "Minnesota Wild"]
    event.update(id="derived-min-col-20220925", commence_time="2022-09-25T20:00:00Z")
    for book in event["bookmakers"]:
        book["last_update"] = "2022-09-25T19:00:00Z"
        for market in book["markets"]:
            market["last_update"] = "2022-09-25T19:00:00Z"
    quotes = parse_odds(orjson.dumps([event]), "decimal").events
    assert espn_game.game_id == "nhl-20220925-min-col"
    assert {q.game_id for q in quotes} == {espn_game.game_id}
    assert (espn_game.home_score, espn_game.away_score) == (3, 2)
    draftkings = {q.selection: q.price_decimal for q in quotes if q.bookmaker == "draftkings"}
    assert draftkings == {"home": 2.7, "away": 1.49}


def every_capture_event():
    for path in sorted((CAPTURES / "the-odds-api").glob("odds_*.json")):
        fmt = "american" if "_american_" in path.name else "decimal"
        yield from parse_odds(path.read_bytes(), fmt).events
    for path in sorted((CAPTURES / "the-odds-api").glob("scores_*.json")):
        yield from parse_scores(path.read_bytes(), fetched_at(path)).events
    for path in sorted((CAPTURES / "espn").glob("scoreboard_*.json")):
        yield from parse_scoreboard(path.read_bytes(), fetched_at(path)).events
    for path in sorted((CAPTURES / "espn").glob("summary_*.json")):
        yield from parse_summary(path.read_bytes(), fetched_at(path)).events
    for path in sorted((CAPTURES / "nba-official").glob("*.pdf")):
        yield from parse_injury_report(path.read_bytes(), report_time_from_name(path.name)).events


def test_every_event_parsed_from_every_capture_passes_the_projects_validation():
    events = list(every_capture_event())
    assert len({e.kind for e in events}) == 5
    for event in events:
        feed = FEEDS[FEED_OF_KIND[event.kind]]
        now = max(time.time(), event.event_time.timestamp())
        validated = parse_feed_event(feed, event.to_json(), now=now)
        assert validated == event
        assert event.partition_key == f"{event.sport.value}:{event.league}"
    assert datetime(2021, 1, 1, tzinfo=UTC) < min(e.event_time for e in events)
