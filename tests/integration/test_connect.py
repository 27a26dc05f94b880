"""`streamapp connect` against a local server that answers with real captured responses, on
the real broker: what reaches the raw topics is exactly the changes, a bad response ends
whole in the dead letters, a restart sends nothing new, and of two connect processes only
one polls.

The served bodies are the captures of ``feeds/`` (streamapp.connectors.captures: here The
Odds API's NBA odds of 2023-12-11 and ESPN's NBA scoreboard of 2026-03-01); a changed price
and a truncated body are made from them in memory (synthetic, to show those cases)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from schemas.batches import batch_items, watermark_of
from schemas.deadletter import DeadLetter
from streamapp.connectors.captures import CapturedProviders
from streamapp.connectors.changes import detect_changes
from streamapp.connectors.connect import connect
from streamapp.connectors.espn import parse_scoreboard
from streamapp.connectors.odds_api import parse_odds
from streamapp.connectors.parsing import US_EASTERN
from streamapp.kafka_io import read_all
from streamapp.settings import Settings
from tests.connectors.conftest import capture
from tests.integration.conftest import free_port, metric_samples

ODDS = "the-odds-api/odds_basketball_nba_h2h-spreads_decimal_us_2023-12-11.json"
SCOREBOARD = "espn/scoreboard_basketball_nba_2026-03-01_scheduled-with-odds.json"
API_KEY = "key-that-must-never-show-0123456789"
PATIENCE = 60.0


@pytest.fixture
async def provider():
    """The captured providers on a local port (``url``)."""
    providers = CapturedProviders(Settings().data_dir / "feeds")
    server = TestServer(providers.application())
    await server.start_server()
    providers.url = str(server.make_url("")).rstrip("/")
    yield providers
    await server.close()


@pytest.fixture
def connect_settings(stack, settings, provider):
    return settings.model_copy(
        update={
            "odds_api_key": SecretStr(API_KEY),
            "odds_api_url": provider.url,
            "odds_api_sports": ["basketball_nba"],
            "odds_api_interval_seconds": 0.3,
            "odds_api_scores_interval_seconds": 0.3,
            "odds_api_requests_per_second": 50.0,
            "espn_url": provider.url,
            "espn_leagues": ["basketball/nba"],
            "espn_scoreboard_interval_seconds": 0.3,
            "espn_summary_interval_seconds": 0.3,
            "espn_requests_per_second": 50.0,
            # the truncated body opens the circuit; it must close again within the test
            "connector_circuit_cool_down_seconds": 2.0,
            "connect_metrics_port": free_port(),
        }
    )


async def event_ids(settings, feed: str) -> list[str]:
    records = await read_all(settings, settings.topic(f"raw.{feed}"))
    return [
        json.loads(event)["event_id"]
        for record in records
        for event, _ in batch_items(record.value, record.headers, 0.0)
    ]


async def watermarks(settings, feed: str) -> list[tuple[bytes, int, int]]:
    """The connector's watermarks on a raw topic: (key, through in ms, offset)."""
    records = await read_all(settings, settings.topic(f"raw.{feed}"))
    return [
        (record.key, through, record.offset)
        for record in records
        if (through := watermark_of(record.headers)) is not None
    ]


async def letters(settings) -> list[DeadLetter]:
    records = await read_all(settings, settings.topic("deadletter"))
    return [DeadLetter.model_validate_json(record.value) for record in records]


async def settled(read, expected_count: int | None = None) -> list:
    """What ``read`` returns once it stops growing (and holds ``expected_count``, if given)."""
    deadline = asyncio.get_running_loop().time() + PATIENCE
    last = None
    while asyncio.get_running_loop().time() < deadline:
        current = await read()
        if current == last and (expected_count is None or len(current) == expected_count):
            return current
        last = current
        await asyncio.sleep(1.5)
    return last


class Running:
    """A `connect` coroutine in this process, stopped on exit."""

    def __init__(self, settings, feeds) -> None:
        self.stop = asyncio.Event()
        self.task = asyncio.ensure_future(connect(settings, feeds, self.stop.wait()))

    async def __aenter__(self) -> Running:
        return self

    async def __aexit__(self, *exc_info) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 30)


def changed_price(body: bytes, step: int = 1) -> bytes:
    """The first bookmaker's first price of the first game ``0.05 * step`` longer, updated
    ``step`` minutes later (a move, as the provider would report it)."""
    games = json.loads(body)
    market = games[0]["bookmakers"][0]["markets"][0]
    market["outcomes"][0]["price"] = round(market["outcomes"][0]["price"] + 0.05 * step, 2)
    updated = datetime.fromisoformat(market["last_update"].replace("Z", "+00:00"))
    market["last_update"] = (updated + timedelta(minutes=step)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(games).encode()


async def test_only_changes_reach_the_raw_topics_and_a_bad_response_is_parked_whole(
    connect_settings, provider, caplog
):
    settings = connect_settings
    odds_body = capture(ODDS)
    first_quotes = detect_changes({}, parse_odds(odds_body, "decimal").events).events
    games = parse_scoreboard(capture(SCOREBOARD), datetime.now(UTC)).events
    assert first_quotes and games

    async with Running(settings, ["odds-api", "espn"]):
        quotes = await settled(lambda: event_ids(settings, "odds"), len(first_quotes))
        assert sorted(quotes) == sorted(q.event_id for q in first_quotes)  # once each
        polls_before = provider.calls["/v4/sports/basketball_nba/odds"]
        await asyncio.sleep(2)
        assert provider.calls["/v4/sports/basketball_nba/odds"] > polls_before  # still polling
        assert len(await event_ids(settings, "odds")) == len(first_quotes)  # nothing again

        # a price moves: exactly one new quote
        moved = changed_price(odds_body)
        provider.bodies["/v4/sports/basketball_nba/odds"] = moved
        quotes = await settled(lambda: event_ids(settings, "odds"), len(first_quotes) + 1)
        assert len(quotes) == len(set(quotes)) == len(first_quotes) + 1

        # a truncated body: parked whole with its reason, and polling goes on
        truncated = moved[: len(moved) // 2]
        provider.bodies["/v4/sports/basketball_nba/odds"] = truncated
        parked = await settled(lambda: _response_letters(settings), 1)
        assert len(parked) == 1
        assert parked[0].payload_b64 and parked[0].stage == "connect-odds-api"
        assert base64.b64decode(parked[0].payload_b64) == truncated
        assert "basketball_nba/odds" in parked[0].reason and API_KEY not in parked[0].reason
        provider.bodies["/v4/sports/basketball_nba/odds"] = changed_price(odds_body, 2)
        quotes = await settled(lambda: event_ids(settings, "odds"), len(first_quotes) + 2)
        assert len(quotes) == len(set(quotes)) == len(first_quotes) + 2

        # ESPN: the scoreboard's games, once each
        states = await settled(lambda: event_ids(settings, "games"))
        assert len(states) == len(set(states)) >= len(games)

        # Every poll of a league's whole feed, changed or not, ends with a watermark through
        # its reception, behind the poll's events: the Odds API's odds, and its scores and
        # ESPN's scoreboard (two producers of the games feed, each with its own marks)
        for feed in ("odds", "games"):
            marks = await watermarks(settings, feed)
            assert len(marks) >= 3 and {key for key, _, _ in marks} == {b"nba:NBA"}
            assert max(through for _, through, _ in marks) <= time.time() * 1000
        odds_marks = [through for _, through, _ in await watermarks(settings, "odds")]
        assert odds_marks == sorted(odds_marks)
        records = await read_all(settings, settings.topic("raw.odds"))
        first_poll = {q.event_id.encode() for q in first_quotes}
        holding_first_poll = [
            record.offset
            for record in records
            if any(event_id in record.value for event_id in first_poll)
        ]
        first_mark = min(offset for _, _, offset in await watermarks(settings, "odds"))
        assert max(holding_first_poll) < first_mark

    # a restart with the same state sends nothing it sent before
    async with Running(settings, ["odds-api", "espn"]):
        await asyncio.sleep(5)
    assert len(await event_ids(settings, "odds")) == len(first_quotes) + 2
    assert all(API_KEY not in record.getMessage() for record in caplog.records)


async def _response_letters(settings) -> list[DeadLetter]:
    return [
        letter for letter in await letters(settings) if letter.error_type == "malformed_response"
    ]


async def test_of_two_connect_processes_only_one_polls_and_the_other_takes_over(
    connect_settings, provider
):
    settings = connect_settings.model_copy(update={"espn_leagues": []})
    standby_settings = settings.model_copy(update={"connect_metrics_port": free_port()})
    expected = len(detect_changes({}, parse_odds(capture(ODDS), "decimal").events).events)
    first = Running(settings, ["odds-api"])
    await settled(lambda: event_ids(settings, "odds"), expected)
    async with Running(standby_settings, ["odds-api"]):
        await asyncio.sleep(5)  # joined the group, and the group settled again
        polling = [polls(s.connect_metrics_port) > 0 for s in (settings, standby_settings)]
        before = [polls(s.connect_metrics_port) for s in (settings, standby_settings)]
        await asyncio.sleep(2)
        after = [polls(s.connect_metrics_port) for s in (settings, standby_settings)]
        assert sum(a > b for a, b in zip(after, before, strict=True)) == 1  # one polls
        await first.__aexit__()  # the first stops: the standby leads (if it did not yet)
        provider.bodies["/v4/sports/basketball_nba/odds"] = changed_price(capture(ODDS))
        quotes = await settled(lambda: event_ids(settings, "odds"), expected + 1)
        assert polls(standby_settings.connect_metrics_port) > after[1]
    assert polling[0]
    assert len(quotes) == len(set(quotes)) == expected + 1  # the takeover resent nothing


def polls(port: int) -> float:
    return sum(value for _, value in metric_samples(port, "streamapp_connector_polls_total"))


NHL_BOARD = "espn/scoreboard_hockey_nhl_2022-09-25_live-final-ot-scheduled.json"
MULTI_SPORT_ODDS = "the-odds-api/odds_multisport_nba-nhl-mlb-epl-ucl_h2h_decimal_us_2025-03-10.json"


def derived_pair(start: datetime) -> tuple[bytes, bytes]:
    """One match both providers cover: no capture has one, so this pair is derived by
    changing only dates and ids. ESPN's Avalanche @ Wild of 2022-09-25 (final: Wild 3,
    Avalanche 2) and The Odds API's Avalanche @ Wild of 2025-03 are both moved to
    ``start``; the prices are dated an hour before it, and the Odds API event takes ESPN's
    id."""
    board = json.loads(capture(NHL_BOARD))
    board["events"] = [e for e in board["events"] if e["id"] == "401461559"]
    board["events"][0]["date"] = board["events"][0]["competitions"][0]["date"] = start.strftime(
        "%Y-%m-%dT%H:%MZ"
    )
    odds = [
        event
        for event in json.loads(capture(MULTI_SPORT_ODDS))
        if event["sport_key"] == "icehockey_nhl" and event["home_team"] == "Minnesota Wild"
    ]
    assert odds and odds[0]["away_team"] == "Colorado Avalanche"
    odds[0]["id"] = "401461559"
    odds[0]["commence_time"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    quoted = (start - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for book in odds[0]["bookmakers"]:
        book["last_update"] = quoted
        for market in book["markets"]:
            market["last_update"] = quoted
    return json.dumps(board).encode(), json.dumps(odds[:1]).encode()


async def test_a_match_seen_by_both_providers_is_one_game_with_its_state_and_prices(
    live_settings, worker, provider
):
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
    board, odds = derived_pair(start)
    provider.bodies["/apis/site/v2/sports/hockey/nhl/scoreboard"] = board
    provider.bodies["/v4/sports/icehockey_nhl/odds"] = odds
    settings = live_settings.model_copy(
        update={
            "odds_api_key": SecretStr(API_KEY),
            "odds_api_url": provider.url,
            "odds_api_sports": ["icehockey_nhl"],
            "espn_url": provider.url,
            "espn_leagues": ["hockey/nhl"],
            "connect_metrics_port": free_port(),
        }
    )
    async with Running(settings, ["odds-api", "espn"]):
        rows = await settled(lambda: game_rows(settings.database_url), 1)
    [(game_id, status, home_score, away_score, books)] = rows
    assert game_id == f"nhl-{start.astimezone(US_EASTERN):%Y%m%d}-min-col"
    assert (status, home_score, away_score) == ("final", 3, 2)
    assert books == len(json.loads(odds)[0]["bookmakers"])  # every book's prices, one game


async def game_rows(url: str) -> list[tuple]:
    """Each game with its state and how many books priced it (PostgreSQL, via the sinks)."""
    async with await psycopg.AsyncConnection.connect(url) as conn:
        try:
            cursor = await conn.execute(
                "SELECT g.game_id, g.status, g.home_score, g.away_score,"
                " (SELECT count(DISTINCT bookmaker) FROM odds_quotes q WHERE q.game_id = g.game_id)"
                " FROM games g ORDER BY g.game_id"
            )
        except psycopg.errors.UndefinedTable:
            return []  # the worker has not created its tables yet
        rows = await cursor.fetchall()
    return [row for row in rows if row[4]]
