"""Produce a timeline of raw events to the raw topics, as fast as possible or paced."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from tqdm import tqdm

from schemas.feeds import FEEDS
from streamapp.kafka_io import ensure_topics, started_producer
from streamapp.replay.sources import FeedEvent
from streamapp.settings import Settings

log = logging.getLogger(__name__)

# Futures awaited together: bounds memory while keeping the producer's batches full.
IN_FLIGHT = 5_000


@dataclass
class ReplayReport:
    sent: Counter = field(default_factory=Counter)  # raw topic -> messages
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.sent.values())


@dataclass(frozen=True)
class RawMessage:
    """A message to put on a raw topic as is (used for the synthetic malformed ones)."""

    feed: str
    key: bytes | None
    value: bytes


def raw_topics(settings: Settings) -> list[str]:
    return [settings.topic(feed.raw_topic) for feed in FEEDS.values()]


async def replay(
    settings: Settings,
    events: Sequence[FeedEvent],
    speed: float = 0.0,
    extra: Sequence[RawMessage] = (),
    progress: bool = True,
) -> ReplayReport:
    """Send ``events`` in order; ``speed`` 0 means as fast as possible, N means N x real time.

    ``extra`` messages are interleaved evenly through the replay.
    """
    await ensure_topics(settings, raw_topics(settings))
    producer = await started_producer(
        settings, acks="all", enable_idempotence=True, linger_ms=20, max_batch_size=512 * 1024
    )
    report = ReplayReport()
    started = time.monotonic()
    every = max(1, len(events) // (len(extra) + 1)) if extra else 0
    pending: list[asyncio.Future] = []
    first_time = events[0].event_time if events else None
    try:
        for index, event in enumerate(tqdm(events, unit="ev", disable=not progress, desc="replay")):
            if speed > 0:
                due = (event.event_time - first_time).total_seconds() / speed
                wait = due - (time.monotonic() - started)
                if wait > 0:
                    await asyncio.sleep(wait)
            topic = settings.topic(FEEDS[event.feed].raw_topic)
            pending.append(await producer.send(topic, event.to_bytes(), key=event.key.encode()))
            report.sent[topic] += 1
            if every and index % every == every - 1 and index // every < len(extra):
                message = extra[index // every]
                topic = settings.topic(FEEDS[message.feed].raw_topic)
                pending.append(await producer.send(topic, message.value, key=message.key))
                report.sent[topic] += 1
            if len(pending) >= IN_FLIGHT:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        await producer.flush()
    finally:
        await producer.stop()
    report.seconds = time.monotonic() - started
    return report
