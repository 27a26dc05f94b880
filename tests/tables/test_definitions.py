"""The tables' store: faust's RocksDB store without a full garbage collection per table on
a rebalance that closes none of its databases, nor at a stop that needs none."""

from __future__ import annotations

import gc

import pytest
from faust.stores.memory import Store as MemoryStore
from faust.types import TP
from rocksdict import Rdict

from streamapp.app import create_app
from tables.definitions import RebalanceStore


@pytest.fixture
def full_collections():
    """How many full garbage collections ran since the test began."""
    seen = []

    def count(phase, info):
        if phase == "start" and info["generation"] == 2:
            seen.append(info)

    gc.callbacks.append(count)
    yield seen
    gc.callbacks.remove(count)


def test_the_tables_of_a_rocksdb_app_use_the_rebalance_store_and_memory_ones_do_not(settings):
    on_disk = create_app(settings).pipeline.tables.league_ratings
    in_memory = create_app(settings.model_copy(update={"store": "memory://"}))
    assert type(on_disk.data) is RebalanceStore
    assert type(in_memory.pipeline.tables.league_ratings.data) is MemoryStore


def test_a_rebalance_closes_a_revoked_database_and_collects_only_then(settings, full_collections):
    table = create_app(settings).pipeline.tables.league_ratings
    store = table.data
    changelog = table.changelog_topic.get_topic_name()
    store._db_for_partition(0)[b"league"] = b"{}"  # partition 0's database is open
    full_collections.clear()  # (building the app may have made one)

    store.revoke_partitions(table, {TP(changelog, 1), TP("another-topic", 0)})
    assert list(store._dbs) == [0]
    assert full_collections == []  # nothing of this table closed: nothing to free

    store.revoke_partitions(table, {TP(changelog, 0)})
    assert store._dbs == {}
    assert len(full_collections) == 1  # faust's own collection, which frees the handle


async def test_a_stopping_store_closes_its_databases_without_a_full_collection(
    settings, full_collections
):
    store = create_app(settings).pipeline.tables.league_ratings.data
    store._db_for_partition(0)[b"league"] = b"{}"
    path = store.partition_path(0)
    full_collections.clear()
    await store.stop()
    assert store._dbs == {} and full_collections == []
    reopened = Rdict(str(path))  # RocksDB's lock was released: the database is closed
    assert reopened[b"league"] == b"{}"
    reopened.close()


async def test_a_database_a_garbage_cycle_holds_is_closed_by_a_collection(
    settings, full_collections
):
    store = create_app(settings).pipeline.tables.league_ratings.data
    path = store.partition_path(0)
    cycle = [store._db_for_partition(0)]
    cycle.append(cycle)  # unreachable once dropped, but only a collection frees it
    del cycle
    full_collections.clear()
    await store.stop()
    assert store._dbs == {} and len(full_collections) == 1
    Rdict(str(path)).close()  # closed by the collection
