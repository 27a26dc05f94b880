"""Batched, idempotent, outage-proof writes to PostgreSQL through a psycopg pool.

``write`` returns only once the batch is committed: while PostgreSQL is down it retries
with backoff, so the sink agent does not ack (and the consumer does not commit) events
that are not yet durable. A row PostgreSQL refuses for itself (not for an outage) is
recorded in ``dead_letters`` with the reason instead of blocking its partition forever.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from schemas.deadletter import DeadLetter
from streamapp.db.migrate import DatabaseUnavailable, migrate
from streamapp.db.sinks import SINK_TABLES, SinkTable
from streamapp.metrics import Metrics
from streamapp.settings import Settings

log = logging.getLogger(__name__)
FIRST_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 15.0
POOL_WAIT = 5.0  # seconds to wait for a connection before counting a retry
# Errors that mean "PostgreSQL is not there right now", as opposed to "this row is wrong".
OUTAGE_ERRORS = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    PoolTimeout,
    DatabaseUnavailable,
)
# Errors that mean "PostgreSQL (or the driver) refuses this row": a value out of a column's
# range, text it cannot hold... The row is kept as a dead letter instead.
ROW_ERRORS = (psycopg.Error, UnicodeError)


Turn = Callable[[], Awaitable[None]]  # lets other work use the event loop (see write_records)


async def no_turn() -> None:
    """No turn given: a writer alone on its event loop."""


def first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class Message(Protocol):
    """A consumed Kafka message (faust's or aiokafka's both fit)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class Consumed(Protocol):
    """One event of a consumed message (agents.runtime.Record): a clean message holds a
    batch of events."""

    message: Message
    value: bytes | None  # the event's bytes
    index: int | None  # its place in the message's batch; None: the whole message


class Database:
    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.url = settings.effective_database_url
        self.metrics = metrics
        self.pool = AsyncConnectionPool(
            self.url,
            min_size=1,
            max_size=4,
            open=False,
            check=AsyncConnectionPool.check_connection,
            kwargs={"connect_timeout": 5},
            # Keep trying to reconnect through an outage of any length.
            reconnect_timeout=float("inf"),
        )
        self._ready: asyncio.Lock | None = None
        self._started = False
        # (monotonic time the current outage began, its error) while writes are retried
        self.outage: tuple[float, str] | None = None

    async def start(self) -> None:
        """Migrate and open the pool, waiting for PostgreSQL as long as it takes."""
        if self._started:
            return
        self._ready = self._ready or asyncio.Lock()
        async with self._ready:
            if self._started:
                return
            await self._retry("migrate", lambda: asyncio.to_thread(migrate, self.url))
            await self.pool.open(wait=False)
            self._started = True

    async def close(self) -> None:
        if self._started:
            await self.pool.close()
            self._started = False

    async def _retry(self, what: str, attempt):
        delay = FIRST_RETRY_DELAY
        while True:
            try:
                result = await attempt()
            except OUTAGE_ERRORS as error:
                since = self.outage[0] if self.outage else time.monotonic()
                self.outage = (since, f"{what}: {first_line(error)}")
                self.metrics.sink_retries.labels(what).inc()
                log.warning(
                    "PostgreSQL unavailable for %s (%s); retrying in %.1fs. Check the server "
                    "(`streamapp stack status`) or DATABASE_URL.",
                    what,
                    first_line(error),
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_DELAY)
            else:
                self.outage = None
                return result

    def unavailable_for(self) -> tuple[float, str]:
        """Seconds the writes have been waiting for PostgreSQL (0 when they are not), and
        the last error."""
        if self.outage is None:
            return 0.0, ""
        since, reason = self.outage
        return time.monotonic() - since, reason

    async def write_records(
        self, table_name: str, records: Sequence[Consumed], turn: Turn = no_turn
    ) -> None:
        """Upsert the rows of consumed events; returns once they are durable. ``turn`` is
        awaited between rows: the caller's way to let other work use the event loop.

        An event that is not a valid one of the table's model is kept as a dead letter
        rather than dropped.
        """
        table = SINK_TABLES[table_name]
        rows, sources, unreadable = [], [], []
        for record in records:
            await turn()
            try:
                rows.append(table.row_of(record.value or b""))
                sources.append(record)
            except ValueError as error:
                unreadable.append((record, f"sink {table.name}: {first_line(error)}"))
        await self.write(table, rows, sources, turn)
        if unreadable:
            await self._retry("dead_letters", lambda: self._record_rejected(table, unreadable))

    async def write(
        self,
        table: SinkTable,
        rows: Sequence[tuple],
        sources: Sequence[Consumed],
        turn: Turn = no_turn,
    ) -> None:
        """Upsert ``rows`` in one transaction (copied into the connection's staging table,
        then merged: ``SinkTable``); returns once they are durable."""
        if not rows:
            return
        await self.start()
        started = time.perf_counter()
        self.metrics.sink_backlog.labels(table.name).set(len(rows))

        async def attempt() -> None:
            async with self.pool.connection(timeout=POOL_WAIT) as conn:
                try:
                    async with conn.transaction(), conn.cursor() as cursor:
                        await cursor.execute(table.stage_sql)
                        async with cursor.copy(table.copy_sql) as copy:
                            for row in table.one_per_key(rows):
                                await turn()
                                await copy.write_row(row)
                        await cursor.execute(table.merge_sql)
                except OUTAGE_ERRORS:
                    raise
                except ROW_ERRORS:
                    await self._write_one_by_one(conn, table, rows, sources)

        await self._retry(table.name, attempt)
        self.metrics.sink_backlog.labels(table.name).set(0)
        self.metrics.sink_rows.labels(table.name).inc(len(rows))
        self.metrics.sink_batch_seconds.labels(table.name).observe(time.perf_counter() - started)

    async def _write_one_by_one(self, conn, table, rows, sources) -> None:
        """Find the rows PostgreSQL refuses; keep them as dead letters, write the rest."""
        refused = []
        for row, source in zip(rows, sources, strict=True):
            try:
                async with conn.transaction():
                    await conn.execute(table.sql, row)
            except OUTAGE_ERRORS:
                raise
            except ROW_ERRORS as error:
                refused.append((source, f"sink {table.name}: {first_line(error)}"))
        await self._record_rejected(table, refused, conn)

    async def _record_rejected(self, table: SinkTable, rejected, conn=None) -> None:
        """Keep each refused message as a dead letter of the table's sink stage. A refused
        dead letter (say, a partition beyond PostgreSQL's integer) is kept the same way: its
        whole JSON becomes the payload of a letter whose every column PostgreSQL accepts."""
        if conn is None:
            await self.start()
            async with self.pool.connection(timeout=POOL_WAIT) as own:
                return await self._record_rejected(table, rejected, own)
        dead = SINK_TABLES["dead_letters"]
        for source, reason in rejected:
            letter = DeadLetter.of(
                source.message,
                reason,
                "sink_rejected",
                stage=f"sink-{table.name}",
                item=source.index,
                payload=source.value,
            )
            log.error("%s at %s", letter.reason, letter.letter_id)
            self.metrics.sink_rejected.labels(table.name).inc()
            async with conn.transaction():
                await conn.execute(dead.sql, dead.row(letter))
