"""The provisioned Grafana dashboard asks only for metrics and labels the workers export."""

from __future__ import annotations

import json
import re

import yaml
from prometheus_client.metrics import MetricWrapperBase

from streamapp.metrics import Metrics
from streamapp.settings import PROJECT_ROOT

DOCKER = PROJECT_ROOT / "docker"
SUFFIXES = ("_total", "_bucket", "_sum", "_count", "_created")
METRIC_NAME = re.compile(r"\b(?:streamapp|faust)_[a-z_]+")


def exported() -> dict[str, MetricWrapperBase]:
    """metric family name -> the metric, for every family of a worker's registry."""
    metrics = Metrics()
    families = {family.name for family in metrics.registry.collect()}
    objects = [*vars(metrics).values(), *metrics.faust]
    by_name = {
        family.name: metric
        for metric in objects
        if isinstance(metric, MetricWrapperBase)
        for family in metric.describe()
    }
    assert families == set(by_name), "every family of the registry is a metric of Metrics"
    return by_name


def has_labels(metric: MetricWrapperBase, labels: list[str]) -> bool:
    """Whether the metric has these labels: ``remove_by_labels`` refuses an unknown label
    name (and removes nothing from a fresh registry)."""
    try:
        metric.remove_by_labels(dict.fromkeys(labels, ""))
    except ValueError:
        return False
    return True


def test_every_panel_queries_an_exported_metric_with_its_labels():
    dashboard = json.loads((DOCKER / "grafana" / "dashboards" / "streamapp.json").read_text())
    families = exported()
    assert len(dashboard["panels"]) >= 10
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            names = METRIC_NAME.findall(expr)
            assert names, expr
            for name in names:
                family = next((name.removesuffix(s) for s in SUFFIXES if name.endswith(s)), name)
                assert family in families, f"{panel['title']}: {name} is not exported"
                for grouping in re.findall(r"by \(([^)]*)\)", expr):
                    used = [x.strip() for x in grouping.split(",")]
                    used = [x for x in used if x not in ("le", "instance")]
                    assert not used or has_labels(families[family], used), (name, used)


def test_compose_provisions_grafana_and_scrapes_every_replica():
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services = compose["services"]
    assert {"kafka", "postgres", "worker", "prometheus", "grafana"} <= set(services)
    assert "container_name" not in services["worker"]  # replicas must be allowed
    assert "ports" not in services["worker"]  # replicas cannot share a host port
    mounts = " ".join(services["grafana"]["volumes"])
    assert "grafana/provisioning" in mounts and "grafana/dashboards" in mounts
    scrape = yaml.safe_load((DOCKER / "prometheus.yml").read_text())["scrape_configs"][0]
    assert scrape["dns_sd_configs"][0]["names"] == ["worker"]
