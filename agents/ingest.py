"""Ingest: raw bytes -> validated, deduplicated, in-order events on the clean topic keyed by
game; anything else -> the dead-letter topic with the reason and where it came from."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import faust

from agents.pipeline import Pipeline
from schemas.base import Event
from schemas.deadletter import DeadLetter
from schemas.feeds import FEEDS, Feed, InvalidEvent, parse_feed_event
from tables.feed_order import Verdict, admit

log = logging.getLogger(__name__)


def validate_message(feed: Feed, key: bytes | None, payload: bytes | None) -> Event:
    """The event in a raw message, or InvalidEvent.

    Producers key raw messages by the event's partition key (the game id): the ordering
    state of a game lives on the partition that key selects, so a message keyed otherwise
    could be checked against the wrong state.
    """
    event = parse_feed_event(feed, payload)
    expected = event.partition_key
    if key is None or key.decode("utf-8", "replace") != expected:
        shown = "no key" if key is None else f"key {key.decode('utf-8', 'replace')!r}"
        raise InvalidEvent(
            f"message has {shown}; raw {feed.name} messages must be keyed by {expected!r} "
            "(the event's partition key)",
            "wrong_key",
        )
    return event


def make_ingest_agent(app: faust.App, pipeline: Pipeline, feed_name: str) -> faust.types.AgentT:
    feed = FEEDS[feed_name]
    source = pipeline.topics.raw[feed_name]
    clean = pipeline.topics.clean[feed_name]
    deadletter = pipeline.topics.deadletter
    order = pipeline.tables.feed_order[feed_name]
    metrics = pipeline.metrics
    source_name = source.get_topic_name()

    async def dead_letter(message, reason: str, error_type: str) -> None:
        letter = DeadLetter.for_message(
            reason=reason,
            error_type=error_type,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            payload=message.value,
            received_at=datetime.now(UTC),
        )
        await deadletter.send(key=message.key, value=letter.to_json())
        metrics.dead_letters.labels(feed_name, error_type).inc()

    @app.agent(source, name=f"ingest-{feed_name}")
    async def ingest(stream):
        async for record in stream.events():
            message = record.message
            metrics.events_in.labels(source_name).inc()
            try:
                event = validate_message(feed, message.key, message.value)
                verdict, state = admit(order.get(event.ordering_key), event)
            except InvalidEvent as invalid:
                await dead_letter(message, invalid.reason, invalid.error_type)
                continue
            except Exception as error:  # a bug must not stop the partition: park the message
                log.exception("ingest-%s failed on %s:%d", feed_name, message.topic, message.offset)
                await dead_letter(message, f"internal error: {error!r}", "internal")
                continue
            if verdict is Verdict.DUPLICATE:
                metrics.duplicates.labels(feed_name).inc()
                continue
            if verdict is Verdict.OUT_OF_ORDER:
                await dead_letter(
                    message,
                    f"out of order: {event.event_time.isoformat()} is older than an event "
                    f"already processed for {event.ordering_key!r}",
                    "out_of_order",
                )
                continue
            order[event.ordering_key] = state
            await clean.send(key=message.key, value=event.to_json())
            metrics.events_out.labels(clean.get_topic_name()).inc()

    return ingest
