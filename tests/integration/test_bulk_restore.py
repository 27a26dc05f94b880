"""tables.bulk_restore on the real broker: a table's RocksDB store brought up to its
changelog's high watermark, from the offset the store had already applied."""

from __future__ import annotations

import asyncio

import pytest
from faust.types import TP
from rocksdict import AccessType, Options, Rdict

from streamapp.app import create_app
from streamapp.kafka_io import ensure_topics, started_producer
from tables.bulk_restore import restore_in_bulk

TABLE = "team-form"


async def produce(settings, topic: str, partition: int, records: list[tuple[bytes, bytes | None]]):
    producer = await started_producer(settings)
    try:
        for key, value in records:
            await producer.send_and_wait(topic, value, key=key, partition=partition)
    finally:
        await producer.stop()


def stored(table, partition: int) -> dict[bytes, bytes]:
    """What the partition's RocksDB holds, read beside the store (read-only)."""
    store = table.data
    db = Rdict(str(store.partition_path(partition)), Options(raw_mode=True),
               access_type=AccessType.read_only())  # fmt: skip
    try:
        return {k: v for k, v in db.items() if k != store.offset_key}
    finally:
        db.close()


def test_a_store_is_brought_to_the_high_watermark_from_its_persisted_offset(stack, settings):
    settings = settings.model_copy(update={"sink_enabled": False})
    app = create_app(settings)
    table = app.tables[TABLE]
    topic = table.changelog_topic.get_topic_name()
    fresh, resumed = TP(topic, 0), TP(topic, 1)
    asyncio.run(ensure_topics(settings, [topic]))
    # fresh: never applied, read from the start; a key rewritten, a key deleted
    asyncio.run(
        produce(
            settings,
            topic,
            fresh.partition,
            [(b"a", b'"a1"'), (b"b", b'"b1"'), (b"a", b'"a2"'), (b"c", b'"c1"'), (b"c", None)],
        )
    )
    # resumed: its store says it applied offsets 0-1 already (it never saw "old")
    asyncio.run(
        produce(
            settings,
            topic,
            resumed.partition,
            [(b"old", b'"o1"'), (b"old", b'"o2"'), (b"d", b'"d1"'), (b"e", b'"e1"')],
        )
    )
    table.data.set_persisted_offset(resumed, 1)

    restored = asyncio.run(restore_in_bulk(app, {fresh: table, resumed: table}))

    assert stored(table, fresh.partition) == {b"a": b'"a2"', b"b": b'"b1"'}
    assert stored(table, resumed.partition) == {b"d": b'"d1"', b"e": b'"e1"'}
    assert (restored.records, restored.partitions) == (5 + 2, 2)
    assert table.changelog_records_applied == 5 + 2  # read, if not all written
    assert restored.bytes == len(b'"a1""b1""a2""c1"') + len(b'"d1""e1"')
    # faust's recovery starts after these: nothing is read twice
    assert table.persisted_offset(fresh) == 4
    assert table.persisted_offset(resumed) == 3
    again = asyncio.run(restore_in_bulk(app, {fresh: table, resumed: table}))
    assert (again.records, again.partitions) == (0, 0)


def test_a_bulk_restore_that_fails_part_way_leaves_each_store_whole_or_untouched(stack, settings):
    """The bulk read is an optimisation: if it fails (here the store refuses a write of
    partition 1), what it wrote is a whole fetch with its offset, and the next restore
    (faust's recovery, or the next rebalance's bulk read) starts where that left off."""
    settings = settings.model_copy(update={"sink_enabled": False})
    app = create_app(settings)
    table = app.tables[TABLE]
    topic = table.changelog_topic.get_topic_name()
    records = {
        0: [(b"a", b'"a1"'), (b"b", b'"b1"')],
        1: [(b"c", b'"c1"'), (b"d", b'"d1"'), (b"c", b'"c2"')],
    }
    whole = {0: {b"a": b'"a1"', b"b": b'"b1"'}, 1: {b"c": b'"c2"', b"d": b'"d1"'}}
    asyncio.run(ensure_topics(settings, [topic]))
    for partition, written in records.items():
        asyncio.run(produce(settings, topic, partition, written))
    tps = {TP(topic, partition): table for partition in records}
    apply = table.apply_compacted_changelog

    def refusing_partition_1(events, replayed):
        if events[0].message.partition == 1:
            raise OSError("No space left on device")
        apply(events, replayed)

    table.apply_compacted_changelog = refusing_partition_1
    with pytest.raises(OSError):
        asyncio.run(restore_in_bulk(app, tps))
    del table.apply_compacted_changelog  # the class's method again

    for partition in records:
        offset = table.persisted_offset(TP(topic, partition))
        if offset is None:
            assert stored(table, partition) == {}
        else:
            assert (stored(table, partition), offset) == (whole[partition], 1 + partition)
    assert table.persisted_offset(TP(topic, 1)) is None
    restored_before = {p for p in records if table.persisted_offset(TP(topic, p)) is not None}

    again = asyncio.run(restore_in_bulk(app, tps))
    assert again.records == sum(len(r) for p, r in records.items() if p not in restored_before)
    for partition in records:
        assert stored(table, partition) == whole[partition]
        assert table.persisted_offset(TP(topic, partition)) == len(records[partition]) - 1
