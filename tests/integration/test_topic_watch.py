"""TopicWatch against the real broker: events counted as they come (batches, single events,
no watermark, nothing of an aborted transaction), a topic that appears later counted from
its beginning, and the group's lag per topic."""

from __future__ import annotations

import uuid

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from schemas.batches import event_batches, watermark_message
from streamapp.kafka_io import TopicWatch, ensure_topics, event_counts, started_producer


async def send(producer, topic: str, message, partition: int = 0) -> None:
    await producer.send_and_wait(topic, message.value, partition=partition, headers=message.headers)


def batch(*names: str):
    return next(event_batches((f'{{"id": "{name}"}}'.encode(), 1.7e9) for name in names))


async def test_events_are_counted_as_they_come(settings, stack):
    run = uuid.uuid4().hex[:8]
    first, later = f"watch-{run}-first", f"watch-{run}-later"
    await ensure_topics(settings, [first], partitions=2)
    producer = await started_producer(settings, acks="all")
    aborting = await started_producer(settings, transactional_id=f"watch-{run}")
    try:
        await send(producer, first, batch("a", "b", "c"))
        await producer.send_and_wait(first, b'{"id": "d"}', partition=1)  # one event, no header
        await send(producer, first, watermark_message(1_700_000_000_000), partition=1)
        async with TopicWatch(settings, [first, later]) as watch:
            assert await watch.counts() == {first: 4, later: 0}

            await aborting.begin_transaction()
            await send(aborting, first, batch("never", "counted"))
            await aborting.abort_transaction()
            await send(producer, first, batch("e", "f"), partition=1)
            await ensure_topics(settings, [later], partitions=1)
            await send(producer, later, batch("g"))
            assert await watch.counts() == {first: 6, later: 1}
            assert await watch.counts() == {first: 6, later: 1}  # nothing new: nothing added

        assert await event_counts(settings, [first, later]) == {first: 6, later: 1}
    finally:
        await aborting.stop()
        await producer.stop()


async def test_the_lag_is_what_the_group_has_not_committed_per_topic(settings, stack):
    run = uuid.uuid4().hex[:8]
    topic, quiet, group = f"lag-{run}", f"lag-{run}-quiet", f"lag-{run}-group"
    await ensure_topics(settings, [topic, quiet], partitions=2)
    producer = await started_producer(settings, acks="all")
    try:
        for partition, messages in ((0, 3), (1, 2)):
            for _ in range(messages):
                await producer.send_and_wait(topic, b"{}", partition=partition)
    finally:
        await producer.stop()
    async with TopicWatch(settings) as watch:
        assert await watch.lags(group, [topic]) is None  # no commits: not known yet

        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers, group_id=group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            consumer.assign([TopicPartition(topic, 0)])
            await consumer.commit({TopicPartition(topic, 0): OffsetAndMetadata(2, "")})
        finally:
            await consumer.stop()
        assert await watch.lags(group, [topic, quiet]) == {
            topic: 3,
            quiet: 0,
        }  # 1 + 2 of partition 1
