"""Batches of events, acknowledged only once they are processed and their state is stored.

An offset may be committed only when every agent reading the message has applied it and
every table write it caused is on the broker, and every agent must see each partition's
messages once, in offset order, from where the consumer starts; then a worker killed at
any moment loses nothing (what was not committed is read again, and every table update is
idempotent). faust-streaming 0.15.3 with aiokafka 0.14 breaks that around rebalances
(each seen here in the two-worker failover test):

- ``Stream.take_events`` acks its whole buffer when the generator is closed, whether or
  not the batch was processed;
- the consumer forgets its committed offsets when partitions are revoked, so an ack made
  during the rebalance is committed without the check for a gap before it;
- a message cleared from an agent's queue at revocation keeps a reference count above
  zero, and ``wait_empty`` waits for it until it is garbage-collected: forever, while an
  agent still references an event of that message (the survivor of a killed worker hung);
- streams resume before the consumer seeks to the committed offsets, and messages fetched
  in between are skipped; aiokafka's ``seek_to_committed`` does not move a partition that
  has no committed offset, so a partition first consumed by a worker that joined never
  saw the messages skipped there (a new worker missed the first events of its leagues),
  and one with a committed offset delivered the prefetched messages ahead of the re-read
  ones (an opening price after the closing one: dead-lettered as out of order);
- a table write reaches the changelog through a buffer that the commit's flush gives up on
  after 0.1 s without a send.

So: agents take batches with ``processed_batches``. Per partition, a stream admits the
message at the offset the consumer was sought to, then only later offsets; a batch is
acknowledged after the agent's body is done and its table writes are acknowledged by the
broker. During a rebalance (flow suspended) and for messages fetched before it, nothing
is recorded as processed: those messages are released and read again from the last
committed offset (or the partition's beginning) once the new assignment is in place. The
rebalance waits only for the batches being processed. ``install_ack_rules`` puts the
consumer side in place; the app factory calls it.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

import faust
from faust.agents.agent import current_agent
from faust.streams import _current_event
from faust.transport.consumer import Consumer
from faust.types import TP
from faust.types.tuples import Message, ack_lock

if TYPE_CHECKING:
    from agents.pipeline import Pipeline

log = logging.getLogger(__name__)


@contextmanager
def current_event(event: faust.types.EventT) -> Iterator[None]:
    """Table access as ``event``: faust tables read and write the partition (and changelog
    partition) of the event in the ``current_event`` context variable, which in a batch is
    the last event buffered, not the one a key belongs to. Only the context variable is
    set: ``Stream.current_event`` belongs to the take buffer."""
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


class StreamProgress:
    """What the agents' batches and the consumer's rebalance steps share: how many batches
    are being processed, and where each stream partition was last sought to."""

    def __init__(self) -> None:
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.seek_epoch = 0
        self.sought: dict[TP, int] = {}
        # False where no consumer seeks (agent test contexts): streams take what comes.
        self.seeks = True
        # False under exactly_once: a committed offset may point at a transaction marker,
        # so a partition starts at the first offset at or after the one sought to.
        self.exact_start = True
        self._orders: dict[str, OffsetOrder] = {}

    def enter(self) -> None:
        self.in_flight += 1
        self._idle.clear()

    def leave(self) -> None:
        self.in_flight -= 1
        if not self.in_flight:
            self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        """False if batches are still being processed after ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def sought_to(self, offsets: Mapping[TP, int]) -> None:
        self.sought = dict(offsets)
        self.seek_epoch += 1

    def order_of(self, agent: str) -> OffsetOrder:
        """The agent's offset order, kept when faust restarts the agent after a crash."""
        if agent not in self._orders:
            self._orders[agent] = OffsetOrder(self)
        return self._orders[agent]


class OffsetOrder:
    """Which messages one agent may process: per partition, the message at the offset the
    consumer was last sought to, then only later offsets; from a revocation to the next
    seek, nothing. A message fetched before the seek but delivered after it, or delivered
    twice, is refused (it is, or was, read again in order)."""

    def __init__(self, progress: StreamProgress) -> None:
        self.progress = progress
        self.epoch = progress.seek_epoch
        self.last: dict[TP, int] = {}

    def admits(self, message: Message) -> bool:
        if self.epoch != self.progress.seek_epoch:
            self.epoch, self.last = self.progress.seek_epoch, {}
        tp, offset = message.tp, message.offset
        last = self.last.get(tp)
        if last is not None:
            if offset <= last:
                return False
        elif self.progress.seeks:
            start = self.progress.sought.get(tp)
            if start is None or offset < start or (offset > start and self.progress.exact_start):
                return False
        self.last[tp] = offset
        return True


def in_current_assignment(app: faust.App, message: Message) -> bool:
    """False during a rebalance and for a message fetched before the last one: its offset
    must not be recorded as processed (faust's streams skip such messages too)."""
    return app.flow_control.is_active() and message.generation_id == app.consumer_generation_id


def release(consumer: Consumer, message: Message) -> None:
    """Nothing waits for ``message`` any more, and its offset is not recorded: it is read
    again from the last committed offset."""
    with ack_lock:
        message.acked = True
        consumer._unacked_messages.discard(message)


def let_go(consumer: Consumer, message: Message) -> None:
    """One stream is done with ``message`` without processing it: like its ack, except
    that the offset is not recorded when it was the last stream holding the message."""
    with ack_lock:
        if not message.acked and not message.decref():
            release(consumer, message)


async def processed_batches(
    stream: faust.StreamT, pipeline: Pipeline, size: int | None = None, within: float | None = None
) -> AsyncIterator[list[faust.types.EventT]]:
    """Batches of at most ``size`` events (or what came within ``within`` seconds; the
    ingest batch settings by default); each is acknowledged once the loop body that took
    it is done and every table write is on the broker. A body that raises acknowledges
    nothing: its events are read again after the next restart or rebalance."""
    app, tables, progress = stream.app, pipeline.tables, pipeline.progress
    size = size or pipeline.settings.ingest_batch_size
    within = within or pipeline.settings.ingest_batch_seconds
    agent = current_agent().name
    order = progress.order_of(agent)
    async for batch in stream.noack_take(size, within=within):
        admitted = []
        for event in batch:
            message = event.message
            if in_current_assignment(app, message) and order.admits(message):
                admitted.append(event)
            else:
                let_go(app.consumer, message)
        if not admitted:
            continue
        progress.enter()
        try:
            yield admitted
            await tables.written(agent)
            for event in admitted:
                await stream.ack(event)
        finally:
            progress.leave()


async def processed_events(
    stream: faust.StreamT, pipeline: Pipeline
) -> AsyncIterator[faust.types.EventT]:
    """The events of ``processed_batches`` one at a time, each the current event while the
    loop body handles it (its table writes go to its own partition)."""
    async for batch in processed_batches(stream, pipeline):
        for event in batch:
            with current_event(event):
                yield event


def _ack_in_current_assignment(ack):
    def ack_rule(self: Consumer, message: Message) -> bool:
        if in_current_assignment(self.app, message):
            return ack(self, message)
        release(self, message)
        return False

    return ack_rule


async def _wait_for_batches_in_flight(self: Consumer) -> None:
    """Replaces ``Consumer.wait_empty`` (at revocation and at shutdown): wait for the
    batches being processed, release every other message, commit what was processed."""
    progress: StreamProgress | None = getattr(self.app, "stream_progress", None)
    if progress is not None:
        progress.sought_to({})  # nothing is admitted until the next assignment's seek
        timeout = self.app.conf.broker_session_timeout / 2
        if not await progress.wait_idle(timeout):
            log.warning(
                "%d batches still being processed after %.0f s; their events will be read again",
                progress.in_flight,
                timeout,
            )
    for message in list(self._unacked_messages):
        release(self, message)
    await self.commit_and_end_transactions()


async def _seek_every_stream_partition(self: Consumer) -> None:
    """Replaces ``Consumer.perform_seek`` (after each assignment): every stream partition
    to its committed offset, or to its beginning when nothing was committed. The offsets
    are published to the streams (``OffsetOrder``) before the seeks, so a message read
    from the new position is never refused for arriving before them."""
    thread = self._thread  # the aiokafka driver's consumer thread
    client = thread._ensure_consumer()
    streams = [tp for tp in self.assignment() if not self._is_changelog_tp(tp)]
    committed = {tp: await thread.call_thread(client.committed, tp) for tp in streams}
    uncommitted = [tp for tp, offset in committed.items() if offset is None or offset < 0]
    positions = {**committed, **(await self.earliest_offsets(*uncommitted) if uncommitted else {})}
    progress: StreamProgress | None = getattr(self.app, "stream_progress", None)
    if progress is not None:
        progress.sought_to(positions)
    for tp, offset in positions.items():
        await self.seek(tp, offset)
    self._committed_offset.update(
        {tp: offset for tp, offset in committed.items() if offset is not None and offset >= 0}
    )


def install_ack_rules(app: faust.App, progress: StreamProgress) -> None:
    """The consumer side of the rules above (faust's consumer class is patched once per
    process; each app finds its own ``StreamProgress``)."""
    app.stream_progress = progress
    if not getattr(Consumer.ack, "streamapp_rule", False):
        Consumer.ack = _ack_in_current_assignment(Consumer.ack)
        Consumer.ack.streamapp_rule = True
        Consumer.wait_empty = _wait_for_batches_in_flight
        Consumer.perform_seek = _seek_every_stream_partition
