"""A worker killed with SIGKILL, or the broker restarted, in the middle of a replay: the
final tables and every output, by value, equal the same functions applied offline —
nothing lost, nothing doubled, nothing changed (at-least-once delivery into idempotent
state).

Each test proves its fault hit a worker in the middle of its work — the worker ready and
holding partitions, part of their input committed and part not — and that the system then
had to recover: the survivor took the victim's partitions over and finished their
uncommitted input; the worker stalled without its broker and resumed by itself."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner

from schemas import FEEDS
from streamapp.kafka_io import kafka_admin
from streamapp.replay.producer import WINDOW, replay
from streamapp.settings import Settings
from streamapp.stack.kafka import EmbeddedKafka
from streamapp.summary import consumed_topics, wait_until_drained
from streamapp.worker import spawn_worker
from tests.integration.conftest import (
    count,
    free_port,
    metric_samples,
    recovery_figures,
    stop_worker,
)
from tests.integration.oracle import (
    assert_league_ratings_equal_offline,
    assert_outputs_equal_offline,
    get,
    offline_state,
    season_events,
    stored,
)

pytestmark = [pytest.mark.integration, pytest.mark.failover]
# The fault comes once this share of the replay's input on the partitions it hits is
# committed: well into the work, far from its end.
FAULT_AT = 0.3
# The longest the broker stays away (seconds): past the session timeout, long enough to be felt.
OUTAGE_AT_MOST = 30.0
# Bound on every wait for a condition below: a liveness bound, not a timing check.
PATIENCE = 240.0


# -- what the workers are doing -----------------------------------------------------------


def partition_of(key: str, partitions: int) -> int:
    """The partition of a league's messages: the producers hash the raw key bytes."""
    every = list(range(partitions))
    return DefaultPartitioner()(key.encode(), every, every)


def raw_topics(settings: Settings) -> list[str]:
    return [settings.topic(feed.raw_topic) for feed in FEEDS.values()]


def ready(port: int) -> bool:
    try:
        return get(port, "/ready", timeout=10)["ready"] is True
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False  # 503 (an HTTPError) while partitions are assigned, or not listening


def holders(settings: Settings, port: int) -> dict[str, set[int]]:
    """Worker URL -> the partitions it holds (active), as the group's last assignment that
    the worker at ``port`` knows of tells (every topic is co-partitioned by league)."""
    try:
        routes = get(port, "/router/", timeout=10)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return {}
    table = f"{settings.app_id}-league-ratings-changelog"
    return {url: set(tables[table]) for url, tables in routes.items() if tables.get(table)}


@dataclass
class Offsets:
    """The group's committed offsets and the topics' end offsets on some partitions of
    every topic the group consumes, read at one moment."""

    committed: dict[TopicPartition, int]
    end: dict[TopicPartition, int]

    def lag(self, topics: list[str] | None = None) -> int:
        return sum(
            max(0, end - self.committed.get(tp, 0))
            for tp, end in self.end.items()
            if topics is None or tp.topic in topics
        )

    def done(self, topics: list[str]) -> int:
        return sum(c for tp, c in self.committed.items() if tp.topic in topics)

    def out(self, topic: str) -> int:
        return sum(end for tp, end in self.end.items() if tp.topic == topic)


async def offsets(settings: Settings, partitions: set[int]) -> Offsets:
    """The offsets on ``partitions``; retried while the broker cannot answer yet (a
    restarted one)."""
    deadline = time.monotonic() + PATIENCE
    while True:
        try:
            return await read_offsets(settings, partitions)
        except KafkaError as error:
            if not error.retriable or time.monotonic() > deadline:
                raise
        await asyncio.sleep(1)


async def read_offsets(settings: Settings, partitions: set[int]) -> Offsets:
    async with kafka_admin(settings) as admin:
        committed = await admin.list_consumer_group_offsets(settings.app_id)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers)
    try:
        await consumer.start()
        await consumer._client.force_metadata_update()
        wanted = [
            TopicPartition(name, p)
            for name in consumed_topics(settings)
            for p in sorted(consumer.partitions_for_topic(name) or ())
            if p in partitions
        ]
        end = await consumer.end_offsets(wanted)
        return Offsets({tp: committed[tp].offset for tp in wanted if tp in committed}, end)
    finally:
        await consumer.stop()


def read_positions(port: int, partitions: set[int]) -> dict[TopicPartition, int]:
    """The offset of the last message the worker has read, per topic partition (faust's
    monitor), on ``partitions``."""
    return {
        TopicPartition(labels["topic"], int(labels["partition"])): int(value)
        for labels, value in metric_samples(port, "faust_messages_received_per_topics_partition")
        if int(labels["partition"]) in partitions
    }


def events_taken(port: int) -> float:
    """Events the worker's streams have received so far (faust's monitor)."""
    return sum(value for _, value in metric_samples(port, "faust_total_events_total"))


async def until(
    condition: Callable[[], Awaitable[object]], what: str, patience: float = PATIENCE
) -> object:
    """Poll ``condition`` until it returns something true; fail naming ``what``."""
    deadline = time.monotonic() + patience
    while True:
        value = await condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} within {patience:.0f} s"
        await asyncio.sleep(0.5)


def raw_inputs(events, partitions: int) -> Counter:
    """Raw messages a full-speed replay of ``events`` sends per partition: one per league
    and raw topic in each of its windows (a window's batch is far below the size limit)."""
    sent = Counter()
    for start in range(0, len(events), WINDOW):
        window = events[start : start + WINDOW]
        for _, key in {(FEEDS[e.feed].raw_topic, e.key) for e in window}:
            sent[partition_of(key, partitions)] += 1
    return sent


def predictions_on(expected: dict, partitions: set[int], count_of: int) -> int:
    return sum(
        partition_of(f"{p.sport.value}:{p.league}", count_of) in partitions
        for p in expected["predictions"].values()
    )


async def until_mid_replay(settings: Settings, partitions: set[int], raw_expected: int) -> Offsets:
    """Wait until the group has committed FAULT_AT of the raw input on ``partitions``."""

    async def far_enough():
        now = await offsets(settings, partitions)
        return now if now.done(raw_topics(settings)) >= FAULT_AT * raw_expected else None

    return await until(far_enough, f"{FAULT_AT:.0%} of the input on {sorted(partitions)} done")


# -- what the worker holds and sent -------------------------------------------------------


def assert_state_equals_offline(settings, expected) -> None:
    port = settings.web_port
    outputs = assert_outputs_equal_offline(settings, expected)
    assert_league_ratings_equal_offline(port, expected)
    for league in expected["league-ratings"]:
        prefix = urllib.parse.quote(league + "|")
        form = get(port, f"/tables/team-form?limit=1000&prefix={prefix}")
        assert {i["key"]: i["value"] for i in form["items"]} == {
            k: v for k, v in expected["team-form"].items() if k.startswith(league + "|")
        }
    for key in list(expected["odds-book"])[::40]:
        assert stored(port, "odds-book", key) == expected["odds-book"][key], key
    url = settings.database_url
    for name, table in (("predictions", "predictions"), ("alerts", "alerts"),
                        ("settlements", "settlements")):  # fmt: skip
        assert count(url, table) == outputs[name].distinct  # none doubled at rest


# -- the faults ---------------------------------------------------------------------------


def test_sigkill_of_one_of_two_workers_mid_replay_loses_and_doubles_nothing(
    live_settings, tmp_path, data_dir
):
    first = live_settings
    second = first.model_copy(
        update={"web_port": free_port(), "state_dir": Path(str(first.state_dir) + "-2")}
    )
    workers = {
        s.canonical_url: (s, spawn_worker(s, tmp_path / f"worker{i}.log"))
        for i, s in enumerate((first, second))
    }
    events = season_events(data_dir, "E0", "SP1", "D1", "I1")
    n = first.topic_partitions
    try:
        expected = offline_state(events)  # while the workers start
        raw_per_partition = raw_inputs(events, n)

        async def scenario():
            # Both workers in the group, each holding partitions, before the replay starts.
            def shared() -> dict[str, set[int]] | None:
                held = holders(first, first.web_port)
                both_ready = all(ready(s.web_port) for s, _ in workers.values())
                return held if held.keys() == workers.keys() and both_ready else None

            split = await until(
                lambda: asyncio.to_thread(shared), "both workers ready, each holding partitions"
            )
            # The victim: the worker with more of the replay to do.
            victim_url = max(split, key=lambda u: sum(raw_per_partition[p] for p in split[u]))
            victim_settings, victim = workers[victim_url]
            (survivor_url,) = set(workers) - {victim_url}
            survivor_settings, _ = workers[survivor_url]
            mine = split[victim_url]
            sending = asyncio.create_task(replay(first, events, progress=False))
            await until_mid_replay(first, mine, sum(raw_per_partition[p] for p in mine))

            # At the kill: the victim is ready and holds its partitions; it has read input
            # it has not committed, and its leagues' outputs are not all out.
            assert await asyncio.to_thread(ready, victim_settings.web_port)
            assert holders(first, survivor_settings.web_port).get(victim_url) == mine
            read = await asyncio.to_thread(read_positions, victim_settings.web_port, mine)
            os.kill(victim.pid, signal.SIGKILL)
            killed_at = time.monotonic()
            at_kill = await offsets(first, mine)  # nothing of the victim's commits after this
            unread = {tp: e - at_kill.committed.get(tp, 0) for tp, e in at_kill.end.items()}
            read_ahead = sum(
                max(0, position + 1 - at_kill.committed.get(tp, 0)) for tp, position in read.items()
            )
            victims_predictions = predictions_on(expected, mine, n)
            print(f"victim {victim_url} killed holding partitions {sorted(mine)}: "
                  f"{at_kill.done(raw_topics(first))} of "
                  f"{sum(raw_per_partition[p] for p in mine)} raw messages committed, "
                  f"{at_kill.lag()} messages uncommitted on its partitions "
                  f"({read_ahead} of them read), {at_kill.out(first.topic('predictions'))} "
                  f"of its {victims_predictions} predictions out")  # fmt: skip
            assert at_kill.lag() > 0, "the victim had committed all its input: killed too late"
            assert read_ahead > 0, "the victim had read nothing it had not committed"
            assert at_kill.out(first.topic("predictions")) < victims_predictions

            # After: the survivor takes the victim's partitions and finishes their input.
            def taken_over() -> bool:
                return holders(first, survivor_settings.web_port) == {survivor_url: set(range(n))}

            await until(
                lambda: asyncio.to_thread(taken_over), "the survivor taking every partition over"
            )
            took_over = time.monotonic() - killed_at
            await sending
            await wait_until_drained(first, timeout=400)
            done = time.monotonic() - killed_at
            after = await offsets(first, mine)
            left = {tp: after.committed.get(tp, 0) - e for tp, e in at_kill.end.items()}
            return survivor_settings, unread, left, took_over, done

        survivor_settings, unread, left, took_over, done = asyncio.run(scenario())
        print(f"the survivor held every partition {took_over:.1f}s after the kill, "
              f"was done {done:.1f}s after it")  # fmt: skip
        # Everything uncommitted at the kill on the victim's partitions was done since: by
        # the survivor, the only worker left.
        assert all(left[tp] >= 0 for tp in unread), {tp: v for tp, v in left.items() if v < 0}
        duplicates = metric_samples(survivor_settings.web_port, "streamapp_duplicates_total")
        print(f"events the survivor found already done: {sum(v for _, v in duplicates):.0f}")
        recovery_figures(survivor_settings.web_port)  # a standby had most of the changelogs
        assert_state_equals_offline(survivor_settings, expected)
    finally:
        for _, worker in workers.values():
            stop_worker(worker)


def test_broker_restart_mid_replay_loses_and_doubles_nothing(live_settings, tmp_path, data_dir):
    settings = live_settings
    port = settings.web_port
    worker = spawn_worker(settings, tmp_path / "worker.log")
    kafka = EmbeddedKafka(settings)
    events = season_events(data_dir, "E0", "SP1")
    first_half, second_half = events[: len(events) // 2], events[len(events) // 2 :]
    every = set(range(settings.topic_partitions))
    try:
        expected = offline_state(events)  # while the worker starts

        async def scenario():
            await replay(settings, first_half, progress=False, complete=False)

            def holding_all() -> bool:
                return ready(port) and holders(settings, port) == {settings.canonical_url: every}

            await until(
                lambda: asyncio.to_thread(holding_all), "the worker ready, holding every partition"
            )
            first_inputs = sum(raw_inputs(first_half, settings.topic_partitions).values())
            await until_mid_replay(settings, every, first_inputs)

            # At the fault: the worker is ready, holds every partition, has committed part
            # of the input and not the rest; the outputs are not all out.
            assert await asyncio.to_thread(ready, port)
            at_fault = await offsets(settings, every)
            taken = await asyncio.to_thread(events_taken, port)
            print(f"broker stopped: {at_fault.done(raw_topics(settings))} of "
                  f"{first_inputs} raw messages committed, {at_fault.lag()} messages "
                  f"uncommitted, {at_fault.out(settings.topic('predictions'))} of "
                  f"{len(expected['predictions'])} predictions out")  # fmt: skip
            assert at_fault.lag() > 0, "the worker had committed all its input: stopped too late"
            assert at_fault.out(settings.topic("predictions")) < len(expected["predictions"])
            await asyncio.to_thread(kafka.down)
            stopped = time.monotonic()

            # The worker runs out of what it can do without a broker: its streams receive
            # nothing more for 3 s, or the broker has been away for OUTAGE_AT_MOST (agents
            # retrying batches of what was fetched before can keep taking events slowly).
            last = [await asyncio.to_thread(events_taken, port), time.monotonic()]

            async def stalled():
                now = await asyncio.to_thread(events_taken, port)
                if now != last[0]:
                    last[:] = [now, time.monotonic()]
                return time.monotonic() - last[1] >= 3 or (
                    time.monotonic() - stopped >= OUTAGE_AT_MOST
                )

            await until(stalled, "the worker stalling without its broker", patience=120)
            stalled_at = last[0]
            await asyncio.to_thread(kafka.up)
            outage = time.monotonic() - stopped

            async def reloaded() -> Offsets | None:
                # A restarted coordinator answers with no offsets until it has loaded them.
                now = await offsets(settings, every)
                return now if now.committed.keys() >= at_fault.committed.keys() else None

            restarted = await until(reloaded, "the group's offsets back after the restart")
            # Nothing committed went back.
            assert all(restarted.committed.get(tp, 0) >= c for tp, c in at_fault.committed.items())
            await replay(settings, second_half, progress=False)
            await wait_until_drained(settings, timeout=400)
            after = await offsets(settings, every)
            return at_fault, taken, stalled_at, outage, after

        at_fault, taken, stalled_at, outage, after = asyncio.run(scenario())
        assert worker.poll() is None, "the worker died with the broker"
        resumed = events_taken(port)
        print(f"broker away {outage:.1f}s; the worker's streams took {taken:.0f} events "
              f"before it, stalled at {stalled_at:.0f}, {resumed:.0f} at the end")  # fmt: skip
        # The same process picked up where it stalled and did every input that was
        # uncommitted when the broker went away.
        assert resumed > stalled_at
        assert all(after.committed.get(tp, 0) >= end for tp, end in at_fault.end.items())
        recovery_figures(port)
        assert_state_equals_offline(settings, expected)
    finally:
        stop_worker(worker)
