"""PostgreSQL stopped in the middle of a replay: the sink waits, then every row is there once."""

from __future__ import annotations

import asyncio
import time
import urllib.request

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from schemas import FEEDS, parse_feed_event
from schemas.feeds import InvalidEvent
from streamapp.kafka_io import event_counts
from streamapp.replay.catalog import timeline
from streamapp.replay.producer import replay
from streamapp.settings import Settings
from streamapp.stack.postgres import EmbeddedPostgres
from streamapp.summary import wait_until_drained
from tests.integration.conftest import count
from tests.integration.oracle import assert_outputs_equal_offline, offline_state

pytestmark = pytest.mark.integration
OUTAGE_SECONDS = 12


def sink_retries(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "streamapp_sink_retries"
        for sample in family.samples
        if sample.name.endswith("_total")
    )


def test_postgres_outage_mid_replay_loses_and_doubles_nothing(live_settings, worker, data_dir):
    settings = live_settings
    if Settings().database_url:
        pytest.skip("the outage is staged by stopping the embedded PostgreSQL, not DATABASE_URL's")
    files = [data_dir / "football-data" / f"{league}_2021.csv" for league in ("E0", "SP1", "D1")]
    events = timeline(files)
    valid = [e for e in events if is_valid(e)]
    server = EmbeddedPostgres(settings.model_copy(update={"database_url": None}))
    expected = offline_state(events)  # while the worker starts

    async def scenario():
        sending = asyncio.create_task(replay(settings, events, progress=False))
        # Stop PostgreSQL once the sinks have started writing.
        deadline = time.monotonic() + 60
        while await asyncio.to_thread(rows_so_far, settings.database_url) == 0:
            assert time.monotonic() < deadline, "the sink never wrote a row"
            await asyncio.sleep(0.2)
        await asyncio.to_thread(server.down)
        await asyncio.sleep(OUTAGE_SECONDS)
        retries_during_outage = await asyncio.to_thread(sink_retries, settings.web_port)
        await asyncio.to_thread(server.up)
        await sending
        await wait_until_drained(settings, timeout=300)
        return retries_during_outage, await event_counts(
            settings, [settings.topic("predictions"), settings.topic("deadletter")]
        )

    retries, outputs = asyncio.run(scenario())
    print(f"sink retries during the {OUTAGE_SECONDS}s outage: {retries:.0f}")
    assert retries > 0, "the outage did not reach the sink; the test proved nothing"
    url = settings.database_url
    assert count(url, "odds_quotes") == sum(e.feed == "odds" for e in valid)
    assert count(url, "games") == len({e.game_id for e in valid if e.feed == "games"})
    with psycopg.connect(url) as conn:
        finals = conn.execute("SELECT count(*) FROM games WHERE status = 'final'").fetchone()[0]
    assert finals == sum(e.feed == "games" and e.payload["status"] == "final" for e in valid)
    assert count(url, "predictions") == outputs[settings.topic("predictions")]
    assert count(url, "dead_letters") == outputs[settings.topic("deadletter")]
    # What the worker sent is unchanged by the outage: every output, by value, the offline one.
    assert_outputs_equal_offline(settings, expected)


def rows_so_far(url: str) -> int:
    try:
        return count(url, "odds_quotes")
    except psycopg.errors.UndefinedTable:  # the worker has not migrated the database yet
        return 0


def is_valid(event) -> bool:
    try:
        parse_feed_event(FEEDS[event.feed], event.to_bytes())
    except InvalidEvent:
        return False
    return True
