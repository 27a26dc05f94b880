"""Prometheus metrics of one worker (its own registry, so several apps can share a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
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
        self.table_keys = Gauge(
            "streamapp_table_keys",
            "Keys held locally, by table.",
            ["table"],
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
