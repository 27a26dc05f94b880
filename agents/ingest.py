"""Ingest: raw bytes -> validated, deduplicated, in-order events on the clean topic keyed by
game; anything else -> the dead-letter topic with the reason and where it came from.

Messages are taken in small batches: a game's (or team's) events in a batch are judged
against its ordering state with one table read and one table write (see tables.feed_order).
A raw message may itself carry several events (schemas.batches); each is judged, and
parked, on its own. A raw watermark (schemas.batches) is checked and passed on to the
clean topic after the events that came before it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

import faust

from agents.pipeline import Pipeline
from agents.runtime import Checkpoint, Record, malformed_batch, run_batches
from schemas.base import Event, is_league_key
from schemas.batches import (
    TIMES_HEADER,
    WATERMARK_HEADER,
    event_batches,
    parse_watermark,
    watermark_message,
)
from schemas.deadletter import DeadLetter
from schemas.feeds import FEEDS, Feed, InvalidEvent, TimeWindow, parse_feed_event, printable
from tables.feed_order import Verdict, admit_game_events
from tables.keys import table_key

log = logging.getLogger(__name__)
MALFORMED_BATCH = (
    f"a batch whose {TIMES_HEADER} header does not give one event time per line; a producer "
    "that sends several events in one message writes one event's JSON per line and their "
    "times, in milliseconds, comma-separated in that header"
)


def validate_message(
    feed: Feed, key: bytes | None, payload: bytes | None, window: TimeWindow | None = None
) -> Event:
    """The event in a raw message, its event time inside ``window`` (the default one
    unless given), or InvalidEvent.

    Producers key raw messages by the event's partition key (its league): the state of a
    league lives on the partition that key selects, so a message keyed otherwise would be
    checked against the wrong state.
    """
    event = parse_feed_event(feed, payload, window)
    expected = event.partition_key
    if key is None or key.decode("utf-8", "replace") != expected:
        shown = "no key" if key is None else f"key {key.decode('utf-8', 'replace')!r}"
        raise InvalidEvent(
            f"message has {shown}; raw {feed.name} messages must be keyed by {expected!r} "
            "(the event's partition key)",
            "wrong_key",
        )
    return event


def validate_watermark(
    key: bytes | None, value: bytes | None, header: bytes, window: TimeWindow, now: float
) -> int:
    """A raw watermark's instant in milliseconds (its producer has sent every event of the
    key's league up to it), or InvalidEvent. ``window``: only its upper bound applies."""
    try:
        through = parse_watermark(header)
    except ValueError as error:
        raise InvalidEvent(str(error), "invalid_watermark") from None
    if value:
        raise InvalidEvent(
            f"a message with the {WATERMARK_HEADER} header carries no events; send events "
            "in messages of their own before it",
            "invalid_watermark",
        )
    if key is None or not is_league_key(key):
        shown = "no key" if key is None else f"key {printable(repr(key), 80)}"
        raise InvalidEvent(
            f'a watermark has {shown}; key it by the league it covers ("sport:league", '
            'e.g. "soccer:E0"), as that league\'s events',
            "wrong_key",
        )
    # Only the window's far end: a watermark from before its start says nothing of the
    # events that pass it, while one ahead of now would release what still has to come.
    if through / 1000 > now + window.max_ahead_seconds:
        at = datetime.fromtimestamp(through / 1000, UTC).isoformat()
        raise InvalidEvent(
            f"watermark {at} is more than {window.max_ahead_seconds:g} s ahead of now: its "
            "producer cannot have sent what happens later; send one up to the last event sent",
            "invalid_value",
        )
    return through


def make_ingest_agent(app: faust.App, pipeline: Pipeline, feed_name: str) -> faust.types.AgentT:
    feed = FEEDS[feed_name]
    source = pipeline.topics.raw[feed_name]
    clean = pipeline.topics.clean[feed_name]
    deadletter = pipeline.topics.deadletter
    order = pipeline.tables.feed_order[feed_name]
    metrics = pipeline.metrics
    source_name, clean_name = source.get_topic_name(), clean.get_topic_name()
    stage = f"ingest-{feed_name}"
    settings = pipeline.settings
    window = TimeWindow(settings.event_time_earliest, settings.event_time_max_ahead_seconds)

    async def dead_letter(
        record: Record, reason: str, error_type: str, checkpoint: Checkpoint
    ) -> None:
        message = record.message
        letter = DeadLetter.of(
            message, reason, error_type, stage=stage, item=record.index, payload=record.value
        )
        await checkpoint.send(deadletter, message.key, letter.to_json())
        checkpoint.count(metrics.dead_letters.labels(feed_name, error_type))

    async def parsed(
        batch, checkpoint: Checkpoint, watermarks: dict[bytes, int]
    ) -> dict[str, list[tuple[faust.types.EventT, Event]]]:
        """The batch's valid events grouped by game (or team), in arrival order, and its
        valid watermarks, the latest per key, into ``watermarks``; the rest dead-lettered."""
        games: dict[str, list] = {}
        received = time.time()
        latency = metrics.event_latency.labels(feed_name)
        for record in batch:
            await checkpoint.turn()
            message = record.message
            if record.watermark is not None:
                try:
                    through = validate_watermark(
                        message.key, record.value, record.watermark, window, received
                    )
                except InvalidEvent as invalid:
                    await dead_letter(record, invalid.reason, invalid.error_type, checkpoint)
                else:
                    watermarks[message.key] = max(watermarks.get(message.key, through), through)
                continue
            if malformed_batch(record):
                await dead_letter(record, MALFORMED_BATCH, "malformed_batch", checkpoint)
                continue
            try:
                event = validate_message(feed, message.key, record.value, window)
            except InvalidEvent as invalid:
                await dead_letter(record, invalid.reason, invalid.error_type, checkpoint)
                continue
            except Exception as error:  # a bug must not stop the partition: park the message
                log.exception("ingest-%s failed on %s:%d", feed_name, message.topic, message.offset)
                await dead_letter(record, f"internal error: {error!r}", "internal", checkpoint)
                continue
            latency.observe(max(0.0, received - event.event_time.timestamp()))
            games.setdefault(table_key(event.partition_key, event.order_group), []).append(
                (record, event)
            )
        return games

    async def handle(batch, checkpoint: Checkpoint) -> None:
        events_in = sum(record.watermark is None for record in batch)
        checkpoint.count(metrics.events_in.labels(source_name), events_in)
        if events_in:  # (a heartbeat alone says the feed is polled, not that it speaks)
            metrics.saw_event(feed_name)
        judged = []
        watermarks: dict[bytes, int] = {}
        for group, items in (await parsed(batch, checkpoint, watermarks)).items():
            first = items[0][0]
            verdicts, state = admit_game_events(
                checkpoint.get(order, group, first), [e for _, e in items]
            )
            if state is not None:
                # Marked as seen only once the clean events and dead letters are on the
                # broker: a worker killed in between sends them again (downstream state is
                # idempotent) rather than losing them.
                checkpoint.put(order, group, state, first)
            judged += [(*item, verdict) for item, verdict in zip(items, verdicts, strict=True)]
        # Out in the order the feed sent them (per partition), not grouped by game; one
        # clean message per league holds its accepted events (schemas.batches).
        judged.sort(key=lambda j: (j[0].message.partition, j[0].message.offset, j[0].index or 0))
        accepted: dict[bytes, list[tuple[bytes, float]]] = {}
        for record, event, verdict in judged:
            if verdict is Verdict.ACCEPT:
                accepted.setdefault(record.message.key, []).append(
                    (event.to_json(), event.event_time.timestamp())
                )
            elif verdict is Verdict.DUPLICATE:
                checkpoint.count(metrics.duplicates.labels(feed_name))
            else:
                await dead_letter(
                    record,
                    f"out of order: {event.event_time.isoformat()} is older than an "
                    f"event already processed for {event.ordering_key!r}",
                    "out_of_order",
                    checkpoint,
                )
        sends: dict[bytes, list[asyncio.Future]] = {}
        for key, events in accepted.items():
            for batch in event_batches(events):
                delivery = await checkpoint.send(
                    clean, key, batch.value, batch.timestamp, batch.headers
                )
                if key in watermarks:  # (awaited before them; nothing else waits here)
                    sends.setdefault(key, []).append(delivery)
            checkpoint.count(metrics.events_out.labels(clean_name), len(events))
        # After the events are on the broker: a send that failed for good and is sent again
        # when the batch is tried again must not land behind the watermark.
        await asyncio.gather(*(delivery for key in watermarks for delivery in sends.get(key, [])))
        for key, through in watermarks.items():
            mark = watermark_message(through)
            await checkpoint.send(clean, key, mark.value, mark.timestamp, mark.headers)

    @app.agent(source, name=stage)
    async def ingest(stream):
        await run_batches(stream, pipeline, handle, watermarks=True)

    return ingest
