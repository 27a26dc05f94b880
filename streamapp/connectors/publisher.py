"""What the connectors parsed, onto the broker: only the changes, each to its raw topic keyed
by its league, and every fault to the dead-letter topic.

A poll's changes go out as one message per league and feed (schemas.batches). They and
the poll's letters are all acknowledged by the broker before the snapshot that records
them is stored (on a compacted topic), so a connector killed in between sends them again
on restart (with the same event ids: ingest drops the copies), and one that restarts
or takes over after the store sends nothing that was sent before. A fault (an unknown team,
a value out of range) is reported once, and again only when its reason changes; a whole
response that cannot be read is parked as it came.

A poll that answers for a league's feed whole (a scoreboard, a sport's odds), changed or
not, ends with a watermark (schemas.batches) through its reception: everything of that
feed up to then has been sent, so a prediction never waits for a quiet feed, not even one
read back after a worker's downtime, when its events are no longer live
(tables.event_merge).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NamedTuple

import orjson
from aiokafka import AIOKafkaProducer

from schemas.base import Event
from schemas.batches import event_batches, millis, watermark_message
from schemas.deadletter import DeadLetter
from schemas.feeds import FEEDS
from streamapp.connectors.changes import Snapshot, detect_changes, identity
from streamapp.connectors.parsing import NOT_FOLLOWED, Parsed
from streamapp.kafka_io import ensure_topics, read_all
from streamapp.settings import Settings

log = logging.getLogger(__name__)
FEED_OF_MODEL = {feed.model: feed for feed in FEEDS.values()}
# Where a connector's letters say they came from (not a topic: `deadletters replay` refuses
# them, the provider is polled again once the parser is fixed).
LETTER_SOURCE_PREFIX = "connect:"
SNAPSHOT_TOPIC = "connect.sent"


class Covered(NamedTuple):
    """A feed of one league that a poll answers for whole."""

    feed: str  # "games", "odds" (schemas.feeds.FEEDS)
    league: str  # its key, "sport:league"


class Snapshots:
    """Per source, what was last sent (``changes.Snapshot``), kept on a compacted topic
    keyed by source: whichever `connect` process leads next reads them back (``load``),
    so a takeover or a restart sends only what changed meanwhile."""

    def __init__(self, settings: Settings, producer: AIOKafkaProducer) -> None:
        self.settings = settings
        self.producer = producer
        self.topic = settings.topic(SNAPSHOT_TOPIC)
        self.sources: dict[str, Snapshot] = {}

    async def load(self) -> None:
        await ensure_topics(self.settings, [self.topic], 1, {"cleanup.policy": "compact"})
        self.sources = {
            record.key.decode(): orjson.loads(record.value)
            for record in await read_all(self.settings, self.topic)
        }
        log.info("%d feeds' last sent state read back", len(self.sources))

    def get(self, source: str) -> Snapshot:
        return self.sources.get(source, {})

    async def put(self, source: str, snapshot: Snapshot) -> None:
        await (await self.producer.send(self.topic, orjson.dumps(snapshot), key=source.encode()))
        self.sources[source] = snapshot


class Publisher:
    def __init__(self, settings: Settings, producer: AIOKafkaProducer) -> None:
        self.settings = settings
        self.producer = producer
        self.snapshots = Snapshots(settings, producer)
        self.deadletter_topic = settings.topic("deadletter")

    async def publish(self, source: str, parsed: Parsed) -> int:
        """Send what changed in ``parsed`` since the last poll of ``source``; how many
        events were sent."""
        previous = self.snapshots.get(source)
        changes = detect_changes(previous, parsed.events)
        # Only what this response holds is kept, so the snapshot stays the size of one
        # response all season; something that leaves and comes back unchanged is sent
        # again with the same event id, and ingest drops it as a duplicate.
        shown = {identity(event) for event in parsed.events}
        snapshot = {key: value for key, value in changes.snapshot.items() if key in shown}
        deliveries = await self._send_events(changes.events)
        for skipped in parsed.skipped:
            if skipped.error_type == NOT_FOLLOWED:
                continue
            fault = f"fault|{skipped.item}"
            snapshot[fault] = skipped.reason
            if previous.get(fault) == skipped.reason:
                continue  # reported already
            letter = self._letter(
                source, f"{skipped.item}: {skipped.reason}", skipped.error_type,
                skipped.item.encode(),
            )  # fmt: skip
            deliveries.append(await self._send_letter(letter))
        await asyncio.gather(*deliveries)
        await self.snapshots.put(source, snapshot)
        if changes.events:
            log.info("%s: %d changes sent", source, len(changes.events))
        return len(changes.events)

    async def park_response(self, source: str, url: str, status: int, body: bytes, reason: str):
        """A whole response its parser could not read, as it came, with the reason."""
        letter = self._letter(
            source, f"HTTP {status} from {url}: {reason}", "malformed_response", body
        )
        await (await self._send_letter(letter))

    async def _send_events(self, events: list[Event]) -> list[asyncio.Future]:
        """A poll's events of each league and feed as one message (schemas.batches), as
        the provider delivered them together."""
        grouped: dict[tuple[str, bytes], list[tuple[bytes, float]]] = {}
        for event in events:
            topic = self.settings.topic(FEED_OF_MODEL[type(event)].raw_topic)
            grouped.setdefault((topic, event.partition_key.encode()), []).append(
                (event.to_json(), event.event_time.timestamp())
            )
        return [
            await self.producer.send(topic, batch.value, key=key, headers=batch.headers)
            for (topic, key), batch_events in grouped.items()
            for batch in event_batches(batch_events)
        ]

    async def send_watermarks(self, covers: Sequence[Covered], received: float) -> None:
        """A watermark through ``received`` (seconds) for each feed ``covers`` names: call
        it once the poll's events are on the broker, so that none comes behind it."""
        mark = watermark_message(millis(received))
        deliveries = [
            await self.producer.send(
                self.settings.topic(FEEDS[covered.feed].raw_topic),
                mark.value,
                key=covered.league.encode(),
                headers=mark.headers,
            )
            for covered in covers
        ]
        await asyncio.gather(*deliveries)

    async def _send_letter(self, letter: DeadLetter) -> asyncio.Future:
        return await self.producer.send(self.deadletter_topic, letter.to_json())

    @staticmethod
    def _letter(source: str, reason: str, error_type: str, payload: bytes) -> DeadLetter:
        received = datetime.now(UTC)
        return DeadLetter.for_message(
            reason=f"{source}: {reason}",
            error_type=error_type,
            topic=f"{LETTER_SOURCE_PREFIX}{source}",
            partition=0,
            # A letter's identity (PostgreSQL's key) is stage, source, partition and offset:
            # a response has no offset, its reception time in microseconds stands for one.
            offset=int(received.timestamp() * 1_000_000),
            key=None,
            payload=payload,
            received_at=received,
            stage=f"connect-{source.split(':', 1)[0]}",
        )
