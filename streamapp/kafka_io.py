"""Small Kafka chores outside the faust worker: topics, message counts, consumer lag, reads."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from schemas.batches import batch_items
from streamapp.errors import StackError
from streamapp.settings import Settings

log = logging.getLogger(__name__)
TOPIC_WAIT_POLLS = 100
MARKER_SLACK = 2  # a gap this small may be transaction markers only


def unreachable(settings: Settings, error: Exception) -> StackError:
    return StackError(
        f"Kafka at {settings.bootstrap_servers} is not reachable ({error}); start it with "
        "`streamapp stack up`, or set STREAMAPP_BROKER to a running broker."
    )


@contextlib.asynccontextmanager
async def kafka_admin(settings: Settings) -> AsyncIterator[AIOKafkaAdminClient]:
    """A started admin client of the broker, closed after use; a StackError that names the
    fix when the broker cannot be reached."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    try:
        await admin.start()
    except KafkaConnectionError as error:
        raise unreachable(settings, error) from error
    try:
        yield admin
    finally:
        await admin.close()


async def ensure_topics(
    settings: Settings,
    names: list[str],
    partitions: int | None = None,
    config: dict[str, str] | None = None,
) -> None:
    async with kafka_admin(settings) as admin:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        count = partitions or settings.topic_partitions
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(n, count, 1, topic_configs=config) for n in missing]
                )


async def _offsets(
    consumer: AIOKafkaConsumer, names: list[str]
) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    partitions = [
        TopicPartition(name, p)
        for name in names
        for p in sorted(consumer.partitions_for_topic(name) or ())
    ]
    if not partitions:
        return {}, {}
    return (
        await consumer.beginning_offsets(partitions),
        await consumer.end_offsets(partitions),
    )


async def _started_consumer(settings: Settings, **options) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, **options)
    try:
        await consumer.start()
    except KafkaConnectionError as error:
        raise unreachable(settings, error) from error
    return consumer


async def started_producer(settings: Settings, **options) -> AIOKafkaProducer:
    """A started producer of the app's broker (stopped again if it cannot reach it)."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, **options)
    try:
        await producer.start()
    except KafkaConnectionError as error:
        await producer.stop()
        raise unreachable(settings, error) from error
    return producer


async def event_counts(settings: Settings, names: list[str]) -> dict[str, int]:
    """Events held by each topic (a clean message holds a batch of them: schemas.batches),
    counted by reading the committed records: offsets would also count the markers that
    exactly-once transactions leave."""
    return {name: len(await read_events(settings, name)) for name in names}


async def _holds_records(settings: Settings, tp: TopicPartition, start: int, end: int) -> bool:
    """Whether committed records lie in [start, end): with exactly-once processing the last
    offset of a partition can be a transaction marker, which no consumer ever sees."""
    consumer = await _started_consumer(
        settings, enable_auto_commit=False, isolation_level="read_committed"
    )
    try:
        consumer.assign([tp])
        consumer.seek(tp, start)
        batch = await consumer.getmany(tp, timeout_ms=1000)
        return any(record.offset < end for record in batch.get(tp, []))
    finally:
        await consumer.stop()


async def group_lag(settings: Settings, group: str, names: list[str]) -> int | None:
    """Messages of ``names`` the consumer group has not committed yet.

    None while that cannot be told yet: no commits, or the group coordinator still loading
    (a fresh broker creates its offsets topic on first use).
    """
    consumer = await _started_consumer(settings)
    try:
        async with kafka_admin(settings) as admin:
            try:
                committed = await admin.list_consumer_group_offsets(group)
            except KafkaError as error:
                if not error.retriable:
                    raise
                log.info("group offsets of %s not available yet: %s", group, error)
                return None
        await consumer._client.force_metadata_update()
        _, end = await _offsets(consumer, names)
        if not committed and any(end.values()):
            return None
        return sum(
            max(0, last - (committed[tp].offset if tp in committed else 0))
            for tp, last in end.items()
        )
    finally:
        await consumer.stop()


async def read_all(settings: Settings, name: str, timeout: float = 30.0) -> list[ConsumerRecord]:
    """Every message the topic holds now, from the beginning."""
    consumer = await _started_consumer(
        settings, enable_auto_commit=False, isolation_level="read_committed"
    )
    try:
        await consumer._client.force_metadata_update()
        begin, end = await _offsets(consumer, [name])
        wanted = {tp: last for tp, last in end.items() if last > begin[tp]}
        if not wanted:
            return []
        consumer.assign(list(wanted))
        for tp in wanted:
            consumer.seek(tp, begin[tp])
        records: list[ConsumerRecord] = []
        deadline = asyncio.get_running_loop().time() + timeout
        while wanted and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for messages in batch.values():
                records.extend(messages)
            # The position passes transaction markers, which are never returned as records.
            for tp in list(wanted):
                if await consumer.position(tp) >= wanted[tp]:
                    del wanted[tp]
        return records
    finally:
        await consumer.stop()


async def read_events(settings: Settings, name: str) -> list[bytes]:
    """Every event the topic holds now, in topic order: each one's JSON (a message may hold
    a batch of them: schemas.batches)."""
    return [
        event
        for record in await read_all(settings, name)
        for event, _ in batch_items(record.value, record.headers, 0.0)
    ]
