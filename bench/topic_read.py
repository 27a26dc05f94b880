"""The ceiling of a plain Kafka client here: an aiokafka consumer (no group, every
partition) reading whole topics once, timed from its start to the last record, counting
the events of messages that carry a batch (schemas.batches) by their lines."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from aiokafka import AIOKafkaConsumer

from schemas.batches import TIMES_HEADER, WATERMARK_HEADER, message_header
from streamapp.settings import Settings


@dataclass
class TopicRead:
    records: int
    bytes: int  # keys and values
    seconds: float
    # topic -> [records, bytes, events]
    by_topic: dict[str, list[int]] = field(default_factory=dict)

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0

    @property
    def events(self) -> int:
        return sum(counts[2] for counts in self.by_topic.values())

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def megabytes_per_second(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict:
        return asdict(self) | {
            "records_per_second": self.records_per_second,
            "events": self.events,
            "events_per_second": self.events_per_second,
            "megabytes_per_second": self.megabytes_per_second,
        }


async def read_topics(settings: Settings, topics: list[str]) -> TopicRead:
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        # a table's value can pass the default 1 MB (STREAMAPP_MAX_MESSAGE_BYTES)
        max_partition_fetch_bytes=settings.max_message_bytes,
    )
    started = time.perf_counter()
    await consumer.start()
    try:
        end = await consumer.end_offsets(list(consumer.assignment()))
        remaining = {tp for tp, last in end.items() if last > 0}
        by_topic: dict[str, list[int]] = {}
        while remaining:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for tp, messages in batch.items():
                counts = by_topic.setdefault(tp.topic, [0, 0, 0])
                counts[0] += len(messages)
                counts[1] += sum(len(m.key or b"") + len(m.value or b"") for m in messages)
                counts[2] += sum(events_in(m) for m in messages)
                if messages[-1].offset + 1 >= end[tp]:
                    remaining.discard(tp)
        seconds = time.perf_counter() - started
        records = sum(counts[0] for counts in by_topic.values())
        return TopicRead(records, sum(counts[1] for counts in by_topic.values()), seconds, by_topic)
    finally:
        await consumer.stop()


def events_in(message) -> int:
    """Events a message carries: one per line of a batch, none in a watermark, else one."""
    if message_header(message.headers, WATERMARK_HEADER) is not None:
        return 0
    if message_header(message.headers, TIMES_HEADER) is None:
        return 1
    return (message.value or b"").count(b"\n") + 1
