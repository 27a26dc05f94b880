"""Batches of events, acknowledged only once they are processed and their state is stored.

An offset may be committed only when every agent reading the message has applied it and
every table write it caused is on the broker; then a worker killed at any moment loses
nothing (what was not committed is read again, and every table update is idempotent).
faust-streaming 0.15.3 breaks that around rebalances:

- ``Stream.take_events`` acks its whole buffer when the generator is closed, whether or
  not the batch was processed;
- the consumer forgets its committed offsets when partitions are revoked, so an ack made
  during the rebalance is committed without the check for a gap before it;
- a message cleared from an agent's queue at revocation keeps a reference count above
  zero, and ``wait_empty`` waits for it until it is garbage-collected: forever, while an
  agent still references an event of that message (seen here: the survivor of a killed
  worker hung in the rebalance);
- a table write reaches the changelog through a buffer that the commit's flush gives up on
  after 0.1 s without a send.

So: agents take batches with ``processed_batches``, which acks a batch after the agent's
body is done and the table writes are acknowledged by the broker; during a rebalance (flow
suspended) and for messages fetched before it, nothing is recorded as processed — those
messages are released, and read again from the last committed offset once the new
assignment is in place; the rebalance waits only for the batches being processed.
``install_ack_rules`` puts the consumer side in place; the app factory calls it.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import faust
from faust.streams import _current_event
from faust.transport.consumer import Consumer
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


class BatchesInFlight:
    """How many batches agents are processing (taken, not yet acknowledged)."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def enter(self) -> None:
        self.count += 1
        self._idle.clear()

    def leave(self) -> None:
        self.count -= 1
        if not self.count:
            self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        """False if batches are still being processed after ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
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


async def processed_batches(
    stream: faust.StreamT, pipeline: Pipeline, size: int | None = None, within: float | None = None
) -> AsyncIterator[list[faust.types.EventT]]:
    """Batches of at most ``size`` events (or what came within ``within`` seconds; the
    ingest batch settings by default); each is acknowledged once the loop body that took
    it is done and every table write is on the broker. A body that raises acknowledges
    nothing: its events are read again."""
    app, tables, in_flight = stream.app, pipeline.tables, pipeline.in_flight
    size = size or pipeline.settings.ingest_batch_size
    within = within or pipeline.settings.ingest_batch_seconds
    async for batch in stream.noack_take(size, within=within):
        fresh = []
        for event in batch:
            if in_current_assignment(app, event.message):
                fresh.append(event)
            else:
                release(app.consumer, event.message)
        if not fresh:
            continue
        in_flight.enter()
        try:
            yield fresh
            await tables.written()
            for event in fresh:
                await stream.ack(event)
        finally:
            in_flight.leave()


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
    in_flight: BatchesInFlight | None = getattr(self.app, "batches_in_flight", None)
    timeout = self.app.conf.broker_session_timeout / 2
    if in_flight is not None and not await in_flight.wait_idle(timeout):
        log.warning(
            "%d batches still being processed after %.0f s; their events will be read again",
            in_flight.count,
            timeout,
        )
    for message in list(self._unacked_messages):
        release(self, message)
    await self.commit_and_end_transactions()


def install_ack_rules(app: faust.App, in_flight: BatchesInFlight) -> None:
    """The consumer side of the rules above (the patch of faust's consumer is applied once
    per process)."""
    app.batches_in_flight = in_flight
    if not getattr(Consumer.ack, "streamapp_rule", False):
        Consumer.ack = _ack_in_current_assignment(Consumer.ack)
        Consumer.ack.streamapp_rule = True
        Consumer.wait_empty = _wait_for_batches_in_flight
