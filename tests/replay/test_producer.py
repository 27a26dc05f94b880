"""The replay's watermarks, its producer replaced by one that records what it is handed (on
the broker, tests/integration/test_event_order.py proves what they are for)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from schemas.batches import batch_items, millis, watermark_of
from streamapp.replay import producer as replay_producer
from streamapp.replay.producer import raw_topics, replay
from streamapp.replay.sources import feed_event
from tests.schemas.examples import GAME, QUOTE

START = datetime(2021, 8, 20, 15, 0, tzinfo=UTC)


class RecordingProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes, list]] = []

    async def send(self, topic, value, key=None, headers=None):
        self.sent.append((topic, key, value, headers))
        delivered = asyncio.get_running_loop().create_future()
        delivered.set_result(None)
        return delivered

    async def flush(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def messages(self) -> list[tuple[str, bytes, str, object]]:
        """(topic, key, "events" or "watermark", the events' JSON or the watermark), in the
        order sent."""
        out = []
        for topic, key, value, headers in self.sent:
            through = watermark_of(headers)
            if through is not None:
                out.append((topic, key, "watermark", through))
            else:
                ids = [v for v, _ in batch_items(value, headers, 0.0)]
                out.append((topic, key, "events", ids))
        return out


@pytest.fixture
def recording(monkeypatch) -> RecordingProducer:
    recording = RecordingProducer()

    async def started(settings, **options):
        return recording

    async def topics_exist(settings, names) -> None:
        return None

    monkeypatch.setattr(replay_producer, "started_producer", started)
    monkeypatch.setattr(replay_producer, "ensure_topics", topics_exist)
    return recording


def at(minutes: float) -> str:
    return (START + timedelta(minutes=minutes)).isoformat()


def timeline():
    return [
        feed_event("games", **{**GAME, "event_time": at(0)}),
        feed_event("odds", **{**QUOTE, "event_time": at(10)}),
        feed_event("games", **{**GAME, "sport": "nba", "league": "NBA", "event_time": at(20)}),
    ]


def marks(recording: RecordingProducer) -> list[tuple[str, bytes, int]]:
    return [(t, k, w) for t, k, kind, w in recording.messages() if kind == "watermark"]


def test_a_replay_ends_every_league_on_every_raw_topic_with_a_watermark_after_its_events(
    settings, recording
):
    asyncio.run(replay(settings, timeline(), progress=False))
    last = millis((START + timedelta(minutes=20)).timestamp())
    expected = {(t, k, last) for t in raw_topics(settings) for k in (b"nba:NBA", b"soccer:E0")}
    assert set(marks(recording)) == expected and len(marks(recording)) == len(expected)
    kinds = [kind for _, _, kind, _ in recording.messages()]
    assert kinds == ["events"] * 3 + ["watermark"] * len(expected)


def test_a_replay_in_parts_stops_its_watermarks_short_of_the_last_instant(settings, recording):
    asyncio.run(replay(settings, timeline(), progress=False, complete=False))
    last = millis((START + timedelta(minutes=20)).timestamp())
    assert {through for _, _, through in marks(recording)} == {last - 1}


def test_a_paced_replay_sends_watermarks_while_it_pauses(settings, recording, monkeypatch):
    """Before it waits for an event's time, everything earlier has been sent: watermarks
    through the millisecond before it follow what was sent, for the leagues seen so far."""
    monkeypatch.setattr(replay_producer, "WATERMARK_EVERY", 0.0)
    asyncio.run(replay(settings, timeline(), speed=60_000.0, progress=False))
    messages = recording.messages()
    before_nba = messages.index(next(m for m in messages if m[1] == b"nba:NBA"))
    paused = [m for m in messages[:before_nba] if m[2] == "watermark"]
    nba_time = millis((START + timedelta(minutes=20)).timestamp())
    assert paused and {key for _, key, _, _ in paused} == {b"soccer:E0"}
    assert max(through for _, _, _, through in paused) == nba_time - 1
    first_mark = messages.index(paused[0])
    assert [m[2] for m in messages[:first_mark]] == ["events"]  # the fixture went first
