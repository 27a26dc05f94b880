"""An app on the in-memory store, whose output topics record what agents send to them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace
from unittest.mock import AsyncMock

import pytest
from faust.agents.agent import _current_agent
from faust.types import TP

from schemas.batches import batch_items, watermark_of
from streamapp.app import create_app
from tables.definitions import ChangelogRecord, DurableTable

TEST_AGENT = "test-agent"


@pytest.fixture
def app(settings, monkeypatch):
    # State stored after every batch: these tests read it right after each event (the
    # commit interval has its own tests in test_runtime.py).
    app = create_app(
        settings.model_copy(update={"store": "memory://", "commit_interval_seconds": 0})
    )
    app.finalize()
    for table in app.pipeline.tables.all().values():
        monkeypatch.setattr(table, "send_records", acknowledged_at_once(table))
    app.flow_control.resume()
    app.pipeline.registry_loaded.set()  # no control topic here: the built-in version
    app.pipeline.progress.seeks = False  # no consumer here: events come in the order put
    # A checkpoint a test commits itself writes as this agent; agents write as themselves.
    writing = _current_agent.set(SimpleNamespace(name=TEST_AGENT))
    yield app
    _current_agent.reset(writing)


def acknowledged_at_once(table: DurableTable) -> Callable:
    """Changelog records as if the broker acknowledged them at once: no producer runs
    here, and with state stored after every batch an agent takes its next batch only once
    the last one's table writes are acknowledged."""
    topic = table.changelog_topic.get_topic_name()
    offsets: dict[int, int] = {}

    async def send_records(records: list[ChangelogRecord]) -> list[asyncio.Future]:
        deliveries = []
        for record in records:
            offsets[record.partition] = offset = offsets.get(record.partition, -1) + 1
            delivery = asyncio.get_running_loop().create_future()
            delivery.set_result(SimpleNamespace(topic_partition=TP(topic, record.partition),
                                                offset=offset))  # fmt: skip
            deliveries.append(delivery)
        return deliveries

    return send_records


@pytest.fixture
def sent(app, monkeypatch):
    """topic name -> list of (key, value) the agents sent there: one per event (the
    events of a clean message holding a batch one by one, as its readers take them);
    "<topic name> watermarks" -> list of (key, watermark in ms) sent there; "order" -> (topic
    name, key, "events" or "watermark") of every message, in the order sent."""
    record: dict[str, list[tuple]] = {"order": []}
    topics = app.pipeline.topics
    outputs = [topics.deadletter, topics.predictions, topics.alerts, topics.settlements]
    for topic in [*topics.clean.values(), *outputs]:
        name = topic.get_topic_name()
        record[name], record[f"{name} watermarks"] = [], []

        async def send(*, key=None, value=None, headers=None, _name=name, **_):
            events = batch_items(value, headers, 0.0)
            record[_name] += [(key, event) for event, _ in events]
            if (through := watermark_of(headers)) is not None:
                record[f"{_name} watermarks"].append((key, through))
            record["order"].append((_name, key, "events" if events else "watermark"))
            delivered = asyncio.get_running_loop().create_future()
            delivered.set_result(None)  # like faust's future of the broker's acknowledgement
            return delivered

        monkeypatch.setattr(topic, "send", AsyncMock(side_effect=send))
    return record
