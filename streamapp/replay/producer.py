"""Produce a timeline of raw events to the raw topics, as fast as possible or paced.

The replay ends every league's feeds with a watermark (schemas.batches): it has sent all
their events, so predictions need not wait for a feed that has nothing more to say. A
paced replay also sends them while it pauses, at most once every ``WATERMARK_EVERY``
seconds, so a feed quiet for a while holds nothing back meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from tqdm import tqdm

from schemas.batches import event_batches, millis, watermark_message
from schemas.feeds import FEEDS
from streamapp.kafka_io import ensure_topics, started_producer
from streamapp.replay.sources import FeedEvent
from streamapp.settings import Settings

log = logging.getLogger(__name__)

# Messages awaited together: bounds memory while keeping the producer's batches full.
IN_FLIGHT = 500
# Consecutive events of the timeline sent together: each league's events of a window go
# to each raw topic as one message (schemas.batches), as a feed's poll delivers them. A
# window is small enough that no event waits behind later ones for long.
WINDOW = 1_000
WATERMARK_EVERY = 1.0  # seconds, in a paced replay


@dataclass
class ReplayReport:
    sent: Counter = field(default_factory=Counter)  # raw topic -> events
    messages: int = 0
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
    complete: bool = True,
) -> ReplayReport:
    """Send ``events`` in order; ``speed`` 0 means as fast as possible, N means N x real time.

    ``extra`` messages are interleaved evenly through the replay. The watermarks at the end
    say the feeds are complete up to the last event's instant; ``complete=False`` (a
    timeline sent in parts: more may follow at that instant) only up to the one before.
    """
    await ensure_topics(settings, raw_topics(settings))
    producer = await started_producer(
        settings, acks="all", enable_idempotence=True, linger_ms=20, max_batch_size=512 * 1024
    )
    report = ReplayReport()
    started = time.monotonic()
    every = max(1, len(events) // (len(extra) + 1)) if extra else 0
    pending: list[asyncio.Future] = []
    window: dict[tuple[str, bytes], list[tuple[bytes, float]]] = {}
    first_time = events[0].event_time if events else None

    async def send(topic: str, key: bytes | None, value: bytes, headers=None) -> None:
        pending.append(await producer.send(topic, value, key=key, headers=headers))
        report.messages += 1
        if len(pending) >= IN_FLIGHT:
            await asyncio.gather(*pending)
            pending.clear()

    async def send_window() -> None:
        for (topic, key), batch in window.items():
            for message in event_batches(batch):
                await send(topic, key, message.value, message.headers)
        window.clear()

    leagues: set[bytes] = set()
    watermarked = time.monotonic()

    async def send_watermarks(through: int) -> None:
        """Every league's feeds, on every raw topic: sent up to ``through`` (ms)."""
        nonlocal watermarked
        mark = watermark_message(through)
        for topic in raw_topics(settings):
            for key in sorted(leagues):
                await send(topic, key, mark.value, mark.headers)
        watermarked = time.monotonic()

    try:
        for index, event in enumerate(tqdm(events, unit="ev", disable=not progress, desc="replay")):
            if speed > 0:
                due = (event.event_time - first_time).total_seconds() / speed
                wait = due - (time.monotonic() - started)
                if wait > 0:
                    await send_window()  # what is due now goes before the pause
                    if time.monotonic() - watermarked >= WATERMARK_EVERY:
                        await send_watermarks(millis(event.event_time.timestamp()) - 1)
                    await asyncio.sleep(wait)
            topic = settings.topic(FEEDS[event.feed].raw_topic)
            leagues.add(event.key.encode())
            window.setdefault((topic, event.key.encode()), []).append(
                (event.to_bytes(), event.event_time.timestamp())
            )
            report.sent[topic] += 1
            if every and index % every == every - 1 and index // every < len(extra):
                await send_window()
                message = extra[index // every]
                topic = settings.topic(FEEDS[message.feed].raw_topic)
                await send(topic, message.key, message.value)
                report.sent[topic] += 1
            if index % WINDOW == WINDOW - 1:
                await send_window()
        await send_window()
        if events:
            last = millis(max(event.event_time for event in events).timestamp())
            await send_watermarks(last if complete else last - 1)
        await asyncio.gather(*pending)
        await producer.flush()
    finally:
        await producer.stop()
    report.seconds = time.monotonic() - started
    return report
