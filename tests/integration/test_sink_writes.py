"""The sinks' batched upsert on the real PostgreSQL: a batch leaves the rows that upserting
its rows one by one leaves, and a row PostgreSQL refuses becomes a dead letter."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import psycopg
import pytest

from streamapp.db.sinks import SINK_TABLES
from streamapp.db.writer import Database
from streamapp.metrics import Metrics

pytestmark = pytest.mark.integration
AT = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)


def game(status: str, minutes: int, home_score: int | None = None) -> tuple:
    return ("g1", "soccer", "E0", "2026-27", "Arsenal", "Chelsea", AT, status, home_score,
            None, "regular", "{}", f"g1:{status}", AT + timedelta(minutes=minutes))  # fmt: skip


def quote(event_id: str, price: float, american: int = -110) -> tuple:
    return (event_id, "g1", "soccer", "E0", "bk", "moneyline", "home", None, "", "", price,
            american, AT)  # fmt: skip


def source(offset: int) -> SimpleNamespace:
    message = SimpleNamespace(
        topic="t.clean.odds", partition=0, offset=offset, key=b"soccer:E0", value=b"{}"
    )
    return SimpleNamespace(message=message, value=b"{}", index=None)


def rows(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def test_a_batch_upserts_what_one_row_at_a_time_would(live_settings):
    url = live_settings.effective_database_url
    database = Database(live_settings, Metrics())
    row_by_row = []  # batches that fell back to one row at a time (PostgreSQL refused one)

    async def one_by_one(conn, table, batch, sources) -> None:
        row_by_row.append(batch)

    database._write_one_by_one = one_by_one
    turns = []  # the sink's turns of the event loop, given between the rows it copies

    async def turn() -> None:
        turns.append(len(turns))

    async def write() -> None:
        try:
            await database.write(SINK_TABLES["games"], [game("final", 90, 2)], [source(0)])
            # an older version, then the same key twice in one batch: the newest stays
            batch = [game("scheduled", 0), game("live", 95, 1), game("final", 95, 3)]
            await database.write(SINK_TABLES["games"], batch, [source(i) for i in (1, 2, 3)])
            batch = [quote("q1", 1.9), quote("q2", 2.0), quote("q1", 5.0)]
            sources = [source(i) for i in (4, 5, 6)]
            await database.write(SINK_TABLES["odds_quotes"], batch, sources, turn)
            await database.write(SINK_TABLES["odds_quotes"], [quote("q2", 9.0)], [source(7)])
        finally:
            await database.close()

    asyncio.run(write())
    assert row_by_row == []  # each batch went in whole: one copy, one merge
    assert turns == [0, 1]  # one before each row copied (q1 once: the batch's first holds)
    assert rows(url, "SELECT status, home_score, last_event_id FROM games") == [
        ("final", 3, "g1:final")
    ]
    assert rows(url, "SELECT event_id, price_decimal FROM odds_quotes ORDER BY event_id") == [
        ("q1", 1.9),
        ("q2", 2.0),
    ]


def test_a_row_postgresql_refuses_is_a_dead_letter_and_the_rest_are_written(live_settings):
    url = live_settings.effective_database_url
    database = Database(live_settings, Metrics())
    refused = quote("q2", 2.0, american=2**40)  # beyond the integer column

    async def write() -> None:
        try:
            batch = [quote("q1", 1.9), refused, quote("q3", 2.1)]
            await database.write(SINK_TABLES["odds_quotes"], batch, [source(i) for i in (0, 1, 2)])
        finally:
            await database.close()

    asyncio.run(write())
    assert rows(url, "SELECT event_id FROM odds_quotes ORDER BY event_id") == [("q1",), ("q3",)]
    letters = rows(url, 'SELECT stage, "offset", error_type, reason FROM dead_letters')
    assert len(letters) == 1
    stage, offset, error_type, reason = letters[0]
    assert (stage, offset, error_type) == ("sink-odds_quotes", 1, "sink_rejected")
    assert "out of range" in reason
