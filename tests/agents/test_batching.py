"""The rules that keep a stream's events in offset order across seeks, and the wait for
batches in flight (agents.batching)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from faust.types import TP

from agents.batching import OffsetOrder, StreamProgress

GAMES = TP("clean.games", 0)
ODDS = TP("clean.odds", 0)


def message(tp: TP, offset: int) -> SimpleNamespace:
    return SimpleNamespace(tp=tp, offset=offset)


def admitted(order: OffsetOrder, *messages) -> list[int]:
    return [m.offset for m in messages if order.admits(m)]


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


async def test_table_writes_are_waited_for_until_the_broker_acknowledges_them(app):
    tables = app.pipeline.tables
    loop = asyncio.get_running_loop()
    first, second = loop.create_future(), loop.create_future()
    tables.team_form.unacknowledged["track-form"] = [first]
    tables.odds_book.unacknowledged["track-form"] = [second]
    waiting = asyncio.create_task(tables.written("track-form"))
    first.set_result(None)
    await asyncio.sleep(0.01)
    assert not waiting.done()  # the odds book's write is still in flight
    second.set_result(None)
    await asyncio.wait_for(waiting, 1)
    await tables.written("track-form")
    assert tables.team_form.unacknowledged == tables.odds_book.unacknowledged == {}


def test_under_exactly_once_a_partition_starts_at_or_after_the_position():
    progress = StreamProgress()
    progress.exact_start = False  # the committed offset may be a transaction marker's
    progress.sought_to({GAMES: 10})
    order = progress.order_of("ingest-games")
    assert admitted(order, message(GAMES, 9), message(GAMES, 11), message(GAMES, 12)) == [11, 12]
