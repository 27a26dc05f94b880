"""Rebuilding a worker's tables from their changelogs in bulk, before faust's recovery.

faust restores a table record by record: every changelog record is decoded, passed through
the conductor and a queue, and checked against every partition's remaining count: a
season's tables took it 7 s (~4,000 records/s), a plain consumer read them in 0.3 s. So
once a rebalance has opened the stores of this worker's active partitions, each of their
changelogs is read by a plain consumer (no group) from the store's persisted offset to the
high watermark, and the raw records are written into the store by write batch (faust's own
``apply_changelog_batch``, which also persists the offset), only the last record of a key
in each fetch, as compaction would keep it. faust's recovery then starts
from those offsets and reads only what arrived since. If the bulk read fails, nothing is
lost: the store holds a prefix of its changelog with the matching offset, and faust's
recovery reads the rest. Standby partitions are left to faust, which follows them anyway.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from faust.stores.rocksdb import Store as RocksDBStore
from faust.tables.manager import TableManager
from faust.tables.recovery import Recovery
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth, server_list
from faust.types import TP, AppT

from tables.definitions import DurableTable

log = logging.getLogger(__name__)
FETCH_MAX_BYTES = 64 * 1024 * 1024  # a fetch holds many large records (whole table values)
PARTITION_FETCH_MAX_BYTES = 16 * 1024 * 1024
POLL_TIMEOUT_MS = 1000
STALL_SECONDS = 30.0  # no record for this long: left to faust's recovery


@dataclass(frozen=True, slots=True)
class ChangelogMessage:
    """What faust's RocksDB store reads of a changelog record."""

    tp: TP
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class ChangelogEvent:
    message: ChangelogMessage


@dataclass
class Restored:
    """One bulk restore: what was read and how long it took (consumer start to last write)."""

    records: int = 0
    bytes: int = 0
    seconds: float = 0.0
    partitions: int = 0

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


def as_event(record: ConsumerRecord) -> ChangelogEvent:
    tp = TP(record.topic, record.partition)
    return ChangelogEvent(
        ChangelogMessage(tp, record.partition, record.offset, record.key, record.value)
    )


def first_offsets(tables: dict[TP, DurableTable]) -> dict[TP, int | None]:
    """Where each changelog partition's store stops: the offset after the last one it
    applied, or None (read from the earliest record kept)."""
    first = {}
    for tp, table in tables.items():
        persisted = table.persisted_offset(tp)
        first[tp] = None if persisted is None else persisted + 1
    return first


def consumer_for(app: AppT) -> AIOKafkaConsumer:
    """A plain consumer of the app's brokers, in no group, that never commits."""
    conf = app.conf
    return AIOKafkaConsumer(
        bootstrap_servers=server_list(conf.broker_consumer, 9092),
        client_id=f"{conf.broker_client_id}-restore",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_bytes=FETCH_MAX_BYTES,
        max_partition_fetch_bytes=PARTITION_FETCH_MAX_BYTES,
        **credentials_to_aiokafka_auth(conf.broker_credentials, conf.ssl_context),
    )


async def restore_in_bulk(app: AppT, tables: dict[TP, DurableTable]) -> Restored:
    """Brings the store of every changelog partition in ``tables`` up to the partition's
    high watermark at the time of the call. Raises TimeoutError if no record comes for
    STALL_SECONDS while some are missing."""
    started = time.monotonic()
    restored = Restored()
    consumer = consumer_for(app)
    await consumer.start()
    try:
        firsts = first_offsets(tables)
        partitions = [TopicPartition(*tp) for tp in tables]
        # assigned (and paused: nothing to fetch yet), their topics' metadata comes in one
        # request; unassigned, end_offsets asks for it one topic per retry
        consumer.assign(partitions)
        consumer.pause(*partitions)
        ends = await consumer.end_offsets(partitions)
        todo = {tp for tp, end in ends.items() if (firsts[tp] or 0) < end}
        if not todo:
            return restored  # (and never assign() nothing: aiokafka's stop() then hangs)
        consumer.assign(list(todo))
        for tp in todo:
            # below the earliest offset kept (compaction, retention) the consumer starts
            # at the earliest
            consumer.seek(tp, firsts[tp] or 0)
        restored.partitions = len(todo)
        last_record_at = time.monotonic()
        while todo:
            fetched = await consumer.getmany(*todo, timeout_ms=POLL_TIMEOUT_MS)
            for tp, records in fetched.items():
                # a key's last record in the fetch is all the store keeps of it (as
                # compaction would): the earlier ones are never written
                latest = {r.key: r for r in records}
                events = [as_event(r) for r in latest.values()]
                tables[tp].apply_compacted_changelog(events, replayed=len(records))
                restored.records += len(records)
                restored.bytes += sum(len(r.value or b"") for r in records)
                last_record_at = time.monotonic()
            for tp in list(todo):
                if await consumer.position(tp) >= ends[tp]:
                    # a compacted tail or a transaction marker may leave the last offsets
                    # without records: the store is at the high watermark all the same
                    tables[tp].data.set_persisted_offset(TP(*tp), ends[tp] - 1)
                    todo.discard(tp)
            if todo and time.monotonic() - last_record_at > STALL_SECONDS:
                raise TimeoutError(f"no changelog record for {STALL_SECONDS:g} s")
    finally:
        await consumer.stop()
        restored.seconds = time.monotonic() - started
    return restored


class BulkRecovery(Recovery):
    """faust's recovery, with the active changelogs restored in bulk first."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last_restore = Restored()  # for the worker's metrics

    async def on_rebalance(
        self, assigned: set[TP], revoked: set[TP], newly_assigned: set[TP], generation_id: int = 0
    ) -> None:
        # faust ignores a rebalance already superseded; so does the bulk restore
        if generation_id == self.app.consumer_generation_id:
            await self._restore_actives()
        await super().on_rebalance(assigned, revoked, newly_assigned, generation_id)

    async def _restore_actives(self) -> None:
        self.last_restore = Restored()
        by_topic = {t.changelog_topic.get_topic_name(): t for t in self.tables.values()}
        actives = {
            tp: by_topic[tp.topic]
            for tp in self.app.assignor.assigned_actives()
            if tp.topic in by_topic
            and isinstance(by_topic[tp.topic], DurableTable)
            and isinstance(by_topic[tp.topic].data, RocksDBStore)
        }
        if not actives:
            return
        try:
            restored = await restore_in_bulk(self.app, actives)
        except Exception:  # faust's recovery reads whatever the bulk read did not
            log.exception("bulk restore of %d changelog partitions failed", len(actives))
            return
        self.last_restore = restored
        if restored.partitions:
            log.info(
                "bulk restore: %d changelog records (%.1f MB) of %d partitions in %.2f s, "
                "%.0f records/s",
                restored.records,
                restored.bytes / 1e6,
                restored.partitions,
                restored.seconds,
                restored.records_per_second,
            )


class BulkRestoringTableManager(TableManager):
    """faust's table manager, recovering with :class:`BulkRecovery`."""

    @property
    def recovery(self) -> BulkRecovery:
        if self._recovery is None:
            self._recovery = BulkRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery
