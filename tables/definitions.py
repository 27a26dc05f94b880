"""The faust tables of the app, each with its help text.

Every key starts with the league ("sport:league"), the key of every topic (tables.keys),
so a table partition holds whole leagues and a league prefix is a range of keys.
"""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NamedTuple

import faust
from faust.agents.agent import current_agent
from faust.stores import by_url
from faust.stores.base import SerializedStore
from faust.stores.rocksdb import Store as RocksDBStore
from faust.types import TP

from schemas.feeds import FEEDS

RATE_WINDOW = timedelta(minutes=1)
RATE_EXPIRES = timedelta(hours=6)


# How many references ``stop`` counts to a database only its store holds (its dict, the
# loop's name, getrefcount's argument), counted the same way: the count depends on the
# interpreter.
ONLY_THE_STORE_HOLDS = next(sys.getrefcount(value) for value in {0: object()}.values())


class RebalanceStore(RocksDBStore):
    """faust's RocksDB store, without the full garbage collections faust makes where
    nothing needs them. faust makes one per table on every rebalance and as each table
    stops, to free the handles of the databases it closes; with a season's state alive
    each takes 40-165 ms, so a worker given partitions stalled for about a second, and a
    worker's stop took 1-2 s more."""

    async def stop(self) -> None:
        """Closes the databases: a dropped database closes at once. Only when something
        else still refers to one is a collection made, as faust's: it closes a database
        held by a garbage reference cycle (one held by anything alive stays open, as
        under faust)."""
        self.logger.info("Closing rocksdb on stop")
        held = any(sys.getrefcount(db) > ONLY_THE_STORE_HOLDS for db in self._dbs.values())
        self._dbs.clear()
        if held:
            gc.collect()

    def revoke_partitions(self, table: faust.types.CollectionT, tps: set) -> None:
        if any(
            tp.topic in table.changelog_topic.topics and tp.partition in self._dbs for tp in tps
        ):
            super().revoke_partitions(table, tps)

    def store_newest_offsets(self, offsets: Mapping[TP, int]) -> None:
        """Stores each changelog partition's newest acknowledged offset, unless its database
        was closed (a partition revoked meanwhile is not opened again) or holds a newer one
        (a partition rebuilt meanwhile keeps the offset its rebuild reached)."""
        for tp, offset in offsets.items():
            if tp.partition in self._dbs and offset > (self.persisted_offset(tp) or -1):
                self.set_persisted_offset(tp, offset)


class ChangelogRecord(NamedTuple):
    partition: int
    key: bytes | None
    value: bytes | None
    headers: Any


class DurableTable(faust.Table):
    """A faust table whose changelog writes are sent, and waited for, by the commit of the
    agent that made them (``Tables.written``): faust sends them through a buffer that
    nothing waits for, so an input offset could be committed before the state it produced
    is on the broker (see agents.runtime). Under at-least-once the table keeps each write's
    record and the commit hands them to the producer itself (faust's buffer cost a task
    step, a future and a callback per record, and held every consumed message back while
    it flushed: README, Benchmark); under exactly-once faust's transactional producer must
    send them, as faust does. Each table is written by one agent, so a key's records leave
    in the order written."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # agent name -> the changelog records of its writes, not yet handed to the producer
        self.unsent: dict[str, list[ChangelogRecord]] = {}
        # agent name -> its writes' sends through faust's buffer (exactly-once), not awaited
        self.unacknowledged: dict[str, list[faust.types.FutureMessage]] = {}
        # changelog partition -> its newest acknowledged offset not yet in the store
        self.acknowledged: dict[TP, int] = {}
        self.changelog_records_applied = 0  # recovery and standby updates (operations)

    def _new_store_by_url(self, url: Any) -> faust.types.StoreT:
        if by_url(url) is not RocksDBStore:
            return super()._new_store_by_url(url)
        return RebalanceStore(
            url,
            self.app,
            self,
            table_name=self.name,
            key_type=self.key_type,
            key_serializer=self.key_serializer,
            value_serializer=self.value_serializer,
            value_type=self.value_type,
            loop=self.loop,
            options=self.options,
        )

    def apply_changelog_batch(self, batch: list[faust.types.EventT]) -> None:
        super().apply_changelog_batch(batch)
        self.changelog_records_applied += len(batch)

    def apply_compacted_changelog(self, batch: list[faust.types.EventT], replayed: int) -> None:
        """Writes ``batch``: the last record of each key among ``replayed`` changelog
        records (tables.bulk_restore), which all count as applied."""
        super().apply_changelog_batch(batch)
        self.changelog_records_applied += replayed

    def __setitem__(self, key: Any, value: Any) -> None:
        # faust encodes a value twice, for the changelog and for the store; encoded bytes
        # pass through both unchanged (the serializers skip bytes), so it is encoded once.
        # A memory store keeps objects, not bytes: it gets the value itself.
        if isinstance(self.data, SerializedStore):
            value = self.app.serializers.dumps_value(
                self.value_type, value, serializer=self.value_serializer
            )
        super().__setitem__(key, value)

    # on_key_set and on_key_del are faust 0.15.3's (faust.tables.table.Table), with the
    # changelog record kept for the commit instead of handed to faust's buffer.
    def on_key_set(self, key: Any, value: Any) -> None:
        partition = self._changelog_write(self.partition_for_key(key), key, value)
        self._maybe_set_key_ttl(key, partition)
        self._sensor_on_set(self, key, value)

    def on_key_del(self, key: Any) -> None:
        partition = self._changelog_write(self.partition_for_key(key), key, None, "raw")
        self._maybe_del_key_ttl(key, partition)
        self._sensor_on_del(self, key)

    def _changelog_write(
        self, partition: int | None, key: Any, value: Any, value_serializer: Any = None
    ) -> int:
        """The write's changelog record, kept for the writing agent's commit (sent through
        faust's transactional producer under exactly-once); its partition."""
        agent = current_agent()
        if agent is None:  # nothing would send its record
            raise RuntimeError(
                f"{self.name} written outside an agent: tables are written by an agent's "
                "commit (agents.runtime), which sends their changelog records"
            )
        if self.app.in_transaction:
            sent = self.send_changelog(partition, key, value, value_serializer=value_serializer)
            self.unacknowledged.setdefault(agent.name, []).append(sent)
            return sent.message.partition
        topic = self.changelog_topic
        headers = topic.prepare_headers(None)
        key, headers = topic.prepare_key(key, self.key_serializer, None, headers)
        value, headers = topic.prepare_value(
            value, value_serializer or self.value_serializer, None, headers
        )
        if partition is None:
            partition = self.app.producer.key_partition(topic.get_topic_name(), key).partition
        self.unsent.setdefault(agent.name, []).append(
            ChangelogRecord(partition, key, value, headers)
        )
        return partition

    async def send_records(self, records: list[ChangelogRecord]) -> list[asyncio.Future]:
        """Hands ``records`` to the producer, in order; their deliveries (each the broker's
        acknowledgement: aiokafka's RecordMetadata)."""
        topic, send = self.changelog_topic.get_topic_name(), self.app.producer.send
        return [await send(topic, record.key, record.value, record.partition, None,
                           record.headers) for record in records]  # fmt: skip

    def acknowledge(self, sent: list[Any]) -> None:
        """Keeps the newest acknowledged offset of each changelog partition in ``sent``.
        faust wrote it into the store at each record, one RocksDB write each (2.9 % of a
        replaying worker's main thread); only the newest says where a rebuild starts
        reading, so ``settle`` stores it once. A worker stopped before that holds a lower
        one, and its rebuild reads the records in between again: they are in the store
        already, and each key ends at its last value."""
        for metadata in sent:
            tp = metadata.topic_partition
            self.acknowledged[tp] = max(metadata.offset, self.acknowledged.get(tp, -1))

    async def settle(self, agent: str) -> None:
        """Returns once the sends of ``agent``'s writes through faust's transactional
        producer are acknowledged (exactly-once: faust stores their offsets at the
        transaction's commit), with the newest acknowledged offsets stored."""
        sent = self.unacknowledged.pop(agent, None)
        if sent:
            await asyncio.gather(*sent)
        if self.acknowledged:  # each commit asks every table; most have nothing new
            acknowledged, self.acknowledged = self.acknowledged, {}
            if isinstance(self.data, RebalanceStore):  # a memory store keeps none
                self.data.store_newest_offsets(acknowledged)


@dataclass
class Tables:
    # feed -> "league|game" (or "league|league:team") -> {ordering key: [millis, recent ids]}
    feed_order: dict[str, faust.Table]
    league_ratings: faust.Table  # "league" -> LeagueRatings.to_dict()
    team_form: faust.Table  # "league|team" -> tables.team_form state
    odds_book: faust.Table  # "league|game" -> tables.odds_book state
    anomalies: faust.Table  # "league" -> tables.anomalies log (counts, recent anomalies)
    quote_rate: faust.Table  # windowed: "league|game" -> quotes per minute (event time)
    line_moves: faust.Table  # windowed: "league|game" -> price moves per minute (event time)
    injuries: faust.Table  # "league|team" -> tables.availability injury state
    lineups: faust.Table  # "league|game" -> tables.availability lineup state
    player_form: faust.Table  # "league|player" -> tables.player_form player state
    team_games: faust.Table  # "league|team" -> tables.player_form team state
    prop_projections: faust.Table  # "league|team" -> injury statuses and prop projections

    def all(self) -> dict[str, faust.Table]:
        """Every table by name (windowed ones as their underlying table)."""
        tables = [
            *self.feed_order.values(),
            self.league_ratings,
            self.team_form,
            self.odds_book,
            self.anomalies,
            self.quote_rate,
            self.line_moves,
            self.injuries,
            self.lineups,
            self.player_form,
            self.team_games,
            self.prop_projections,
        ]
        tables = [getattr(t, "table", t) for t in tables]
        return {t.name: t for t in tables}

    async def written(self, agent: str) -> None:
        """Sends the changelog records of every table write ``agent`` made, and returns once
        the broker acknowledged them all (an agent takes one batch at a time, so nothing
        else waits for these) and each table stored its newest offsets. Every table's
        records are taken before any is sent, so a failure leaves none to go out later, and
        they are in flight together: one wait, not one per table."""
        tables = list(self.all().values())
        taken = [(table, table.unsent.pop(agent, None)) for table in tables]
        deliveries = [(table, await table.send_records(records))
                      for table, records in taken if records]  # fmt: skip
        for table, sent in deliveries:
            table.acknowledge(await asyncio.gather(*sent))
        for table in tables:
            await table.settle(agent)

    def discard(self, agent: str) -> None:
        """Drops the changelog records ``agent`` has not sent (its commit failed): sent by
        a later commit, they could overwrite a new owner's state."""
        for table in self.all().values():
            table.unsent.pop(agent, None)

    @property
    def windowed(self) -> set[str]:
        return {self.quote_rate.table.name, self.line_moves.table.name}


def define_tables(app: faust.App) -> Tables:
    def table(name: str, help: str) -> faust.Table:
        return app.Table(name, help=help)

    def per_minute(name: str, help: str) -> faust.Table:
        counts = app.Table(name, default=int, help=help)
        # Windows follow event time: the Kafka timestamp of each message is its event time.
        return counts.tumbling(RATE_WINDOW, expires=RATE_EXPIRES).relative_to_stream()

    return Tables(
        feed_order={
            name: table(
                f"feed-order-{name}",
                f"Per game (or team): latest event time and recent event ids of each ordering "
                f"key of the {name} feed (dedupe and out-of-order detection).",
            )
            for name in FEEDS
        },
        league_ratings=table(
            "league-ratings",
            "Per league: Elo ratings, attack/defence strengths, rest, upcoming games with "
            "their market prices, predictions and alerts, settled model performance, and the "
            "game/odds events waiting for the slower feed (merge).",
        ),
        team_form=table("team-form", "Per team: the season's finished games (form features)."),
        odds_book=table(
            "odds-book",
            "Per game: every bookmaker's line history per market and selection, the game's "
            "start time and score, steam moves, and its recent anomalies.",
        ),
        anomalies=table(
            "anomalies",
            "Per league: valid events that are still suspect (prices far from the other "
            "books' consensus, scores going backwards, lone line moves, bookmakers that stop "
            "moving): counts per kind and the most recent ones.",
        ),
        quote_rate=per_minute("quote-rate", "Per game: quotes received per minute."),
        line_moves=per_minute("line-moves", "Per game: price moves per minute."),
        injuries=table("injuries", "Per team: each player's injury status and its history."),
        lineups=table("lineups", "Per game: each team's lineup and its changes."),
        player_form=table("player-form", "Per player: the box-score game log."),
        team_games=table(
            "team-games",
            "Per team: opponent, and minutes, possessions and stats of every player in every game.",
        ),
        prop_projections=table(
            "prop-projections",
            "Per team: players' injury statuses and their points/rebounds/assists/threes "
            "projections (form, absent teammates' usage, opponent).",
        ),
    )
