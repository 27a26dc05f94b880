"""faust's own metrics (offsets, rebalances, commit and send latency) come from its Prometheus
monitor, on the registry that /metrics serves."""

from __future__ import annotations

from faust.sensors.prometheus import PrometheusMonitor
from faust.types import TP
from prometheus_client.parser import text_string_to_metric_families

from streamapp.app import create_app
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
