"""The provisioned Grafana dashboard asks only for metrics and labels the workers export."""

from __future__ import annotations

import json
import re

import yaml

from streamapp.metrics import Metrics
from streamapp.settings import PROJECT_ROOT

DOCKER = PROJECT_ROOT / "docker"
SUFFIXES = ("_total", "_bucket", "_sum", "_count", "_created")


def exported() -> dict[str, set[str]]:
    """metric family name -> its label names."""
    families = {}
    for collector in Metrics().registry._collector_to_names:  # every metric of the registry
        name = collector._name
        if collector._type == "counter":
            name = name.removesuffix("_total")
        families[name] = set(collector._labelnames)
    return families


def test_every_panel_queries_an_exported_metric_with_its_labels():
    dashboard = json.loads((DOCKER / "grafana" / "dashboards" / "streamapp.json").read_text())
    families = exported()
    assert len(dashboard["panels"]) >= 10
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            names = re.findall(r"streamapp_[a-z_]+", expr)
            assert names, expr
            for name in names:
                family = next((name.removesuffix(s) for s in SUFFIXES if name.endswith(s)), name)
                assert family in families, f"{panel['title']}: {name} is not exported"
                for label in re.findall(r"by \(([^)]*)\)", expr):
                    for used in (x.strip() for x in label.split(",")):
                        if used not in ("le", "instance"):
                            assert used in families[family], f"{name} has no label {used}"


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
