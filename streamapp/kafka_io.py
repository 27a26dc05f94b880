"""Small Kafka chores outside the faust worker: topics, message counts, consumer lag, reads."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from schemas.batches import batch_items
from streamapp.errors import StackError
from streamapp.settings import Settings

log = logging.getLogger(__name__)
READ_SECONDS = 30.0  # longest a read of what a topic holds may take


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


async def _partitions(consumer: AIOKafkaConsumer, names: list[str]) -> list[TopicPartition]:
    """The partitions of ``names`` the broker has now (the consumer should have no
    assignment: its metadata then covers every topic)."""
    await consumer._client.force_metadata_update()
    return [
        TopicPartition(name, p)
        for name in names
        for p in sorted(consumer.partitions_for_topic(name) or ())
    ]


async def _offsets(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition]
) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
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
        await consumer.stop()
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


async def group_lag(settings: Settings, group: str, names: list[str]) -> int | None:
    """Messages of ``names`` the consumer group has not committed yet.

    None while that cannot be told yet: no commits, or the group coordinator still loading
    (a fresh broker creates its offsets topic on first use).
    """
    async with TopicWatch(settings) as watch:
        lags = await watch.lags(group, names)
    return None if lags is None else sum(lags.values())


async def event_counts(settings: Settings, names: list[str]) -> dict[str, int]:
    """Events held by each topic (a clean message holds a batch of them: schemas.batches),
    counted by reading the committed records: offsets would also count the markers that
    exactly-once transactions leave."""
    async with TopicWatch(settings, names) as watch:
        return await watch.counts(timeout=READ_SECONDS * len(names))


class TopicWatch:
    """A consumer group's lag and the events on some topics, polled while a run goes on.

    One admin client and two consumers stay open across polls, and each counted message is
    read once, as it comes. Reading the output topics again from the beginning at every
    poll took the watching process ~30 % of a core by the end of a season's replay: taken
    from the two cores the watched worker and its broker share."""

    def __init__(self, settings: Settings, counted: Sequence[str] = ()) -> None:
        self.settings, self.counted = settings, list(counted)
        self.events = dict.fromkeys(self.counted, 0)
        self._next: dict[TopicPartition, int] = {}  # the next offset to count, per partition
        self._known: dict[str, list[TopicPartition]] = {}  # a topic keeps its partitions
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> TopicWatch:
        async with contextlib.AsyncExitStack() as stack:
            self._admin = await stack.enter_async_context(kafka_admin(self.settings))
            # The lag is counted to the end of each log, the events of committed records.
            self._ends = await _started_consumer(self.settings)
            stack.push_async_callback(self._ends.stop)
            if self.counted:
                self._consumer = await _started_consumer(
                    self.settings, enable_auto_commit=False, isolation_level="read_committed"
                )
                stack.push_async_callback(self._consumer.stop)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stack.aclose()

    async def lags(self, group: str, names: list[str]) -> dict[str, int] | None:
        """Per topic, the messages ``group`` has not committed yet (None as for group_lag)."""
        try:
            committed = await self._admin.list_consumer_group_offsets(group)
        except KafkaError as error:
            if not error.retriable:
                raise
            log.info("group offsets of %s not available yet: %s", group, error)
            return None
        partitions = await self._partitions(names)
        end = await self._ends.end_offsets(partitions) if partitions else {}
        if not committed and any(end.values()):
            return None
        lags = dict.fromkeys(names, 0)
        for tp, last in end.items():
            lags[tp.topic] += max(0, last - (committed[tp].offset if tp in committed else 0))
        return lags

    async def counts(self, timeout: float = READ_SECONDS) -> dict[str, int]:
        """The events each counted topic holds now (a message may hold a batch of them)."""
        consumer = self._consumer  # assigned: its metadata covers only what it counts
        partitions = await self._partitions(self.counted)
        if new := [tp for tp in partitions if tp not in self._next]:
            self._next |= await consumer.beginning_offsets(new)
            consumer.assign(list(self._next))  # a new assignment forgets the positions
            for tp, offset in self._next.items():
                consumer.seek(tp, offset)
        end = await consumer.end_offsets(partitions) if partitions else {}
        async for records in _read_to(consumer, end, timeout):
            for record in records:
                self.events[record.topic] += len(batch_items(record.value, record.headers, 0.0))
        for tp in self._next:
            self._next[tp] = await consumer.position(tp)
        return dict(self.events)

    async def _partitions(self, names: list[str]) -> list[TopicPartition]:
        """Looked up until the broker has a topic: the metadata of every topic is far
        larger than the offsets a poll asks for."""
        if unknown := [name for name in names if name not in self._known]:
            for tp in await _partitions(self._ends, unknown):
                self._known.setdefault(tp.topic, []).append(tp)
        return [tp for name in names for tp in self._known.get(name, ())]


async def _read_to(
    consumer: AIOKafkaConsumer, end: dict[TopicPartition, int], timeout: float
) -> AsyncIterator[list[ConsumerRecord]]:
    """The records of the assigned partitions from their positions up to ``end``."""
    wanted = {tp: last for tp, last in end.items() if last > await consumer.position(tp)}
    deadline = asyncio.get_running_loop().time() + timeout
    while wanted and asyncio.get_running_loop().time() < deadline:
        batch = await consumer.getmany(*wanted, timeout_ms=500, max_records=10_000)
        for records in batch.values():
            yield records
        # The position passes transaction markers, which are never returned as records.
        for tp in list(wanted):
            if await consumer.position(tp) >= wanted[tp]:
                del wanted[tp]
    if wanted:
        log.warning("read for %.0f s and still short of the end of %s", timeout, sorted(wanted))


async def read_all(
    settings: Settings, name: str, timeout: float = READ_SECONDS
) -> list[ConsumerRecord]:
    """Every message the topic holds now, from the beginning."""
    consumer = await _started_consumer(
        settings, enable_auto_commit=False, isolation_level="read_committed"
    )
    try:
        begin, end = await _offsets(consumer, await _partitions(consumer, [name]))
        consumer.assign(list(begin))
        for tp, first in begin.items():
            consumer.seek(tp, first)
        return [record async for records in _read_to(consumer, end, timeout) for record in records]
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
