"""What a worker reports about itself: readiness, gauges read off faust on each scrape
(table sizes, recovery and standby progress, stalled agents), how long each rebalance
took to recover, and how long the event loop's steps hold it. Offsets, lag, rebalance
counts and commit and send latencies are faust's own Prometheus monitor's (``faust_*``,
see streamapp.metrics)."""

from __future__ import annotations

import asyncio
import logging
import time

import faust
from faust.exceptions import ConsumerNotStarted

from agents.pipeline import Pipeline
from streamapp.metrics import Metrics

log = logging.getLogger(__name__)
ESTIMATED_KEYS = "rocksdb.estimate-num-keys"
EVENT_LOOP_LAG_EVERY_SECONDS = 0.5


def readiness(app: faust.App) -> tuple[bool, str]:
    """Ready = partitions assigned, tables recovered, no agent stuck on a batch for longer
    than ``STREAMAPP_STALL_SECONDS`` (or for good, until a restart), and PostgreSQL not
    away for longer than that.

    (faust's own ``app.rebalancing`` flag was seen stuck on a serving worker, so it is not
    part of the answer.)"""
    try:
        assigned = app.consumer.assignment()
    except ConsumerNotStarted:  # scraped in the moment between the web server and Kafka
        return False, "starting: the Kafka consumer is not running yet"
    if not assigned:
        return False, "no partitions assigned yet"
    if not app.tables.recovery.completed.is_set():
        remaining = app.tables.recovery.active_remaining_total()
        return False, f"recovering tables: {remaining} changelog records to go"
    pipeline: Pipeline = app.pipeline
    stalled = pipeline.progress.stalled(pipeline.settings.stall_seconds)
    if pipeline.database is not None:
        seconds, error = pipeline.database.unavailable_for()
        if seconds > pipeline.settings.stall_seconds:
            stalled["sinks"] = (
                seconds,
                f"PostgreSQL unavailable ({error}); the sinks retry and lose nothing: check "
                "the server (`streamapp stack status`) or DATABASE_URL",
            )
    if stalled:
        return False, "; ".join(
            f"{agent} cannot make progress for {seconds:.0f} s: {reason}"
            for agent, (seconds, reason) in sorted(stalled.items())
        )
    return True, "ready"


def table_size(table) -> int:
    """Keys held locally: RocksDB's estimate per partition, or the exact count in memory."""
    store = table.data
    databases = getattr(store, "_dbs", None)
    if databases is None:
        return len(store)
    total = 0
    for db in databases.values():
        try:
            total += int(db.property_int_value(ESTIMATED_KEYS) or 0)
        except Exception:  # an older rocksdict without properties: count exactly
            total += sum(1 for _ in db.keys())  # noqa: SIM118 (rocksdict: keys() is the key iterator)
    return total


def changelog_records_applied(pipeline: Pipeline) -> int:
    return sum(table.changelog_records_applied for table in pipeline.tables.all().values())


class RecoveryTimer(faust.Sensor):
    """Times every rebalance from its start until the worker is ready again, and counts
    the changelog records applied meanwhile: the recovery figures of a failover."""

    def __init__(self, pipeline: Pipeline) -> None:
        super().__init__()
        self.pipeline = pipeline

    def on_rebalance_start(self, app: faust.App) -> dict:
        return {"started": time.monotonic(), "applied": changelog_records_applied(self.pipeline)}

    def on_rebalance_end(self, app: faust.App, state: dict) -> None:
        seconds = time.monotonic() - state["started"]
        records = changelog_records_applied(self.pipeline) - state["applied"]
        metrics = self.pipeline.metrics
        metrics.last_recovery_seconds.set(seconds)
        metrics.last_recovery_records.set(records)
        restored = app.tables.recovery.last_restore
        metrics.last_bulk_restore_seconds.set(restored.seconds)
        metrics.last_bulk_restore_records.set(restored.records)
        log.info(
            "recovered in %.2f s (rebalance start to ready): %d changelog records applied, "
            "%.0f records/s; %d of them in bulk in %.2f s",
            seconds,
            records,
            records / seconds if seconds else 0.0,
            restored.records,
            restored.seconds,
        )


def refresh_gauges(app: faust.App, pipeline: Pipeline) -> None:
    metrics = pipeline.metrics
    for name, table in pipeline.tables.all().items():
        metrics.changelog_applied.labels(name).set(table.changelog_records_applied)
    stalled = pipeline.progress.stalled(0.0)
    for agent in pipeline.progress.order_names():
        metrics.stalled_seconds.labels(agent).set(stalled.get(agent, (0.0, ""))[0])
    if pipeline.database is not None:
        metrics.stalled_seconds.labels("sinks").set(pipeline.database.unavailable_for()[0])
    ready, _ = readiness(app)
    metrics.ready.set(1 if ready else 0)
    for name, table in pipeline.tables.all().items():
        metrics.table_keys.labels(name).set(table_size(table))
    recovery = app.tables.recovery
    metrics.recovery_remaining.labels("active").set(recovery.active_remaining_total())
    metrics.recovery_remaining.labels("standby").set(recovery.standby_remaining_total())


async def time_event_loop_lag(
    metrics: Metrics, session_timeout: float, every: float = EVENT_LOOP_LAG_EVERY_SECONDS
) -> None:
    """Times, for ever, how late the event loop wakes a sleep of ``every`` seconds: at least
    the part of the step then running that came after the wake-up was due (a step longer
    than ``every`` is always seen, shorter ones by chance). The Kafka consumer and its
    heartbeats run on this loop: a step longer than the session timeout moves the worker's
    partitions to another worker, so one over half of it is also logged."""
    loop = asyncio.get_running_loop()
    while True:
        slept_at = loop.time()
        await asyncio.sleep(every)
        # (asyncio may run a timer up to its clock resolution early)
        lag = max(0.0, loop.time() - slept_at - every)
        metrics.event_loop_lag.observe(lag)
        if lag > session_timeout / 2:
            log.warning(
                "one step held the event loop for %.1f s: the Kafka consumer's heartbeats "
                "wait for it, and past STREAMAPP_SESSION_TIMEOUT (%g s) this worker's "
                "partitions move to another one; raise that setting if such steps are "
                "expected (PYTHONASYNCIODEBUG=1 logs each step over 0.1 s by name)",
                lag, session_timeout,
            )  # fmt: skip
