"""faust's own metrics (offsets, rebalances, commit and send latency) come from its Prometheus
monitor, on the registry that /metrics serves."""

from __future__ import annotations

from collections import Counter
from functools import partial

from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from streamapp.app import create_app
from streamapp.metrics import FaustMonitor
from streamapp.settings import Settings


def test_the_app_monitor_records_faust_metrics_on_the_served_registry(tmp_path):
    app = create_app(Settings(store="memory://", sink_enabled=False, state_dir=tmp_path))
    assert isinstance(app.monitor, PrometheusMonitor)
    app.monitor.track_tp_end_offset(TP("sports.clean.games", 2), 120)
    app.monitor.on_tp_commit({TP("sports.clean.games", 2): 100})
    served = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(app.pipeline.metrics.exposition().decode())
        for sample in family.samples
    }
    labels = (("partition", "2"), ("topic", "sports.clean.games"))
    assert served[("faust_topic_partition_end_offset", labels)] == 120
    assert served[("faust_topic_partition_offset_commited", labels)] == 100
    assert ("faust_total_rebalances", ()) in served


class FakeAgent:  # faust looks streams and their agents up weakly
    def __str__(self) -> str:
        return "predict-games"


class FakeStream:
    shortlabel = "Stream: Topic: sports.clean.odds"
    task_owner = FakeAgent()


class FakeMessage:
    time_in = None


class FakeTable:
    name = "odds-book"


def test_the_app_monitor_records_what_fausts_own_records_looking_each_series_up_once():
    """Same hooks, same samples, before and after a rebalance drops the per-partition
    series (a lookup kept across it would record into a series no longer served)."""

    def samples(monitor, registry) -> dict:
        stream, odds, games = FakeStream(), TP("sports.clean.odds", 1), TP("sports.raw.games", 0)
        table = FakeTable()
        for offset in range(3):
            monitor.on_message_in(odds, offset, FakeMessage())
            monitor.on_stream_event_in(odds, offset, stream, None)
            monitor.on_send_initiated(None, "sports.predictions", None, 3, 40)
            monitor.on_table_get(table, "soccer:E0|g1")
            monitor.on_table_set(table, "soccer:E0|g1", {})
        monitor.on_table_del(table, "soccer:E0|g1")
        monitor.track_tp_end_offset(odds, 3)
        monitor._clear_partition_related_metrics()  # what faust does at each rebalance
        monitor.on_message_in(games, 7, FakeMessage())
        monitor.on_stream_event_in(games, 7, stream, None)
        monitor.on_send_initiated(None, "sports.predictions", None, 3, 40)
        monitor.track_tp_end_offset(games, 9)
        monitor.on_table_set(table, "soccer:E0|g1", {})
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(generate_latest(registry).decode())
            for sample in family.samples
            if not sample.name.endswith("_created")  # when each series was made
        }

    def counted(metrics: FaustMetrics) -> Counter:
        """``metrics`` with each labelled metric's lookups counted, by metric."""
        lookups = Counter()
        for name in dir(metrics):
            metric = getattr(metrics, name)
            if getattr(metric, "_labelnames", ()):
                metric.labels = partial(count_lookup, lookups, name, metric.labels)
        return lookups

    def count_lookup(lookups: Counter, name: str, labels, *args, **kwargs):
        lookups[name] += 1
        return labels(*args, **kwargs)

    recorded, lookups, tables = [], [], []
    for monitor_class in (PrometheusMonitor, FaustMonitor):
        registry = CollectorRegistry()
        metrics = FaustMetrics.create(registry, "faust")
        lookups.append(counted(metrics))
        monitor = monitor_class(metrics=metrics)
        recorded.append(samples(monitor, registry))
        state = monitor.tables["odds-book"]
        tables.append((state.keys_retrieved, state.keys_updated, state.keys_deleted))
    fausts, ours = recorded
    assert ours == fausts
    assert tables[0] == tables[1] == (3, 4, 1)  # faust's own counts, kept by both
    # Each series once per rebalance: the table's get, set and delete, then its set again.
    assert lookups[1]["table_operations"] == 4
    assert lookups[0]["table_operations"] == 8
    assert lookups[1]["messages_received_per_topics_partition"] == 2
    assert ours["faust_messages_received_per_topics_partition", (
        ("partition", "0"), ("topic", "sports.raw.games"))] == 7  # fmt: skip
    operations = (("operation", "keys_updated"), ("table", "table.odds-book"))
    assert ours["faust_table_operations_total", operations] == 4
    assert ("faust_topic_partition_end_offset", (
        ("partition", "1"), ("topic", "sports.clean.odds"))) not in ours  # fmt: skip
