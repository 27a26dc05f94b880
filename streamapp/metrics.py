"""Prometheus metrics of one worker (its own registry, so several apps can share a process).

The domain's metrics are defined here; faust's own (rebalances, commit and send latency,
per-partition read, committed and end offsets, messages and events per topic and stream)
are defined by faust's Prometheus monitor and kept on the same registry, under ``faust_``.
"""

from __future__ import annotations

import time
from typing import Any

from faust.sensors.monitor import Monitor
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

FAUST_PREFIX = "faust"


# up to past any session timeout an operator may set
LOOP_LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # the app's monitor (faust.sensors.prometheus.PrometheusMonitor) records these
        self.faust = FaustMetrics.create(self.registry, FAUST_PREFIX)
        self.events_in = Counter(
            "streamapp_events_in", "Messages consumed, by topic.", ["topic"], registry=self.registry
        )
        self.events_out = Counter(
            "streamapp_events_out",
            "Messages produced, by topic.",
            ["topic"],
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "streamapp_dead_letters",
            "Messages sent to the dead-letter topic, by feed and error type.",
            ["feed", "error_type"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "streamapp_duplicates",
            "Events dropped because their id was already processed, by feed.",
            ["feed"],
            registry=self.registry,
        )
        self.predictions = Counter(
            "streamapp_predictions",
            "Predictions emitted, by sport and model.",
            ["sport", "model"],
            registry=self.registry,
        )
        self.sink_rows = Counter(
            "streamapp_sink_rows",
            "Rows upserted into PostgreSQL, by table.",
            ["table"],
            registry=self.registry,
        )
        self.sink_batch_seconds = Histogram(
            "streamapp_sink_batch_seconds",
            "Time to make one batch durable in PostgreSQL, retries included, by table.",
            ["table"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=self.registry,
        )
        self.sink_retries = Counter(
            "streamapp_sink_retries",
            "PostgreSQL writes retried because the server was unavailable, by table.",
            ["table"],
            registry=self.registry,
        )
        self.sink_backlog = Gauge(
            "streamapp_sink_backlog",
            "Rows taken from Kafka and waiting to be made durable, by table.",
            ["table"],
            registry=self.registry,
        )
        self.sink_rejected = Counter(
            "streamapp_sink_rejected",
            "Rows PostgreSQL refused (kept in dead_letters), by table.",
            ["table"],
            registry=self.registry,
        )

        self.query_seconds = Histogram(
            "streamapp_query_seconds",
            "Response time of the PostgreSQL queries behind the web view, by query.",
            ["query"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )

        self.event_latency = Histogram(
            "streamapp_event_latency_seconds",
            "Event time to processed by ingest, by feed (a replay of history shows its age).",
            ["feed"],
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, 300, 3600, 86400, 86400 * 365),
            registry=self.registry,
        )
        self.alerts = Counter(
            "streamapp_alerts",
            "Alerts emitted, by sport and kind.",
            ["sport", "kind"],
            registry=self.registry,
        )
        self.anomalies = Counter(
            "streamapp_anomalies",
            "Valid events flagged as suspect by the odds book, by sport and kind "
            "(price_outlier, score_backwards, lone_line_move, stale_bookmaker).",
            ["sport", "kind"],
            registry=self.registry,
        )
        self.settled_brier = Gauge(
            "streamapp_settled_brier",
            "Mean Brier score of settled predictions, per model version (since it went live).",
            ["sport", "league", "model_version", "model"],
            registry=self.registry,
        )
        self.alert_clv = Gauge(
            "streamapp_alert_clv",
            "Mean closing-line value of settled alerts against the same bookmaker's close.",
            ["sport", "league", "model_version", "model"],
            registry=self.registry,
        )
        self.model_version = Gauge(
            "streamapp_model_version_active",
            "1 for the model version this worker predicts with.",
            ["model_version"],
            registry=self.registry,
        )
        self.table_keys = Gauge(
            "streamapp_table_keys",
            "Keys held locally, by table.",
            ["table"],
            registry=self.registry,
        )
        self.recovery_remaining = Gauge(
            "streamapp_recovery_remaining",
            "Changelog records still to apply: active tables (recovery) or standbys (lag).",
            ["kind"],
            registry=self.registry,
        )
        self.changelog_applied = Gauge(
            "streamapp_changelog_records_applied",
            "Changelog records applied to local state since start (recovery and standbys).",
            ["table"],
            registry=self.registry,
        )
        self.last_recovery_seconds = Gauge(
            "streamapp_last_recovery_seconds",
            "Seconds from the start of the last rebalance until the worker was ready again "
            "(partitions assigned, tables recovered, streams resumed).",
            registry=self.registry,
        )
        self.last_recovery_records = Gauge(
            "streamapp_last_recovery_records",
            "Changelog records applied (active and standby) during the last rebalance.",
            registry=self.registry,
        )
        self.last_bulk_restore_seconds = Gauge(
            "streamapp_last_bulk_restore_seconds",
            "Seconds the last rebalance's bulk restore took (tables.bulk_restore: the active "
            "changelogs read by a plain consumer into the stores, before faust's recovery).",
            registry=self.registry,
        )
        self.last_bulk_restore_records = Gauge(
            "streamapp_last_bulk_restore_records",
            "Changelog records the last rebalance's bulk restore wrote into the stores.",
            registry=self.registry,
        )
        self.ready = Gauge(
            "streamapp_ready",
            "1 when partitions are assigned and tables recovered.",
            registry=self.registry,
        )
        self.feed_freshness = Gauge(
            "streamapp_feed_freshness_seconds",
            "Seconds since this worker last received an event of the feed.",
            ["feed"],
            registry=self.registry,
        )
        self.model_brier = Gauge(
            "streamapp_model_brier",
            "Rolling Brier score of the last pregame predictions of finished games.",
            ["sport", "league", "model_version"],
            registry=self.registry,
        )
        self.batch_failures = Counter(
            "streamapp_batch_failures",
            "Batches whose processing raised, by agent and outcome: retried (a transient "
            "broker or network error: the batch is tried again) or split (tried event by "
            "event; an event that fails alone is parked as a dead letter).",
            ["agent", "outcome"],
            registry=self.registry,
        )
        self.stalled_seconds = Gauge(
            "streamapp_stalled_seconds",
            "Seconds an agent has been retrying the same batch (0 while it makes progress); "
            "past the stall limit the worker answers 503 on /ready.",
            ["agent"],
            registry=self.registry,
        )
        self.event_loop_lag = Histogram(
            "streamapp_event_loop_lag_seconds",
            "How late the worker's event loop woke a timer (every 0.5 s): at least part of "
            "the step running then. The Kafka consumer's heartbeats run on that loop: a "
            "step longer than STREAMAPP_SESSION_TIMEOUT moves the worker's partitions.",
            buckets=LOOP_LAG_BUCKETS,
            registry=self.registry,
        )
        self.agent_crashes = Counter(
            "streamapp_agent_crashes",
            "Agent bodies that raised out of the processing runtime and were restarted by "
            "faust (always 0 unless there is a bug in the runtime).",
            ["agent"],
            registry=self.registry,
        )
        self.last_event_at: dict[str, float] = {}

    def saw_event(self, feed: str) -> None:
        self.last_event_at[feed] = time.time()

    def exposition(self) -> bytes:
        now = time.time()
        for feed, at in self.last_event_at.items():
            self.feed_freshness.labels(feed).set(now - at)
        return generate_latest(self.registry)


class FaustMonitor(PrometheusMonitor):
    """faust's Prometheus monitor, recording the same metrics, with each labelled series
    looked up once per topic, partition, stream or table operation rather than on every
    message or table access (and the stream's label, a regular expression substitution,
    worked out once). Those lookups were most of faust's sensors, which took ~7 % of a
    worker in a replay and live (py-spy); the table operations' alone were ~1.5 % of a
    replaying worker's main thread on 2026-12-06 (py-spy). faust drops the per-partition
    series at each rebalance: so do the lookups kept here."""

    def __init__(self, metrics: FaustMetrics, **kwargs: Any) -> None:
        super().__init__(metrics=metrics, **kwargs)
        self._series: dict[tuple, Any] = {}

    def _labelled(self, metric: Any, **labels: Any) -> Any:
        key = (id(metric), *labels.values())
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = metric.labels(**labels)
        return series

    def on_message_in(self, tp: TP, offset: int, message: Any) -> None:
        Monitor.on_message_in(self, tp, offset, message)
        metrics = self._metrics
        metrics.messages_received.inc()
        metrics.active_messages.inc()
        self._labelled(metrics.messages_received_per_topics, topic=tp.topic).inc()
        self._labelled(
            metrics.messages_received_per_topics_partition, topic=tp.topic, partition=tp.partition
        ).set(offset)

    def on_stream_event_in(self, tp: TP, offset: int, stream: Any, event: Any) -> Any:
        state = Monitor.on_stream_event_in(self, tp, offset, stream, event)
        metrics = self._metrics
        metrics.total_events.inc()
        metrics.total_active_events.inc()
        series = self._series.get(("stream", stream))
        if series is None:
            label = f"stream.{self._stream_label(stream)}.events"
            series = self._series["stream", stream] = metrics.total_events_per_stream.labels(
                stream=label
            )
        series.inc()
        return state

    def on_send_initiated(
        self, producer: Any, topic: str, message: Any, keysize: int, valsize: int
    ) -> Any:
        self._labelled(self._metrics.topic_messages_sent, topic=f"topic.{topic}").inc()
        return Monitor.on_send_initiated(self, producer, topic, message, keysize, valsize)

    def on_table_get(self, table: Any, key: Any) -> None:
        Monitor.on_table_get(self, table, key)
        self._table_operation(table, self.KEYS_RETRIEVED).inc()

    def on_table_set(self, table: Any, key: Any, value: Any) -> None:
        Monitor.on_table_set(self, table, key, value)
        self._table_operation(table, self.KEYS_UPDATED).inc()

    def on_table_del(self, table: Any, key: Any) -> None:
        Monitor.on_table_del(self, table, key)
        self._table_operation(table, self.KEYS_DELETED).inc()

    def _table_operation(self, table: Any, operation: str) -> Any:
        return self._labelled(
            self._metrics.table_operations, table=f"table.{table.name}", operation=operation
        )

    def track_tp_end_offset(self, tp: TP, offset: int) -> None:
        Monitor.track_tp_end_offset(self, tp, offset)
        self._labelled(
            self._metrics.topic_partition_end_offset, topic=tp.topic, partition=tp.partition
        ).set(offset)

    def _clear_partition_related_metrics(self) -> None:
        super()._clear_partition_related_metrics()
        self._series.clear()
