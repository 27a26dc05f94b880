"""The dashboard's pushed predictions and alerts: per-league filtering, bounded queues, the
tail read only while someone listens, and the server-sent events route served by faust's web
server (Kafka replaced by a fake consumer)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import faust
import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import TopicPartition

from agents.pipeline import define_topics
from schemas.batches import event_batches
from streamapp.views import dashboard, live
from tables.keys import checked_league

E0, NBA = "soccer:E0", "nba:NBA"


class FakeConsumer:
    """What the tail uses of AIOKafkaConsumer; tests feed it records with ``deliver``."""

    made: list[FakeConsumer] = []

    def __init__(self, **options) -> None:
        self.options = options
        self.assigned: list[TopicPartition] = []
        self.records: asyncio.Queue = asyncio.Queue()
        self.positioned = self.stopped = False
        FakeConsumer.made.append(self)

    async def start(self) -> None:
        pass

    def assign(self, partitions) -> None:
        self.assigned = list(partitions)

    async def seek_to_end(self, *partitions) -> None:
        assert set(partitions) == set(self.assigned)

    async def position(self, partition) -> int:
        self.positioned = True
        return 0

    async def getmany(self, timeout_ms: int) -> dict:
        try:
            topic, key, value, headers = await asyncio.wait_for(
                self.records.get(), timeout_ms / 1000
            )
        except TimeoutError:
            return {}
        return {TopicPartition(topic, 0): [SimpleNamespace(key=key, value=value, headers=headers)]}

    async def stop(self) -> None:
        self.stopped = True

    def deliver(self, topic: str, league: str, *values: dict) -> None:
        """One message holding ``values``: a batch of events when more than one."""
        if len(values) == 1:
            value, headers = orjson.dumps(values[0]), None
        else:
            [batch] = event_batches((orjson.dumps(v), 0.0) for v in values)
            value, headers = batch.value, batch.headers
        self.records.put_nowait((topic, league.encode(), value, headers))


class BrokerAway(FakeConsumer):
    async def start(self) -> None:
        raise ConnectionError("no broker at 127.0.0.1:1")


def event(league: str, n: int = 0) -> live.LiveEvent:
    return live.LiveEvent("alert", league, orjson.dumps({"league": league, "n": n}))


def test_a_frame_is_one_server_sent_event():
    frame = live.LiveEvent("prediction", E0, b'{"a": 1}').frame()
    assert frame == b'event: prediction\ndata: {"a": 1}\n\n'
    assert live.LiveEvent("alert", E0, b"{\n}").frame() == b"event: alert\ndata: {\ndata: }\n\n"


def test_a_listener_keeps_its_league_and_drops_the_oldest_when_behind():
    listener = live.Listener(E0, size=3)
    for n in range(5):
        listener.offer(event(E0, n))
        listener.offer(event(NBA, n))
    kept = [orjson.loads(listener.queue.get_nowait().data)["n"] for _ in range(3)]
    assert kept == [2, 3, 4] and listener.dropped == 2 and listener.queue.empty()
    every_league = live.Listener(None)
    every_league.offer(event(NBA))
    assert every_league.queue.qsize() == 1


@pytest.mark.parametrize("value", ["E0", "soccer:", ":E0", "soccer:E0|Arsenal"])
def test_a_league_is_sport_colon_league(value):
    with pytest.raises(ValueError, match="sport:league"):
        checked_league(value)
    assert checked_league(E0) == E0


async def test_the_tail_runs_only_while_someone_listens():
    FakeConsumer.made.clear()
    feed = live.LiveFeed({"preds": "prediction", "alerts": "alert"}, 4, FakeConsumer)
    async with feed.listen(E0) as soccer, feed.listen(None) as everything:
        consumer = FakeConsumer.made[0]
        assert consumer.positioned and len(consumer.assigned) == 8
        consumer.deliver("alerts", NBA, {"n": 1})
        consumer.deliver("preds", E0, {"n": 2})
        first, second = [await asyncio.wait_for(everything.queue.get(), 5) for _ in range(2)]
        assert (first.kind, first.league, second.kind) == ("alert", NBA, "prediction")
        only = await asyncio.wait_for(soccer.queue.get(), 5)
        assert only == second and soccer.queue.empty()
    assert consumer.stopped and not feed.listeners
    async with feed.listen(E0):
        assert len(FakeConsumer.made) == 2  # a fresh tail for the next page


async def test_a_tail_that_cannot_start_is_reported_and_retried():
    feed = live.LiveFeed({"alerts": "alert"}, 1, BrokerAway)
    with pytest.raises(live.FeedUnavailable, match="no broker"):
        async with feed.listen(E0):
            pass
    assert not feed.listeners


@pytest.fixture
async def client(settings, monkeypatch):
    """The app's own web server, its Kafka consumer replaced by FakeConsumer."""
    FakeConsumer.made.clear()
    monkeypatch.setattr(dashboard, "AIOKafkaConsumer", FakeConsumer)
    app = faust.App(settings.app_id, autodiscover=False, web_enabled=True)
    pipeline = SimpleNamespace(settings=settings, topics=define_topics(app, settings))
    dashboard.register(app, pipeline)
    async with TestClient(TestServer(app.web.web_app)) as test_client:
        test_client.topics = pipeline.topics
        yield test_client


async def next_event(response) -> bytes:
    return await asyncio.wait_for(response.content.readuntil(b"\n\n"), 5)


async def test_the_events_route_streams_one_leagues_predictions_and_alerts(client):
    response = await client.get("/dashboard/events", params={"league": E0})
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    assert await next_event(response) == b"retry: 3000\nevent: ready\ndata: {}\n\n"
    consumer = FakeConsumer.made[0]
    assert consumer.options.get("group_id") is None  # takes no partitions from the agents
    alerts = client.topics.alerts.get_topic_name()
    predictions = client.topics.predictions.get_topic_name()
    consumer.deliver(alerts, NBA, {"game_id": "nba-1"})
    consumer.deliver(predictions, E0, {"game_id": "E0-1"})
    assert await next_event(response) == b'event: prediction\ndata: {"game_id":"E0-1"}\n\n'
    consumer.deliver(predictions, E0, {"game_id": "E0-2"}, {"game_id": "E0-3"})  # a batch
    assert await next_event(response) == b'event: prediction\ndata: {"game_id":"E0-2"}\n\n'
    assert await next_event(response) == b'event: prediction\ndata: {"game_id":"E0-3"}\n\n'
    response.close()  # the page goes away: found at a later write, its listener removed
    for n in range(50):
        if consumer.stopped:
            break
        consumer.deliver(alerts, E0, {"game_id": f"E0-{n}"})
        await asyncio.sleep(0.1)
    assert consumer.stopped, "the tail kept reading after the last page left"


async def test_a_quiet_stream_sends_heartbeats_and_ends_when_the_worker_stops(client, monkeypatch):
    monkeypatch.setattr(live, "HEARTBEAT_SECONDS", 0.1)
    response = await client.get("/dashboard/events")
    await next_event(response)  # ready
    assert await next_event(response) == b": heartbeat\n\n"
    await client.app.shutdown()  # what the web server does when the worker stops
    assert await asyncio.wait_for(response.content.read(), 5) == b""


async def test_a_malformed_league_is_refused(client):
    response = await client.get("/dashboard/events", params={"league": "E0"})
    assert response.status == 400
    assert "sport:league" in (await response.json())["error"]
