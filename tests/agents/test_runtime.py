"""The processing runtime (agents.runtime): events kept in offset order across seeks, the
wait for batches in flight, failures retried, split and parked, stalls on /ready."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
import time
from collections.abc import Callable
from types import SimpleNamespace

import faust
import orjson
import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError
from aiokafka.structs import TopicPartition
from faust.agents.agent import _current_agent
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP, Message

from agents import runtime
from agents.fetch_sessions import FetchSessions
from agents.runtime import (
    Admission,
    BatchProcessor,
    OffsetOrder,
    Record,
    StreamProgress,
    records_of,
)
from schemas import DeadLetter
from schemas.batches import batch_items, event_batches, watermark_message
from streamapp.app import create_app
from streamapp.operations import readiness
from tests.agents.conftest import TEST_AGENT
from tests.schemas.examples import GAME

GAMES = TP("clean.games", 0)
ODDS = TP("clean.odds", 0)
RAW_ODDS = TP("raw.odds", 0)


def message(tp: TP, offset: int) -> SimpleNamespace:
    return SimpleNamespace(tp=tp, offset=offset)


def admitted(order: OffsetOrder, *messages) -> list[int]:
    return [m.offset for m in messages if order.judge(m) is Admission.ADMIT]


def test_nothing_is_admitted_before_the_first_seek():
    # A worker that joins gets messages before it seeks, after faust skipped earlier ones
    # during recovery: taking them would put offsets 7.. ahead of 0..6 (seen here).
    progress = StreamProgress()
    order = OffsetOrder(progress)
    assert admitted(order, message(GAMES, 7), message(GAMES, 8)) == []
    progress.sought_to({GAMES: 0})
    assert admitted(order, message(GAMES, 8), message(GAMES, 0), message(GAMES, 1)) == [0, 1]


def test_without_seeks_each_partition_starts_where_it_comes_and_never_goes_back():
    progress = StreamProgress()
    progress.seeks = False
    order = OffsetOrder(progress)
    assert admitted(order, *(message(GAMES, o) for o in (5, 6, 6, 4, 7))) == [5, 6, 7]


def test_after_a_seek_only_the_message_at_the_position_starts_a_partition():
    progress = StreamProgress()
    progress.sought_to({GAMES: 0})
    order = OffsetOrder(progress)
    assert admitted(order, message(GAMES, 0), message(GAMES, 1)) == [0, 1]
    progress.sought_to({GAMES: 1, ODDS: 0})
    # 40-41 were fetched before the seek and arrive first: refused, read again in order
    stale_then_reread = [message(GAMES, o) for o in (40, 41, 1, 2, 3)]
    assert admitted(order, *stale_then_reread) == [1, 2, 3]
    assert admitted(order, message(ODDS, 3), message(ODDS, 0), message(ODDS, 1)) == [0, 1]


def test_a_rebalance_under_way_admits_nothing_until_the_next_seek():
    progress = StreamProgress()
    progress.sought_to({GAMES: 10})
    order = OffsetOrder(progress)
    assert admitted(order, message(GAMES, 10)) == [10]
    progress.sought_to({})  # revocation
    assert admitted(order, message(GAMES, 11), message(GAMES, 12)) == []
    progress.sought_to({GAMES: 11})
    assert admitted(order, message(GAMES, 12), message(GAMES, 11), message(GAMES, 12)) == [11, 12]


def test_an_agent_started_after_the_seek_waits_for_the_position_and_a_restart_goes_on():
    progress = StreamProgress()
    progress.sought_to({GAMES: 100})
    late = progress.order_of("predict-games")  # it waited for the model versions
    # 130-131 were queued before the seek; the consumer delivers 100.. again after it
    assert admitted(late, message(GAMES, 130), message(GAMES, 100), message(GAMES, 101)) == [
        100,
        101,
    ]
    restarted = progress.order_of("predict-games")  # faust restarted the crashed agent
    assert admitted(restarted, message(GAMES, 104)) == [104]


async def test_the_rebalance_waits_for_batches_in_flight_and_no_longer():
    progress = StreamProgress()
    assert await progress.wait_idle(0.01)
    progress.enter()
    progress.enter()
    assert not await progress.wait_idle(0.01)
    progress.leave()

    async def finish_later():
        await asyncio.sleep(0.02)
        progress.leave()

    finishing = asyncio.create_task(finish_later())
    assert await progress.wait_idle(1.0)
    await finishing


async def test_a_commit_sends_every_tables_records_together_and_waits_for_them_all(
    app, monkeypatch
):
    tables = app.pipeline.tables
    with runtime.current_event(runtime.partition_event(app, GAMES.topic, 3, 0.0)):
        tables.team_form["soccer:E0|Arsenal"] = {"games": [1]}
        tables.odds_book["soccer:E0|g1"] = {"steam": []}
        tables.odds_book["soccer:E0|g2"] = {"steam": []}
    [form] = tables.team_form.unsent[TEST_AGENT]  # kept, not sent: nothing leaves before
    assert form == (3, b'"soccer:E0|Arsenal"', b'{"games":[1]}', {})  # the commit sends it
    loop = asyncio.get_running_loop()
    handed: list[tuple[str, list]] = []
    acknowledgements: list[asyncio.Future] = []

    def broker(table):
        async def send_records(records):
            handed.append((table.name, records))
            acknowledgements.extend(loop.create_future() for _ in records)
            return acknowledgements[-len(records) :]

        return send_records

    for table in (tables.team_form, tables.odds_book):
        monkeypatch.setattr(table, "send_records", broker(table))
    waiting = asyncio.create_task(tables.written(TEST_AGENT))
    await asyncio.sleep(0.01)
    # both tables' records are with the producer before the broker acknowledged any
    assert [(name, len(records)) for name, records in handed] == [
        (tables.team_form.name, 1), (tables.odds_book.name, 2)]  # fmt: skip
    for acknowledgement in acknowledgements[:2]:
        acknowledgement.set_result(acknowledged(TP("changelog", 3), 7))
    await asyncio.sleep(0.01)
    assert not waiting.done()  # an odds book record is still in flight
    acknowledgements[2].set_result(acknowledged(TP("changelog", 3), 8))
    await asyncio.wait_for(waiting, 1)
    assert tables.team_form.unsent == tables.odds_book.unsent == {}


async def test_a_failed_commit_leaves_no_changelog_record_for_a_later_one(app, monkeypatch):
    form = app.pipeline.tables.team_form
    written = []

    def fail_at_the_second(key, partition):  # after both teams' records were kept
        written.append(key)
        if len(written) == 2:
            raise OSError("disk full")

    monkeypatch.setattr(form, "_maybe_set_key_ttl", fail_at_the_second)
    track_form = next(a for a in app.agents.values() if a.name.endswith("track-form"))
    with contextlib.suppress(OSError):
        async with track_form.test_context() as agent:
            await agent.put(orjson.dumps(GAME), key=b"soccer:E0")
    assert len(written) == 2 and "track-form" not in form.unsent  # never sent later
    assert app.pipeline.metrics.agent_crashes.labels("track-form")._value.get() == 1


async def test_a_table_written_outside_an_agent_says_so(app):
    _current_agent.set(None)  # (this test's own context)
    with (
        runtime.current_event(runtime.partition_event(app, GAMES.topic, 3, 0.0)),
        pytest.raises(RuntimeError, match="written outside an agent"),
    ):
        app.pipeline.tables.team_form["soccer:E0|Arsenal"] = {"games": [1]}


async def test_changelog_records_go_to_the_producer_and_their_offsets_to_the_store(settings):
    app = create_app(settings.model_copy(update={"store": "rocksdb://"}))
    app.finalize()
    table = app.pipeline.tables.team_form
    changelog = table.changelog_topic.get_topic_name()
    table.data._db_for_partition(3)  # held by this worker
    sent = []

    async def send(topic, key, value, partition, timestamp, headers):
        sent.append((topic, key, value, partition, timestamp, headers))
        delivery = asyncio.get_running_loop().create_future()
        delivery.set_result(acknowledged(TP(topic, partition), 40 + len(sent)))
        return delivery

    app.producer = SimpleNamespace(send=send)
    _current_agent.set(SimpleNamespace(name="track-form"))  # (this test's own context)
    with runtime.current_event(runtime.partition_event(app, GAMES.topic, 3, 0.0)):
        table["soccer:E0|Arsenal"] = {"games": [1]}
        table["soccer:E0|Arsenal"] = {"games": [1, 2]}
        del table["soccer:E0|Arsenal"]
    await app.pipeline.tables.written("track-form")
    assert sent == [
        (changelog, b'"soccer:E0|Arsenal"', b'{"games":[1]}', 3, None, {}),
        (changelog, b'"soccer:E0|Arsenal"', b'{"games":[1,2]}', 3, None, {}),
        (changelog, b'"soccer:E0|Arsenal"', None, 3, None, {}),  # the key deleted
    ]  # in the order written
    assert table.data.persisted_offset(TP(changelog, 3)) == 43


def acknowledged(tp: TP, offset: int) -> SimpleNamespace:
    """What the broker answers to a changelog record it stored at ``offset``."""
    return SimpleNamespace(topic_partition=tp, offset=offset)


async def test_a_table_stores_its_newest_acknowledged_changelog_offsets_once_written(settings):
    app = create_app(settings.model_copy(update={"store": "rocksdb://"}))
    app.finalize()
    table = app.pipeline.tables.team_form
    first, second, revoked = (TP(table.changelog_topic.get_topic_name(), p) for p in range(3))
    for tp in (first, second):
        table.data._db_for_partition(tp.partition)  # held by this worker
    table.data.set_persisted_offset(second, 9)  # a rebuild reached 9

    offsets = ((first, 5), (first, 7), (second, 3), (first, 6), (revoked, 4))
    table.acknowledge([acknowledged(tp, offset) for tp, offset in offsets])
    assert table.data.persisted_offset(first) is None  # not one store write per record
    await table.settle("track-form")
    assert table.data.persisted_offset(first) == 7
    assert table.data.persisted_offset(second) == 9  # never moved back
    assert revoked.partition not in table.data._dbs  # a closed partition is not reopened
    table.acknowledge([acknowledged(first, 8)])
    await table.settle("book-odds")  # any agent's commit stores what was acknowledged
    assert table.data.persisted_offset(first) == 8


def test_under_exactly_once_a_partition_starts_at_or_after_the_position():
    progress = StreamProgress()
    progress.exact_start = False  # the committed offset may be a transaction marker's
    progress.sought_to({GAMES: 10})
    order = progress.order_of("ingest-games")
    assert admitted(order, message(GAMES, 9), message(GAMES, 11), message(GAMES, 12)) == [11, 12]


def event_at(app, offset: int) -> Record:
    """A consumed event of the current assignment, as a handler gets it."""
    message = SimpleNamespace(
        tp=GAMES,
        topic=GAMES.topic,
        partition=GAMES.partition,
        offset=offset,
        key=b"soccer:E0",
        value=b"{}",
        generation_id=app.consumer_generation_id,
    )
    return Record(SimpleNamespace(message=message), message.value, None, 0.0)


async def test_an_event_the_handler_cannot_process_is_parked_and_the_others_go_on(
    app, sent, settings
):
    track_form = next(a for a in app.agents.values() if a.name.endswith("track-form"))
    final = orjson.dumps(GAME)
    async with track_form.test_context() as agent:
        await agent.put(b'{"not": "a game"}', key=b"soccer:E0")
        await agent.put(final, key=b"soccer:E0")
    [(key, value)] = sent[settings.topic("deadletter")]
    letter = DeadLetter.model_validate_json(value)
    assert (letter.stage, letter.error_type, letter.offset) == ("track-form", "internal", 0)
    assert "track-form could not process this event: ValueError: not a clean GameEvent" in (
        letter.reason
    )
    assert letter.payload == b'{"not": "a game"}' and key == b"soccer:E0"
    # the final after the bad event was applied: both teams have their result
    form = app.pipeline.tables.team_form
    assert form.get("soccer:E0|Arsenal") and form.get("soccer:E0|Chelsea")
    assert app.pipeline.metrics.agent_crashes.labels("track-form")._value.get() == 0


async def test_a_transient_failure_retries_the_batch_and_reports_the_stall(app, monkeypatch):
    monkeypatch.setattr(runtime, "RETRY_FIRST_DELAY", 0.01)
    pipeline = app.pipeline
    processor = BatchProcessor(pipeline, app, "predict-games")
    attempts, stalls_seen = [], []

    async def handle(batch, checkpoint):
        attempts.append([e.message.offset for e in batch])
        if len(attempts) <= 2:
            stalls_seen.append(dict(pipeline.progress.stalled(0.0)))
            raise KafkaConnectionError("broker away")

    await processor.process([event_at(app, 5), event_at(app, 6)], handle)
    assert attempts == [[5, 6]] * 3  # the whole batch again, never split or parked
    assert "KafkaConnectionError" in stalls_seen[1]["predict-games"][1]
    assert pipeline.progress.stalled(0.0) == {}  # progress again: the stall is over
    failures = pipeline.metrics.batch_failures
    assert failures.labels("predict-games", "retried")._value.get() == 2
    assert failures.labels("predict-games", "split")._value.get() == 0


async def test_a_failure_of_one_event_splits_the_batch_and_parks_only_that_event(
    app, sent, settings
):
    processor = BatchProcessor(app.pipeline, app, "book-odds")
    handled = []

    async def handle(batch, checkpoint):
        if any(e.message.offset == 8 for e in batch):
            raise ValueError("no such selection")
        handled.extend(e.message.offset for e in batch)

    await processor.process([event_at(app, o) for o in (7, 8, 9)], handle)
    assert handled == [7, 9]
    [(_, value)] = sent[settings.topic("deadletter")]
    letter = DeadLetter.model_validate_json(value)
    assert (letter.offset, letter.stage, letter.error_type) == (8, "book-odds", "internal")
    assert "ValueError: no such selection" in letter.reason


def test_a_watermark_is_a_record_only_for_an_agent_that_reads_them(app):
    mark = watermark_message(3000)
    message = event_at(app, 8).message
    message.value, message.headers, message.timestamp = mark.value, mark.headers, 3.0
    assert records_of(SimpleNamespace(message=message)) == []
    [record] = records_of(SimpleNamespace(message=message), watermarks=True)
    assert (record.value, record.index, record.watermark) == (b"", None, b"3000")


async def test_one_failing_event_of_a_batched_message_is_parked_alone_with_its_place(
    app, sent, settings
):
    [batch] = event_batches([(b'{"n":0}', 1.0), (b'{"n":1}', 2.0), (b'{"n":2}', 3.0)])
    message = event_at(app, 8).message
    message.value, message.headers, message.timestamp = batch.value, batch.headers, 3.0
    records = records_of(SimpleNamespace(message=message))
    assert [(r.value, r.index, r.timestamp) for r in records] == [
        (b'{"n":0}', 0, 1.0),
        (b'{"n":1}', 1, 2.0),
        (b'{"n":2}', 2, 3.0),
    ]
    processor = BatchProcessor(app.pipeline, app, "book-odds")
    handled = []

    async def handle(batch, checkpoint):
        if any(r.index == 1 for r in batch):
            raise ValueError("no such selection")
        handled.extend(r.index for r in batch)

    await processor.process(records, handle)
    assert handled == [0, 2]
    [(_, value)] = sent[settings.topic("deadletter")]
    letter = DeadLetter.model_validate_json(value)
    assert (letter.offset, letter.item, letter.payload) == (8, 1, b'{"n":1}')
    assert letter.letter_id == "book-odds/clean.games/0/8/1"


def test_a_worker_whose_consumer_has_not_started_is_not_ready_and_says_so(app):
    # (/metrics and /ready answered 500 when scraped in that moment)
    assert readiness(app) == (False, "starting: the Kafka consumer is not running yet")


async def test_a_batch_stalled_past_the_limit_makes_the_worker_not_ready(app, monkeypatch):
    monkeypatch.setattr(app.consumer, "assignment", lambda: {GAMES})
    app.tables.recovery.completed.set()
    progress = app.pipeline.progress
    assert readiness(app) == (True, "ready")
    progress.stall("sink-odds_quotes", "KafkaConnectionError: broker away")
    assert readiness(app) == (True, "ready")  # not yet past STREAMAPP_STALL_SECONDS
    progress.stalls["sink-odds_quotes"] = (time.monotonic() - 31, "broker away", False)
    ready, reason = readiness(app)
    assert not ready and reason.startswith("sink-odds_quotes cannot make progress for 31 s")
    progress.unstall("sink-odds_quotes")
    assert readiness(app) == (True, "ready")
    progress.stall("predict-games", "a table write did not reach the changelog", permanent=True)
    progress.unstall("predict-games")  # only a restart ends it
    assert not readiness(app)[0]


async def test_postgresql_away_past_the_limit_makes_the_worker_not_ready(app, monkeypatch):
    monkeypatch.setattr(app.consumer, "assignment", lambda: {GAMES})
    app.tables.recovery.completed.set()
    database = app.pipeline.database
    database.outage = (time.monotonic() - 5, "odds_quotes: connection refused")
    assert readiness(app) == (True, "ready")  # a short outage: the sinks just retry
    database.outage = (time.monotonic() - 40, "odds_quotes: connection refused")
    ready, reason = readiness(app)
    assert not ready and reason.startswith("sinks cannot make progress for 40 s: PostgreSQL")
    assert "connection refused" in reason and "lose nothing" in reason


async def test_a_dead_letter_too_large_for_the_broker_is_sent_with_its_payload_cut(
    app, sent, settings, monkeypatch
):
    deadletter = app.pipeline.topics.deadletter
    record_letter = deadletter.send

    async def refuse_large(*, key=None, value=None, **kwargs):
        if len(value) > 2_000_000:
            raise MessageSizeTooLargeError("the letter is larger than the broker takes")
        return await record_letter(key=key, value=value, **kwargs)

    monkeypatch.setattr(deadletter, "send", refuse_large)
    processor = BatchProcessor(app.pipeline, app, "ingest-odds")
    event = event_at(app, 3)
    event.message.value = b"x" * 3_000_000

    async def handle(batch, checkpoint):
        raise ValueError("not an odds quote")

    await processor.process([event], handle)
    [(_, value)] = sent[settings.topic("deadletter")]
    letter = DeadLetter.model_validate_json(value)
    assert letter.payload == b"x" * runtime.CUT_PAYLOAD_BYTES
    digest = hashlib.sha256(b"x" * 3_000_000).hexdigest()
    assert f"payload of 3000000 bytes cut to its first 1048576; sha256 {digest}" in letter.reason
    assert letter.reason.startswith("ingest-odds could not process this event: ValueError")


async def test_a_batch_revoked_while_retried_is_left_to_its_new_owner_and_ends_the_stall(
    app, sent, settings, monkeypatch
):
    monkeypatch.setattr(runtime, "RETRY_FIRST_DELAY", 0.01)
    processor = BatchProcessor(app.pipeline, app, "book-odds")
    event = event_at(app, 4)

    async def handle(batch, checkpoint):
        if app.pipeline.progress.stalls:
            event.message.generation_id = -1  # a rebalance happened meanwhile
        raise KafkaConnectionError("broker away")

    await processor.process([event], handle)
    assert sent[settings.topic("deadletter")] == []  # neither parked nor processed here
    assert app.pipeline.progress.stalled(0.0) == {}


async def test_a_partition_whose_first_messages_never_came_is_sought_back_for_every_agent(
    monkeypatch,
):
    # Seen in the SIGKILL failover test: after the survivor's seek, faust never delivered
    # raw.odds offset 791 again, so ingest-odds refused 792.. for ever.
    monkeypatch.setattr(runtime, "GAP_PATIENCE", 0.01)
    progress = StreamProgress()
    progress.sought_to({ODDS: 791, GAMES: 5})
    ingest, book = progress.order_of("ingest-odds"), progress.order_of("book-odds")
    assert admitted(book, message(ODDS, 791), message(ODDS, 792)) == [791, 792]
    seeks = []

    class Consumer:
        def assignment(self):
            return {ODDS, GAMES}

        async def seek_back(self, tp, offset):
            seeks.append({tp: offset})

    # only late: the message at the position comes within the patience, no seek
    assert ingest.judge(message(GAMES, 6)) is Admission.GAP
    progress.watch_gap(Consumer(), ingest, GAMES)
    assert admitted(ingest, message(GAMES, 5), message(GAMES, 6)) == [5, 6]
    # never comes: sought back once, however many later messages are refused meanwhile
    for offset in (792, 793):
        assert ingest.judge(message(ODDS, offset)) is Admission.GAP
        progress.watch_gap(Consumer(), ingest, ODDS)
    await asyncio.sleep(0.05)
    assert seeks == [{ODDS: 791}]
    # read again from 791: both agents take it (their handlers are idempotent)
    assert admitted(ingest, message(ODDS, 791), message(ODDS, 792)) == [791, 792]
    assert admitted(book, message(ODDS, 791), message(ODDS, 792)) == [791, 792]


def test_an_input_is_idle_once_read_to_the_broker_end_and_quiet(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(runtime.time, "monotonic", lambda: clock[0])
    progress = StreamProgress()
    progress.sought_to({GAMES: 3})
    order = OffsetOrder(progress)
    assert not order.idle(GAMES, None, quiet=0.2)  # nothing fetched yet: nothing known
    assert not order.idle(GAMES, 5, quiet=0.2)  # offsets 3 and 4 still to come
    clock[0] += 1
    assert order.idle(GAMES, 3, quiet=0.2)  # nothing past the position, and quiet since
    assert admitted(order, message(GAMES, 3), message(GAMES, 4)) == [3, 4]
    assert not order.idle(GAMES, 5, quiet=0.2)  # read to the end, but just now
    clock[0] += 0.1
    assert not order.idle(GAMES, 5, quiet=0.2)
    clock[0] += 0.15
    assert order.idle(GAMES, 5, quiet=0.2)
    assert not order.idle(GAMES, 6, quiet=0.2)  # the broker has one more for this agent
    progress.sought_to({GAMES: 2})  # a rebalance: read again from 2
    assert not order.idle(GAMES, 5, quiet=0.2)


def test_an_input_is_not_idle_while_the_stage_filling_it_is_behind(monkeypatch):
    """A broker restart: the agent has read clean.odds to its end, but ingest has not yet
    processed raw.odds (it retries through the outage), so the odds still to come would
    have been overtaken by the games (seen in the broker-restart test)."""
    monotonic, wall = [1000.0], [5000.0]
    monkeypatch.setattr(runtime.time, "monotonic", lambda: monotonic[0])
    monkeypatch.setattr(runtime.time, "time", lambda: wall[0])
    app = SimpleNamespace()
    pipeline = SimpleNamespace(progress=StreamProgress(), settings=SimpleNamespace())
    pipeline.settings.idle_input_seconds = 0.2
    monkeypatch.setattr(runtime, "current_agent", lambda: SimpleNamespace(name="predict-games"))
    ends = {}
    monkeypatch.setattr(runtime, "broker_end", lambda _app, tp: ends.get(tp))
    pipeline.progress.sought_to({ODDS: 3, RAW_ODDS: 10})
    inputs = {"odds": runtime.Input(ODDS.topic, RAW_ODDS.topic)}

    def idle() -> bool:
        return "odds" in runtime.idle_inputs(app, pipeline, inputs, 0)

    monotonic[0] += 1
    wall[0] += 1
    ends[ODDS] = runtime.BrokerEnd(3, wall[0], 4)
    assert not idle()  # raw.odds never fetched (the broker is away): nothing known
    ends[RAW_ODDS] = runtime.BrokerEnd(12, wall[0], 4)
    assert not idle()  # raw.odds 10 and 11 not processed: their clean events may come
    pipeline.progress.acked(RAW_ODDS, 10)
    pipeline.progress.acked(RAW_ODDS, 11)
    assert pipeline.progress.handled_since(RAW_ODDS, 12) == wall[0]
    assert not idle()  # clean.odds' end was read before those outputs were acknowledged
    wall[0] += 0.3
    ends[ODDS] = runtime.BrokerEnd(3, wall[0], 4)
    assert idle()
    ends[RAW_ODDS] = runtime.BrokerEnd(12, wall[0], 8)
    assert not idle()  # raw.odds has other partitions feeding clean.odds 0 too
    ends[RAW_ODDS] = runtime.BrokerEnd(13, wall[0], 4)
    assert not idle()  # a new raw quote
    pipeline.progress.sought_to({ODDS: 3, RAW_ODDS: 13})  # a new owner: 13 was handled
    assert not idle()  # its ends were read before the seek
    monotonic[0] += 1
    wall[0] += 1
    ends[ODDS], ends[RAW_ODDS] = runtime.BrokerEnd(3, wall[0], 4), runtime.BrokerEnd(13, wall[0], 4)
    assert idle()


def test_under_exactly_once_a_commit_marker_after_the_last_message_is_not_awaited(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(runtime.time, "monotonic", lambda: clock[0])
    progress = StreamProgress()
    progress.exact_start = False
    progress.sought_to({GAMES: 0})
    order = OffsetOrder(progress)
    assert admitted(order, message(GAMES, 0), message(GAMES, 1)) == [0, 1]
    clock[0] += 1
    assert order.idle(GAMES, 3, quiet=0.2)  # offset 2 is the transaction's marker
    assert not order.idle(GAMES, 4, quiet=0.2)


async def test_a_tick_runs_between_batches_and_its_table_writes_are_waited_for(app):
    """An agent's tick releases held events without a new message; like a batch, it
    counts as in flight (a rebalance waits for it) and its table writes must reach the
    changelog before the next batch or tick."""
    pipeline = app.pipeline
    pipeline.settings = pipeline.settings.model_copy(update={"tick_seconds": 0.01})
    ticks, seen_in_flight = [], []
    written = asyncio.Event()

    async def on_tick(checkpoint) -> None:
        ticks.append(time.monotonic())
        seen_in_flight.append(pipeline.progress.in_flight)

    async def tables_written(agent: str) -> None:
        written.set()

    pipeline.tables.written = tables_written

    async def handle(batch, checkpoint) -> None:
        pass

    agent = app.agent(app.channel(), name="ticking")(
        lambda stream: runtime.run_batches(stream, pipeline, handle, on_tick=on_tick)
    )
    async with agent.test_context():
        await asyncio.wait_for(written.wait(), 5)
        for _ in range(100):
            if len(ticks) >= 3:
                break
            await asyncio.sleep(0.01)
    assert len(ticks) >= 3 and set(seen_in_flight) == {1}
    assert pipeline.progress.in_flight == 0


def test_the_runtime_consumer_belongs_to_this_app_alone(app):
    assert isinstance(app.consumer, runtime.RuntimeConsumer)
    other = faust.App("another-app", broker="kafka://localhost:9092")
    assert type(other.consumer) is aiokafka_driver.Consumer  # faust's own, unchanged
    assert aiokafka_driver.Consumer.ack is not runtime.RuntimeConsumer.ack


def consumer_started_without_broker(monkeypatch, client=None, stop=None) -> None:
    """faust's start of the consumer, replaced by one that needs no broker: a consumer whose
    fetcher has aiokafka's 0.1 s hold and ``client`` (by default a stand-in holding cluster
    metadata), stopped by ``stop``."""

    async def start_consumer(self) -> None:
        fetcher_client = client if client is not None else SimpleNamespace(cluster=None)
        self._consumer = SimpleNamespace(
            _fetcher=SimpleNamespace(_prefetch_backoff=0.1, _client=fetcher_client), stop=stop
        )

    monkeypatch.setattr(aiokafka_driver.AIOKafkaConsumerThread, "on_start", start_consumer)


async def test_the_consumer_is_served_on_the_workers_event_loop(app, monkeypatch):
    """In a thread of its own the consumer took the interpreter from the agents for every
    fetch, and each fetched message crossed to their loop by a wake-up of it."""
    stopped = []
    consumer_started_without_broker(
        monkeypatch, stop=lambda: stopped.append(True) or asyncio.sleep(0)
    )
    thread = app.consumer._new_consumer_thread()
    bystander = asyncio.ensure_future(asyncio.sleep(30))  # another service's task
    threads = len(threading.enumerate())
    await thread.start()
    assert len(threading.enumerate()) == threads  # no thread was started
    assert thread.thread_loop is thread.parent_loop is asyncio.get_running_loop()

    async def where() -> int:
        return threading.get_ident()

    # faust's calls into the consumer, coroutines and plain methods alike, run here
    assert await thread.call_thread(where) == threading.get_ident()
    assert await thread.call_thread(threading.get_ident) == threading.get_ident()
    await asyncio.wait_for(thread.stop(), 5)
    assert stopped == [True] and thread._serving.done()
    # mode cancels every task left on a thread's loop once it stops: here, the worker's
    assert not bystander.done()
    bystander.cancel()


async def test_a_consumer_that_cannot_start_raises_why_and_is_shut_down(app, monkeypatch):
    """In a thread, a service that failed was shut down as the thread ended; its task must
    do the same, or stopping the worker waited a minute for it."""

    async def broker_away(self) -> None:
        raise KafkaConnectionError("no broker at localhost:9092")

    monkeypatch.setattr(aiokafka_driver.AIOKafkaConsumerThread, "on_start", broker_away)
    thread = app.consumer._new_consumer_thread()
    with pytest.raises(KafkaConnectionError, match="no broker"):
        await asyncio.wait_for(thread.start(), 5)
    assert thread._serving.done() and thread._shutdown.is_set()
    await asyncio.wait_for(thread.stop(), 5)


async def test_a_consumer_whose_stop_fails_still_lets_the_worker_stop(app, monkeypatch):
    """mode's thread marked the service shut down when its loop ended, however; without
    that, a consumer whose stop failed held the worker's stop for a minute."""

    async def refusing_stop() -> None:
        raise KafkaConnectionError("connection reset")

    consumer_started_without_broker(monkeypatch, stop=refusing_stop)
    thread = app.consumer._new_consumer_thread()
    await thread.start()
    await asyncio.wait_for(thread.stop(), 5)
    assert thread._serving.done()


async def test_fetched_messages_hold_the_next_fetch_as_long_as_the_settings_say(
    app, settings, monkeypatch
):
    """aiokafka fetched the other partitions without a busy one once its messages had
    waited 0.1 s for faust, and the broker held that fetch up to faust's 1.5 s: the busy
    partition's next messages waited for it, and live quotes came 1-2 s late."""
    thread = app.consumer._new_consumer_thread()
    assert isinstance(thread, runtime.RuntimeConsumerThread)
    client = thread._create_worker_consumer(app.transport)
    assert client._fetch_max_wait_ms == settings.fetch_max_wait_ms == 500
    # a replaying worker's fetched messages wait in memory: 256 KiB of each partition at most
    assert client._max_partition_fetch_bytes == settings.fetch_partition_max_bytes == 256 * 1024
    await client.stop()

    consumer_started_without_broker(monkeypatch, client=client._client)
    await thread.on_start()
    fetcher = thread._consumer._fetcher
    assert fetcher._prefetch_backoff == settings.fetch_hold_seconds == 1.0
    # its fetches go in fetch sessions (agents.fetch_sessions), the rest straight through
    assert isinstance(fetcher._client, FetchSessions) and fetcher._client._client is client._client
    # read for every partition whenever the fetcher looks for what to fetch: no __getattr__
    assert "cluster" in vars(fetcher._client) and fetcher._client.cluster is client._client.cluster


async def test_changelog_partitions_are_fetched_only_while_faust_reads_them(app, monkeypatch):
    """faust's pause only hides fetched records: aiokafka still fetched the changelogs of
    the worker's own tables with every fetch (60 of 105 partitions)."""
    consumer = app.consumer
    changelog = TP(f"{app.conf.id}-league-ratings-changelog", 0)
    fetched = {GAMES: True, changelog: True}

    class Client:
        def assignment(self):
            return {TopicPartition(tp.topic, tp.partition) for tp in fetched}

        def pause(self, *partitions):
            fetched.update(dict.fromkeys(map(TP._make, partitions), False))

        def resume(self, *partitions):
            fetched.update(dict.fromkeys(map(TP._make, partitions), True))

    async def call_thread(method, *args):
        return await method(*args)

    monkeypatch.setattr(consumer._thread, "_ensure_consumer", Client)
    monkeypatch.setattr(consumer._thread, "call_thread", call_thread)
    monkeypatch.setattr(consumer, "_is_changelog_tp", lambda tp: tp == changelog)
    consumer._awaiting_seek = False

    consumer.pause_partitions({GAMES, changelog})  # a rebalance
    await until(lambda: not fetched[changelog])
    assert fetched == {GAMES: True, changelog: False}  # faust itself holds stream records
    consumer.resume_partitions({changelog})  # recovery reads it
    await until(lambda: fetched[changelog])
    assert fetched[changelog]


def test_a_message_fetched_before_the_current_assignment_is_released_not_acked(app):
    consumer, topic = app.consumer, app.pipeline.topics.clean["odds"].get_topic_name()
    stale = Message(
        topic, 0, 7, 0.0, 0, [], b"k", b"v", None,
        generation_id=app.consumer_generation_id - 1,
    )  # fmt: skip
    current = Message(
        topic, 0, 8, 0.0, 0, [], b"k", b"v", None,
        generation_id=app.consumer_generation_id,
    )  # fmt: skip
    app.topics._acking_topics.add(topic)  # as the conductor does when the worker subscribes
    consumer.track_message(stale)
    consumer.track_message(current)
    assert consumer.ack(stale) is False and stale not in consumer._unacked_messages
    assert consumer._acked.get(stale.tp, []) == []  # its offset is not recorded
    assert consumer.ack(current) is True and consumer._acked[current.tp] == [8]


class HeldTopic:
    """A topic whose sends are acknowledged when the test says so (the broker's part)."""

    def __init__(self) -> None:
        self.deliveries: list[asyncio.Future] = []
        self.sent: list[tuple[bytes, list[bytes]]] = []  # (key, the events of the message)

    async def send(self, key, value, timestamp=None, headers=None) -> asyncio.Future:
        self.sent.append((key, [event for event, _ in batch_items(value, headers, 0.0)]))
        self.deliveries.append(asyncio.get_running_loop().create_future())
        return self.deliveries[-1]


class RefusingTopic:
    """A topic whose producer refuses every message at once with ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def send(self, **_) -> asyncio.Future:
        raise self.error


async def one_output_and_one_put(app):
    """A checkpoint with an output not yet acknowledged and a team's state put."""
    table = app.pipeline.tables.team_form
    event = runtime.partition_event(app, "clean.games", 0)
    topic, checkpoint = HeldTopic(), runtime.Checkpoint()
    await checkpoint.send(topic, b"k", b"output")
    checkpoint.put(table, "team", {"games": 1}, event)
    return table, event, topic, checkpoint


async def test_a_checkpoint_puts_state_only_once_its_outputs_are_on_the_broker(app):
    table, event, topic, checkpoint = await one_output_and_one_put(app)
    checkpoint.put(table, "team", {"games": checkpoint.get(table, "team")["games"] + 1}, event)
    committing = asyncio.create_task(checkpoint.commit())
    await asyncio.sleep(0.01)
    with runtime.current_event(event):
        assert table.get("team") is None  # the output is not acknowledged yet
    topic.deliveries[0].set_result(None)
    await asyncio.wait_for(committing, 1)
    with runtime.current_event(event):
        assert table["team"] == {"games": 2}  # read back before the commit, written once


async def test_a_checkpoint_whose_output_is_refused_puts_nothing(app):
    table, event, topic, checkpoint = await one_output_and_one_put(app)
    topic.deliveries[0].set_exception(MessageSizeTooLargeError())
    with pytest.raises(MessageSizeTooLargeError):  # the runtime parks the event
        await checkpoint.commit()
    with runtime.current_event(event):
        assert table.get("team") is None


async def test_outputs_awaited_by_the_agent_itself_are_not_awaited_again(app):
    topic, checkpoint = HeldTopic(), runtime.Checkpoint()
    refused = await checkpoint.send(topic, b"k", b"refused")
    kept = await checkpoint.send(topic, b"k", b"kept")
    refused.set_exception(MessageSizeTooLargeError())
    kept.set_result(None)
    with pytest.raises(MessageSizeTooLargeError):  # the agent parks that event
        await checkpoint.delivered([refused])
    await asyncio.wait_for(checkpoint.commit(), 1)  # only ``kept`` is left to wait for


async def test_a_value_cache_hands_back_only_what_was_stored_since_the_last_rebalance(app):
    table = app.pipeline.tables.league_ratings
    event = runtime.partition_event(app, "clean.games", 0)
    progress = app.pipeline.progress
    cache = runtime.ValueCache(progress)
    stored = runtime.Checkpoint()
    stored.put(table, "soccer:E0", {"version": 1}, event, cache)
    await stored.commit()
    reader = runtime.Checkpoint()
    value = reader.get(table, "soccer:E0", event, cache)
    assert value == {"version": 1} and cache.values == {}  # taken out while in use
    failing, topic = runtime.Checkpoint(), HeldTopic()
    await failing.send(topic, b"k", b"output")
    failing.put(table, "soccer:E0", {"version": 2}, event, cache)
    topic.deliveries[0].set_exception(MessageSizeTooLargeError())
    with pytest.raises(MessageSizeTooLargeError):
        await failing.commit()
    assert cache.values == {}  # not stored: the table's copy is read next
    assert runtime.Checkpoint().get(table, "soccer:E0", event, cache) == {"version": 1}
    cache.keep("soccer:E0", {"version": 1})
    progress.sought_to({})  # a rebalance: the partition may have had another owner
    assert cache.take("soccer:E0") is None


async def test_a_checkpoint_counts_only_once_committed():
    counted = []
    counter = SimpleNamespace(inc=counted.append)
    failing, topic = runtime.Checkpoint(), HeldTopic()
    await failing.send(topic, b"k", b"output")
    failing.count(counter, 3)
    topic.deliveries[0].set_exception(MessageSizeTooLargeError())
    with pytest.raises(MessageSizeTooLargeError):
        await failing.commit()
    assert counted == []  # the batch is tried again: counted then
    again = runtime.Checkpoint()
    again.count(counter, 3)
    await again.commit()
    assert counted == [3]


async def test_a_batch_lets_other_work_run_once_it_has_held_the_event_loop_its_turn(
    monkeypatch,
):
    ran = []
    checkpoint = runtime.Checkpoint()
    asyncio.get_running_loop().call_soon(ran.append, "another agent")
    monkeypatch.setattr(runtime, "BATCH_TURN_SECONDS", 60.0)
    await checkpoint.turn()
    assert ran == []  # within its turn, the batch goes on
    monkeypatch.setattr(runtime, "BATCH_TURN_SECONDS", 0.0)
    await checkpoint.turn()
    assert ran == ["another agent"]


async def test_events_emitted_to_a_topic_leave_together_and_each_learns_its_delivery():
    topic, checkpoint = HeldTopic(), runtime.Checkpoint(deferred=True)
    first = checkpoint.emit(topic, b"soccer:E0", b'{"n":1}', 1.0)
    second = checkpoint.emit(topic, b"soccer:E0", b'{"n":2}', 2.0)
    other_league = checkpoint.emit(topic, b"nba:NBA", b'{"n":3}', 3.0)
    assert topic.sent == []  # emitted events wait for the batch's turn
    committing = asyncio.create_task(checkpoint.commit())
    await until(lambda: len(topic.sent) == 2)
    assert topic.sent == [(b"soccer:E0", [b'{"n":1}', b'{"n":2}']), (b"nba:NBA", [b'{"n":3}'])]
    topic.deliveries[0].set_result("offset 7")
    topic.deliveries[1].set_exception(MessageSizeTooLargeError())
    with pytest.raises(MessageSizeTooLargeError):  # the commit waits for every event
        await asyncio.wait_for(committing, 1)
    assert first.result() == second.result() == "offset 7"  # their message's delivery
    assert isinstance(other_league.exception(), MessageSizeTooLargeError)


async def test_a_batch_tried_again_sends_each_event_alone_so_a_refusal_names_the_event():
    topic, checkpoint = HeldTopic(), runtime.Checkpoint()  # waits for its own outputs
    first = checkpoint.emit(topic, b"soccer:E0", b'{"n":1}', 1.0)
    second = checkpoint.emit(topic, b"soccer:E0", b'{"n":2}', 2.0)
    waiting = asyncio.create_task(checkpoint.delivered([first]))
    await until(lambda: len(topic.sent) == 2)
    assert topic.sent == [(b"soccer:E0", [b'{"n":1}']), (b"soccer:E0", [b'{"n":2}'])]
    topic.deliveries[0].set_result(None)
    topic.deliveries[1].set_exception(MessageSizeTooLargeError())
    await asyncio.wait_for(waiting, 1)  # the first event's own message went through
    with pytest.raises(MessageSizeTooLargeError):  # the agent parks the second
        await checkpoint.delivered([second])


async def test_a_turn_sends_what_the_batch_emitted_before_the_others_run(monkeypatch):
    topic, checkpoint = HeldTopic(), runtime.Checkpoint(deferred=True)
    checkpoint.emit(topic, b"soccer:E0", b"{}", 1.0)
    monkeypatch.setattr(runtime, "BATCH_TURN_SECONDS", 60.0)
    await checkpoint.turn()
    assert topic.sent == []  # within its turn the batch goes on, its outputs with it
    monkeypatch.setattr(runtime, "BATCH_TURN_SECONDS", 0.0)
    await checkpoint.turn()
    assert topic.sent == [(b"soccer:E0", [b"{}"])]


async def test_a_live_events_outputs_leave_at_the_next_turn_a_replayed_ones_with_the_batch(
    monkeypatch,
):
    monkeypatch.setattr(runtime, "BATCH_TURN_SECONDS", 60.0)  # no turn is due by the clock
    topic, interval = HeldTopic(), runtime.Checkpoint(live_window=3600.0)
    batch = runtime.Checkpoint(base=interval, deferred=True)  # the interval's live window
    batch.emit(topic, b"soccer:E0", b'{"n":1}', time.time() - 7200)  # replayed
    await batch.turn()
    assert topic.sent == []  # it leaves with the rest of the batch
    batch.emit(topic, b"soccer:E0", b'{"n":2}', time.time() - 1)  # live
    await batch.turn()
    assert topic.sent == [(b"soccer:E0", [b'{"n":1}', b'{"n":2}'])]
    batch.emit(topic, b"soccer:E0", b'{"n":3}', time.time() - 7200)
    await batch.turn()
    assert len(topic.sent) == 1  # sent once: the next replayed event waits again
    without_window = runtime.Checkpoint(deferred=True)
    without_window.emit(topic, b"soccer:E0", b'{"n":4}', time.time())
    await without_window.turn()
    assert len(topic.sent) == 1


async def test_an_emitted_event_refused_at_once_or_dropped_is_never_waited_for_for_ever():
    checkpoint = runtime.Checkpoint()
    refused = checkpoint.emit(RefusingTopic(MessageSizeTooLargeError()), b"k", b"{}", 1.0)
    with pytest.raises(MessageSizeTooLargeError):  # the agent parks that event
        await asyncio.wait_for(checkpoint.delivered([refused]), 1)
    checkpoint.emit(RefusingTopic(KafkaConnectionError()), b"k", b"{}", 1.0)
    with pytest.raises(KafkaConnectionError):  # the broker is away: the batch is tried again
        await asyncio.wait_for(checkpoint.delivered(), 1)
    dropped = checkpoint.emit(HeldTopic(), b"k", b"{}", 1.0)
    checkpoint.forget()  # its batch failed: handled again, emitted again
    assert dropped.cancelled()
    await asyncio.wait_for(checkpoint.commit(), 1)  # nothing left to wait for


async def test_a_deferred_batch_sends_what_it_emitted_when_its_interval_takes_it():
    topic, interval = HeldTopic(), runtime.Checkpoint()
    batch = runtime.Checkpoint(base=interval, deferred=True)
    accepted = batch.emit(topic, b"soccer:E0", b"{}", 1.0)
    await interval.absorb(batch)
    assert topic.sent == [(b"soccer:E0", [b"{}"])]
    topic.deliveries[0].set_result(None)
    await asyncio.wait_for(interval.commit(), 1)  # the interval waits for the event
    assert accepted.done()


def test_a_value_cache_with_a_limit_lets_the_least_recently_used_go():
    cache = runtime.ValueCache(StreamProgress(), limit=2)
    cache.keep("a", 1)
    cache.keep("b", 2)
    cache.keep("a", cache.take("a"))  # used again: now the most recent
    cache.keep("c", 3)
    assert cache.values == {"a": 1, "c": 3}


async def test_seeking_back_moves_faust_read_offset_back_too(app, monkeypatch):
    """faust drops every message below the last offset it delivered: a partition sought
    back must have its read offset moved back, or what is read again is dropped again."""
    consumer = app.consumer
    seeks = []

    async def seek_wait(positions):
        seeks.append(positions)

    monkeypatch.setattr(consumer._thread, "seek_wait", seek_wait)
    monkeypatch.setattr(consumer, "fetch_state", lambda tp: "")
    consumer._read_offset[ODDS] = 812  # delivered up to 812 after a seek to 791
    await consumer.seek_back(ODDS, 791)
    assert seeks == [{ODDS: 791}] and consumer._read_offset[ODDS] == 791


async def test_stream_partitions_resume_only_once_sought_to_their_committed_offsets(
    app, monkeypatch
):
    """faust resumes stream partitions just before it seeks them: whatever is delivered in
    between comes from the old positions (the SIGKILL survivor got thousands of messages
    past the committed offsets first). They are held until the seek, and the committed
    offsets of all of them are asked for at once."""
    consumer = app.consumer
    changelog = TP(f"{app.conf.id}-league-ratings-changelog", 0)
    assigned = {GAMES, ODDS, changelog}
    asked, sought = [], []

    async def fetch_committed_offsets(partitions):
        asked.append(sorted(partitions))
        return {GAMES: SimpleNamespace(offset=40)}  # ODDS: nothing committed yet

    client = SimpleNamespace(
        _coordinator=SimpleNamespace(fetch_committed_offsets=fetch_committed_offsets)
    )

    async def call_thread(method, *args):
        return await method(*args)

    async def earliest_offsets(*partitions):
        return {tp: 0 for tp in partitions}

    async def seek_wait(positions):  # the consumer service's seek, as faust's own seeks go
        sought.extend(positions.items())

    monkeypatch.setattr(consumer._thread, "_ensure_consumer", lambda: client)
    monkeypatch.setattr(consumer._thread, "call_thread", call_thread)
    monkeypatch.setattr(consumer._thread, "seek_wait", seek_wait)
    monkeypatch.setattr(consumer._thread, "seek", None)  # faust's seek: aiokafka called directly
    monkeypatch.setattr(consumer, "earliest_offsets", earliest_offsets)
    consumer._read_offset[GAMES] = 55  # delivered further before the rebalance
    monkeypatch.setattr(consumer, "assignment", lambda: assigned)
    monkeypatch.setattr(consumer, "_is_changelog_tp", lambda tp: tp == changelog)
    consumer._awaiting_seek, consumer._held_for_seek = True, set()  # as after an assignment
    consumer.pause_partitions(assigned)

    consumer.resume_partitions(assigned)  # what faust's recovery does before the seek
    assert consumer._paused_partitions == {GAMES, ODDS}  # the changelog alone resumed

    await consumer.perform_seek()
    assert asked == [sorted([GAMES, ODDS])]  # one request
    assert sorted(sought) == sorted([(GAMES, 40), (ODDS, 0)])
    assert (consumer._read_offset[GAMES], consumer._read_offset[ODDS]) == (40, None)
    assert app.pipeline.progress.sought == {GAMES: 40, ODDS: 0}
    assert consumer._paused_partitions == set()  # resumed once sought
    consumer.resume_partitions({GAMES})  # later resumes (flow control) go through
    assert GAMES in consumer._get_active_partitions()


def batch_sizes(stream_of: Callable, sizes: list[int]) -> Callable:
    """An agent that takes its stream's batches (``stream_of(stream)``), recording sizes."""

    async def take(stream):
        async for batch in stream_of(stream):
            sizes.append(len(batch))
            for event in batch:
                await stream.ack(event)

    return take


async def until(condition: Callable[[], bool], seconds: float = 1.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


async def test_a_batch_holds_what_came_within_the_wait_and_no_more_than_the_most(app):
    sizes: list[int] = []
    take = batch_sizes(lambda stream: stream.batches(3, 0.05, fill=True), sizes)
    agent = app.agent(app.channel(), name="batched")(take)
    async with agent.test_context() as running:
        for n in range(5):
            await running.put(n)
        await until(lambda: sum(sizes) == 5)
    assert sizes == [3, 2]


async def test_a_lone_event_is_taken_at_once_and_what_waited_meanwhile_in_one_batch(app):
    """Without ``fill``, a batch is taken as soon as nothing more waits in the queue: the
    wait (5 s here) only bounds the draining, so both batches come long before it."""
    sizes: list[int] = []
    release = asyncio.Event()

    async def take(stream):
        async for batch in stream.batches(100, 5.0, fill=False):
            sizes.append(len(batch))
            if len(sizes) == 1:
                await release.wait()  # the agent busy with its first batch
            for event in batch:
                await stream.ack(event)

    agent = app.agent(app.channel(), name="eager")(take)
    async with agent.test_context() as running:
        await running.put("alone", wait=False)
        await until(lambda: bool(sizes))
        assert sizes == [1]
        for n in range(4):
            await running.put(n, wait=False)
        await asyncio.sleep(0.05)
        release.set()
        await until(lambda: sum(sizes) == 5)
    assert sizes == [1, 4]


async def test_an_idle_stream_does_not_wake_until_something_comes(app, monkeypatch):
    """faust's noack_take looked at its empty buffer every ``within`` seconds (12 % of a
    core on an idle worker); these batches wait for the first event instead."""
    waits: list[float] = []
    sizes: list[int] = []

    def counted_batches(stream):
        waiting = stream.wait_for_stopped

        async def counting(*args, **kwargs):
            waits.append(time.monotonic())
            return await waiting(*args, **kwargs)

        monkeypatch.setattr(stream, "wait_for_stopped", counting)
        return stream.batches(100, 0.01, fill=True)

    agent = app.agent(app.channel(), name="idle")(batch_sizes(counted_batches, sizes))
    async with agent.test_context() as running:
        await asyncio.sleep(0.3)  # 30 wake-ups of the old loop
        idle_waits = len(waits)
        await running.put("first")
        await until(lambda: bool(sizes))
    assert idle_waits == 1 and sizes == [1]


def acknowledging_agent(app, monkeypatch, name: str, handle, seconds: float, noted) -> tuple:
    """An agent running ``handle`` under a commit interval of ``seconds``, with table
    writes on the changelog at once (no broker here); for each event it acknowledged,
    ``noted(event)`` at that moment."""
    pipeline = app.pipeline
    pipeline.settings = pipeline.settings.model_copy(update={"commit_interval_seconds": seconds})
    acked = []

    async def written(agent: str) -> None:
        pass

    monkeypatch.setattr(pipeline.tables, "written", written)

    async def run(stream) -> None:
        ack = stream.ack

        async def recording_ack(event) -> bool:
            acked.append(noted(event))
            return await ack(event)

        stream.ack = recording_ack
        await runtime.run_batches(stream, pipeline, handle)

    return app.agent(app.channel(), name=name)(run), acked


def counting_agent(app, monkeypatch, seconds: float):
    """An agent that adds 1 to a table key per event, under a commit interval of
    ``seconds``; what it processed, and for each event it acknowledged the key's stored
    value at that moment."""
    table = app.pipeline.tables.team_form
    where = runtime.partition_event(app, "clean.games", 0)
    processed = []

    def stored() -> int | None:
        with runtime.current_event(where):
            return table.get("team")

    async def handle(batch, checkpoint) -> None:
        for record in batch:
            count = (checkpoint.get(table, "team", where) or 0) + 1
            checkpoint.put(table, "team", count, where)
            processed.append(record.value)

    agent, acked = acknowledging_agent(
        app, monkeypatch, "counting", handle, seconds, lambda event: (event.value, stored())
    )
    return agent, processed, acked, stored


async def test_a_commit_interval_stores_its_batches_state_once_then_acknowledges_them(
    app, monkeypatch
):
    agent, processed, acked, stored = counting_agent(app, monkeypatch, seconds=1.0)
    async with agent.test_context() as context:
        for value in (b"1", b"2", b"3"):
            await context.put(value, wait=False)
        await until(lambda: len(processed) == 3, 5.0)
        # processed, each batch building on the one before, but nothing stored or
        # acknowledged before the interval ends
        assert stored() is None and acked == []
        await until(lambda: len(acked) == 3, 5.0)
    # the state of all three was stored before the first acknowledgement
    assert acked == [(b"1", 3), (b"2", 3), (b"3", 3)]


async def test_batches_read_before_a_rebalance_store_nothing_and_are_let_go(app, monkeypatch):
    agent, processed, acked, stored = counting_agent(app, monkeypatch, seconds=1.0)
    let_go = []
    monkeypatch.setattr(runtime, "let_go", lambda consumer, message: let_go.append(message.value))
    async with agent.test_context() as context:
        await context.put(b"before", wait=False)
        await until(lambda: len(processed) == 1, 5.0)
        app.pipeline.progress.sought_to({})  # a rebalance: the partition is read again
        await context.put(b"after", wait=False)
        await until(lambda: len(acked) == 1, 5.0)
    # the batch after the rebalance built on the stored state, not on the dropped one
    assert let_go == [b"before"] and acked == [(b"after", 1)]


async def test_a_failed_try_leaves_no_trace_in_the_state_its_interval_gathered(
    app, sent, monkeypatch
):
    """Handlers update the values they read in place. A try that fails after doing so
    (on the broker, then on a bad event) must not leave its changes in the state of the
    interval's earlier batches: they are handled again from the stored state."""
    monkeypatch.setattr(runtime, "RETRY_FIRST_DELAY", 0.01)
    processor = BatchProcessor(app.pipeline, app, "book-odds")
    table = app.pipeline.tables.team_form
    where = runtime.partition_event(app, "clean.games", 0)
    interval = runtime.Checkpoint()
    broker_away = [True]

    async def handle(batch, checkpoint):
        seen = checkpoint.get(table, "team", where) or {"offsets": []}
        for record in batch:
            offset = record.message.offset
            if offset in seen["offsets"]:
                continue  # handled already (idempotent, as every handler)
            seen["offsets"].append(offset)  # in place, in what it read
            if offset == 3 and broker_away[0]:
                broker_away[0] = False
                raise KafkaConnectionError("broker away")
            if offset == 5:
                raise ValueError("a bad event")
        checkpoint.put(table, "team", seen, where)

    await processor.process([event_at(app, 1), event_at(app, 2)], handle, interval)
    await processor.process([event_at(app, 3), event_at(app, 4)], handle, interval)
    await processor.process([event_at(app, 5), event_at(app, 6)], handle, interval)
    assert interval.get(table, "team", where) == {"offsets": [1, 2, 3, 4, 6]}
    [(_, value)] = sent[app.pipeline.settings.topic("deadletter")]
    assert DeadLetter.model_validate_json(value).offset == 5


async def test_a_failed_tick_leaves_no_trace_in_the_state_its_interval_gathered(app, monkeypatch):
    pipeline = app.pipeline
    pipeline.settings = pipeline.settings.model_copy(
        update={"tick_seconds": 0.01, "commit_interval_seconds": 0.5}
    )
    table = pipeline.tables.team_form
    where = runtime.partition_event(app, "clean.games", 0)
    broker_away = [True]

    async def written(agent: str) -> None:  # no broker here: nothing to wait for
        pass

    monkeypatch.setattr(pipeline.tables, "written", written)

    async def handle(batch, checkpoint) -> None:
        seen = checkpoint.get(table, "team", where) or {"values": []}
        seen["values"] += [r.value for r in batch if r.value not in seen["values"]]
        checkpoint.put(table, "team", seen, where)

    async def on_tick(checkpoint) -> None:
        seen = checkpoint.get(table, "team", where)
        if seen and broker_away[0]:
            broker_away[0] = False
            seen["values"].append(b"from the failed tick")  # in place, in what it read
            raise KafkaConnectionError("broker away")

    def stored():
        with runtime.current_event(where):
            return table.get("team")

    agent = app.agent(app.channel(), name="ticking")(
        lambda stream: runtime.run_batches(stream, pipeline, handle, on_tick=on_tick)
    )
    async with agent.test_context() as context:
        await context.put(b"1", wait=False)
        await until(lambda: not broker_away[0], 5.0)
        await context.put(b"2", wait=False)
        await until(lambda: stored() is not None and len(stored()["values"]) == 2, 5.0)
    assert stored() == {"values": [b"1", b"2"]}


async def test_a_partition_revoked_while_its_interval_is_handled_again_ends_quietly(
    app, sent, monkeypatch
):
    """A batch fails on a bad event; while the interval's earlier batch is handled again
    the broker goes away and the partition is revoked: its new owner reads both again, so
    nothing is parked here and the agent goes on."""
    monkeypatch.setattr(runtime, "RETRY_FIRST_DELAY", 0.01)
    processor = BatchProcessor(app.pipeline, app, "book-odds")
    interval = runtime.Checkpoint()
    handled = []

    async def handle(batch, checkpoint):
        offsets = [r.message.offset for r in batch]
        handled.append(offsets)
        if 2 in offsets:
            raise ValueError("a bad event")
        if len(handled) > 2:  # handling offset 1 again: the broker is away
            raise KafkaConnectionError("broker away")

    await processor.process([event_at(app, 1)], handle, interval)
    owned = iter([True])  # owned when the batch fails, revoked during the retry
    monkeypatch.setattr(processor, "owned", lambda batch: next(owned, False))
    await processor.process([event_at(app, 2)], handle, interval)
    assert handled == [[1], [2], [1]]
    assert sent[app.pipeline.settings.topic("deadletter")] == []


async def test_a_tick_that_changes_state_is_stored_at_once(app, monkeypatch):
    """A tick has no records to handle again if a later batch of its interval fails: what
    it changed is stored without waiting for the interval to end."""
    pipeline = app.pipeline
    pipeline.settings = pipeline.settings.model_copy(
        update={"tick_seconds": 0.01, "commit_interval_seconds": 60}
    )
    table = pipeline.tables.team_form
    where = runtime.partition_event(app, "clean.games", 0)

    async def written(agent: str) -> None:  # no broker here: nothing to wait for
        pass

    monkeypatch.setattr(pipeline.tables, "written", written)

    async def on_tick(checkpoint) -> None:
        if checkpoint.get(table, "released", where) is None:
            checkpoint.put(table, "released", True, where)

    async def handle(batch, checkpoint) -> None:
        pass

    def stored():
        with runtime.current_event(where):
            return table.get("released")

    agent = app.agent(app.channel(), name="ticking")(
        lambda stream: runtime.run_batches(stream, pipeline, handle, on_tick=on_tick)
    )
    async with agent.test_context():
        await until(lambda: stored() is not None, 5.0)
        assert stored() is True  # stored long before the 60 s interval ends


def fetched(tp: TP, *offsets: int) -> list[tuple[TP, SimpleNamespace]]:
    return [(tp, SimpleNamespace(tp=tp, topic=tp.topic, offset=offset)) for offset in offsets]


async def test_a_fetch_is_delivered_whole_without_waiting_for_the_event_loop_per_message(
    app, monkeypatch
):
    """faust waited for a turn of the event loop per message (behind every agent's work);
    a fetch's messages now go to the streams one after the other, those already delivered
    left out, a gap recorded for acknowledgement as faust records it."""
    consumer = app.consumer
    delivered, turns, gaps = [], [], []

    async def callback(message):
        delivered.append((message.tp, message.offset, len(turns)))

    async def add_gap(tp, start, end):
        gaps.append((tp, start, end))

    async def other_work():
        while True:
            turns.append(None)
            await asyncio.sleep(0)

    monkeypatch.setattr(consumer, "callback", callback)
    monkeypatch.setattr(consumer, "_add_gap", add_gap)
    monkeypatch.setattr(app.topics, "acks_enabled_for", lambda topic: True)
    consumer._read_offset.update({ODDS: 10, GAMES: None})
    busy = asyncio.ensure_future(other_work())
    await asyncio.sleep(0)
    try:
        await consumer._deliver([*fetched(ODDS, 9, 11, 14), *fetched(GAMES, 0)])
    finally:
        busy.cancel()
    assert [(tp, offset) for tp, offset, _ in delivered] == [(ODDS, 11), (ODDS, 14), (GAMES, 0)]
    assert len({turn for *_, turn in delivered}) == 1  # no turn of the loop in between
    assert gaps == [(ODDS, 12, 14)]
    assert (consumer._read_offset[ODDS], consumer._read_offset[GAMES]) == (14, 0)


async def test_a_suspended_flow_stops_a_fetchs_delivery_where_it_is(app, monkeypatch):
    """A rebalance suspends the flow while a delivery waits (a full stream buffer): the rest
    of the fetch is not delivered and its read offsets do not move; the seek after the
    rebalance reads them again."""
    consumer = app.consumer
    delivered, blocked = [], asyncio.Event()

    async def callback(message):
        if message.offset == 2:
            blocked.set()
            await asyncio.Event().wait()  # a full buffer, never drained
        delivered.append(message.offset)

    monkeypatch.setattr(consumer, "callback", callback)
    consumer._read_offset[ODDS] = None
    consumer.resume_flow()
    delivery = asyncio.ensure_future(
        consumer.wait_first(
            consumer._deliver(fetched(ODDS, 0, 1, 2, 3)), consumer.suspend_flow.wait()
        )
    )
    await asyncio.wait_for(blocked.wait(), 1)
    consumer.stop_flow()
    await asyncio.wait_for(delivery, 1)
    assert delivered == [0, 1] and consumer._read_offset[ODDS] == 1
    consumer.resume_flow()


async def test_a_batch_is_handled_before_the_outputs_of_the_last_are_acknowledged(app, monkeypatch):
    """An agent waits for its outputs once per commit interval, not once per batch (a
    busy agent's next batch waited for the broker each time); nothing of the interval is
    stored or acknowledged before every output of it is on the broker."""
    deliveries: list[asyncio.Future] = []
    handled = []

    class Output:
        """An output topic whose broker acknowledges when the test says so."""

        async def send(self, **kwargs) -> asyncio.Future:
            deliveries.append(asyncio.get_running_loop().create_future())
            return deliveries[-1]

    async def handle(batch, checkpoint) -> None:
        for record in batch:
            await checkpoint.send(Output(), b"key", record.value)
            handled.append(record.value)

    agent, acked = acknowledging_agent(
        app, monkeypatch, "sending", handle, 0.1, lambda event: event.value
    )
    async with agent.test_context() as context:
        await context.put(b"1", wait=False)
        await until(lambda: handled == [b"1"])
        await context.put(b"2", wait=False)
        await until(lambda: handled == [b"1", b"2"])
        assert handled == [b"1", b"2"]  # the first's output still out
        await asyncio.sleep(0.3)  # the interval is due: its commit waits for both outputs
        assert acked == []
        deliveries[0].set_result(None)
        await asyncio.sleep(0.1)
        assert acked == []
        deliveries[1].set_result(None)
        await until(lambda: acked == [b"1", b"2"])
    assert acked == [b"1", b"2"]


async def test_windowed_counts_added_by_batches_are_summed_and_written_once_per_window(app):
    """A live game's per-minute counts were written once per batch (a windowed write,
    ~0.2 ms each): at each commit they held the event loop for tens of milliseconds."""
    quote_rate = app.pipeline.tables.quote_rate
    minute = 60 * 28_000_000.0  # the start of a minute, in seconds

    def at(seconds: float):
        return runtime.partition_event(app, ODDS.topic, 0, minute + seconds)

    first, second = runtime.Checkpoint(), runtime.Checkpoint()
    first.add(quote_rate, "soccer:E0|g1", 3, at(1))
    second.add(quote_rate, "soccer:E0|g1", 2, at(30))  # the same minute
    second.add(quote_rate, "soccer:E0|g1", 4, at(61))  # the next one
    second.add(quote_rate, "soccer:E0|g2", 1, at(2))
    interval = runtime.Checkpoint()
    await interval.absorb(first)
    await interval.absorb(second)
    await interval.commit()
    assert len(quote_rate.table.unsent[TEST_AGENT]) == 3  # one write per game and minute
    counts = {}
    for key, seconds in (("soccer:E0|g1", 1), ("soccer:E0|g1", 61), ("soccer:E0|g2", 2)):
        with runtime.current_event(at(seconds)):
            counts[key, seconds] = quote_rate[key].current()
    assert counts == {("soccer:E0|g1", 1): 5, ("soccer:E0|g1", 61): 4, ("soccer:E0|g2", 2): 1}
