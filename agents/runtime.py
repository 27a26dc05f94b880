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

So: agents run their loop with ``run_batches`` (or ``run_events``). Per partition, a
stream admits the message at the offset the consumer was sought to, then only later
offsets; a batch is acknowledged after the agent's handler is done with it and its table
writes are acknowledged by the broker. A handler that raises acknowledges nothing: the
batch is retried (transient errors) or split, and an event that fails alone is parked as
a dead letter (``BatchProcessor``), so one bad event never stops a partition or crashes
an agent. During a rebalance (flow suspended) and for messages fetched before it, nothing
is recorded as processed: those messages are released and read again from the last
committed offset (or the partition's beginning) once the new assignment is in place. The
rebalance waits only for the batches being processed. ``RuntimeConsumer`` is the
consumer side; the app's transport (``RuntimeTransport``) creates it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import aclosing, contextmanager
from enum import Enum
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple

import faust
from aiokafka.errors import KafkaError, KafkaTimeoutError
from aiokafka.structs import TopicPartition
from faust.agents.agent import current_agent
from faust.exceptions import ConsumerNotStarted
from faust.streams import _current_event
from faust.streams import current_event as faust_current_event
from faust.transport.consumer import CONSUMER_FETCHING, Consumer
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP
from faust.types.tuples import Message, ack_lock
from mode.utils.futures import maybe_async

from agents.fetch_sessions import FetchSessions
from schemas.batches import (
    TIMES_HEADER,
    WATERMARK_HEADER,
    batch_items,
    event_batches,
    message_header,
)
from schemas.deadletter import DeadLetter

if TYPE_CHECKING:
    from agents.pipeline import Pipeline

log = logging.getLogger(__name__)
RETRY_FIRST_DELAY = 0.5
RETRY_MAX_DELAY = 15.0
# Seconds an agent waits for the message at a partition's position, once later ones came,
# before the partition is sought back.
GAP_PATIENCE = 5.0
# Seconds within which the broker must have answered a fetch of a partition for its high
# watermark to judge it idle (a fetch is sent within STREAMAPP_FETCH_HOLD_SECONDS, 1 s, and
# an idle one returns within STREAMAPP_FETCH_MAX_WAIT_MS, 0.5 s).
FETCH_FRESHNESS = 2.0
# What is kept of a payload whose whole dead letter the broker refused (a raw message near
# the 16 MiB limit: its base64 letter is a third larger).
CUT_PAYLOAD_BYTES = 1024 * 1024
# Messages the consumer delivers to the streams between two turns of the event loop (faust's
# own figure): a replay's fetch holds hundreds.
DELIVERY_TURN = 100
# Longest a batch holds the event loop before the other agents get a turn (Checkpoint.turn).
BATCH_TURN_SECONDS = 0.005


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
        self.sought_at = time.monotonic()
        self.sought_wall = time.time()
        # per partition since the last seek: the offset after the last message acknowledged
        # (processed by every agent reading it), and the wall-clock time of that ack
        self.handled: dict[TP, tuple[int, float]] = {}
        # False where no consumer seeks (agent test contexts): streams take what comes.
        self.seeks = True
        # False under exactly_once: a committed offset may point at a transaction marker,
        # so a partition starts at the first offset at or after the one sought to.
        self.exact_start = True
        self._orders: dict[str, OffsetOrder] = {}
        # agent -> (monotonic time its current stall began, why, permanent)
        self.stalls: dict[str, tuple[float, str, bool]] = {}
        # per partition: times sought back to its position since the last seek
        self.reseeks: dict[TP, int] = {}
        self._gaps_watched: set[tuple] = set()
        self._gap_tasks: set[asyncio.Future] = set()

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

    def stall(self, agent: str, reason: str, permanent: bool = False) -> None:
        """``agent`` cannot finish its batch (a permanent stall lasts until a restart)."""
        since = self.stalls.get(agent, (time.monotonic(), "", False))[0]
        self.stalls[agent] = (since, reason, permanent)

    def unstall(self, agent: str) -> None:
        if agent in self.stalls and not self.stalls[agent][2]:
            del self.stalls[agent]

    def stalled(self, longer_than: float) -> dict[str, tuple[float, str]]:
        """Agents stalled for more than ``longer_than`` seconds (or for good): seconds, why."""
        now = time.monotonic()
        return {
            agent: (now - since, reason)
            for agent, (since, reason, permanent) in self.stalls.items()
            if permanent or now - since > longer_than
        }

    def watch_gap(self, consumer: Consumer, order: OffsetOrder, tp: TP) -> None:
        """``order``'s agent got messages of ``tp`` past its position but not the one at
        it. Usually that one is only late (fetched again after the seek, behind messages
        fetched before it); if it has still not come after ``GAP_PATIENCE`` seconds, faust
        dropped it: seek the partition back."""
        key = (id(order), tp, self.seek_epoch, self.reseeks.get(tp, 0))
        if key in self._gaps_watched:
            return
        self._gaps_watched.add(key)

        async def reseek_if_still_missing() -> None:
            await asyncio.sleep(GAP_PATIENCE)
            if key[2:] == (self.seek_epoch, self.reseeks.get(tp, 0)) and tp not in order.last:
                await self.reseek(consumer, tp)

        task = asyncio.ensure_future(reseek_if_still_missing())
        self._gap_tasks.add(task)
        task.add_done_callback(self._gap_tasks.discard)

    async def reseek(self, consumer: Consumer, tp: TP) -> None:
        """Seek ``tp`` back to where it was sought to: every agent reading it takes it
        again from there (their handlers are idempotent)."""
        start = self.sought.get(tp)
        if start is None or tp not in consumer.assignment():
            return
        log.warning("%s: messages from offset %d never arrived; reading them again", tp, start)
        self.reseeks[tp] = self.reseeks.get(tp, 0) + 1
        await consumer.seek_back(tp, start)

    def sought_to(self, offsets: Mapping[TP, int]) -> None:
        self.sought = dict(offsets)
        self.sought_at = time.monotonic()
        self.sought_wall = time.time()
        self.handled = {}
        self.seek_epoch += 1
        self.reseeks, self._gaps_watched = {}, set()

    def acked(self, tp: TP, offset: int) -> None:
        """Every agent reading ``tp`` is done with the message at ``offset``."""
        after = self.handled.get(tp, (0, 0.0))[0]
        self.handled[tp] = (max(after, offset + 1), time.time())

    def handled_since(self, tp: TP, highwater: int | None) -> float | None:
        """The wall-clock time since which every message the broker held on ``tp`` (below
        ``highwater``) has been processed, with its outputs on the broker; None while some
        are not (or nothing is known)."""
        start = self.sought.get(tp)
        if highwater is None or start is None:
            return None
        after, at = self.handled.get(tp, (start, self.sought_wall))
        if max(after, start) + (0 if self.exact_start else 1) < highwater:
            return None
        return at

    def order_names(self) -> list[str]:
        """The agents that have taken batches so far."""
        return list(self._orders)

    def order_of(self, agent: str) -> OffsetOrder:
        """The agent's offset order, kept when faust restarts the agent after a crash."""
        if agent not in self._orders:
            self._orders[agent] = OffsetOrder(self)
        return self._orders[agent]


class Seeks:
    """Whether the consumer was sought (a rebalance) since its owner last asked: what the
    owner kept about partitions may belong to their previous owner."""

    def __init__(self, progress: StreamProgress, seen: bool = True) -> None:
        self.progress = progress
        self.epoch = progress.seek_epoch if seen else -1

    def new(self) -> bool:
        if self.epoch == self.progress.seek_epoch:
            return False
        self.epoch = self.progress.seek_epoch
        return True


class OffsetOrder:
    """Which messages one agent may process: per partition, the message at the offset the
    consumer was last sought to, then only later offsets; from a revocation to the next
    seek, nothing. A message fetched before the seek but delivered after it, or delivered
    twice, is refused (it is, or was, read again in order). A partition whose first
    message arrives past the position (faust dropped the ones before it: seen when a
    rebalance suspended the flow just after the seek) is a gap: ``judge`` says so, and
    the runtime seeks the partition back (``StreamProgress.reseek``)."""

    def __init__(self, progress: StreamProgress) -> None:
        self.progress = progress
        self.seeks = Seeks(progress)
        self.last: dict[TP, int] = {}
        self.reseeks: dict[TP, int] = {}
        self.taken_at: dict[TP, float] = {}  # monotonic time the last message was admitted

    def _follow_seeks(self) -> None:
        if self.seeks.new():
            self.last, self.reseeks, self.taken_at = {}, {}, {}

    def idle(self, tp: TP, highwater: int | None, quiet: float) -> bool:
        """The agent has taken every message the broker held on ``tp`` at the consumer's
        last fetch, and none for ``quiet`` seconds: that input cannot bring an event older
        than what was taken, except one produced meanwhile (``quiet`` covers a producer
        whose batches for two topics reach the broker a moment apart)."""
        self._follow_seeks()
        if highwater is None:
            return False  # not fetched since the assignment: nothing known
        last = self.last.get(tp)
        position = last + 1 if last is not None else self.progress.sought.get(tp)
        if position is None:
            return not self.progress.seeks and highwater == 0
        # Under exactly-once, a transaction's commit marker takes the offset after its
        # last message.
        if position + (0 if self.progress.exact_start else 1) < highwater:
            return False
        since = self.taken_at.get(tp, self.progress.sought_at)
        return time.monotonic() - since >= quiet

    def judge(self, message: Message) -> Admission:
        self._follow_seeks()
        tp, offset = message.tp, message.offset
        reseeks = self.progress.reseeks.get(tp, 0)
        if self.reseeks.get(tp, 0) != reseeks:  # sought back: read it again from the start
            self.reseeks[tp] = reseeks
            self.last.pop(tp, None)
        last = self.last.get(tp)
        if last is not None:
            if offset <= last:
                return Admission.REFUSE
        elif self.progress.seeks:
            start = self.progress.sought.get(tp)
            if start is None or offset < start:
                return Admission.REFUSE
            if offset > start and self.progress.exact_start:
                return Admission.GAP
        self.last[tp] = offset
        self.taken_at[tp] = time.monotonic()
        return Admission.ADMIT


class Admission(Enum):
    ADMIT = "admit"
    REFUSE = "refuse"  # not yet (before a seek), or read again in order
    GAP = "gap"  # the partition's messages from the position on never came: seek back


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


class ValueCache:
    """Table values an agent stored, kept as objects so that reading a large one back
    costs no decoding. An entry is taken out when read and kept again only once the value
    is stored (a batch that fails leaves the table's copy to be read); every rebalance
    empties the cache (a partition may have had another owner meanwhile). With a ``limit``,
    the values used least recently go first."""

    def __init__(self, progress: StreamProgress, limit: int | None = None) -> None:
        self.seeks = Seeks(progress)
        self.limit = limit
        self.values: dict[Any, Any] = {}  # least recently kept first

    def _follow_seeks(self) -> None:
        if self.seeks.new():
            self.values = {}

    def take(self, key: Any) -> Any:
        self._follow_seeks()
        return self.values.pop(key, None)

    def keep(self, key: Any, value: Any) -> None:
        self._follow_seeks()
        self.values[key] = value
        if self.limit is not None and len(self.values) > self.limit:
            del self.values[next(iter(self.values))]


class Record:
    """One event of a consumed message, what handlers get: a clean message carries a batch
    of events (schemas.batches), any other message is one. Table reads and writes made for
    a record go to its message's partition; the message is acknowledged once every record
    of it is handled. A watermark message (schemas.batches) is a record without an event,
    given only to an agent that asks for them (``run_batches``)."""

    __slots__ = ("event", "value", "index", "timestamp", "watermark")

    def __init__(
        self,
        event: faust.types.EventT,
        value: bytes,
        index: int | None,
        timestamp: float,
        watermark: bytes | None = None,
    ) -> None:
        self.event = event  # faust's event of the message
        self.value = value  # this event's bytes
        self.index = index  # its place in a batch; None: the message is this one event
        self.timestamp = timestamp  # its event time (s): the message's, unless a batch
        self.watermark = watermark  # a watermark's header, as sent (not checked yet)

    @property
    def message(self) -> Message:
        return self.event.message

    def timed_event(self) -> faust.types.EventT:
        """A faust event of this record's partition at its own event time: what a windowed
        table write needs (faust windows it by the current message's timestamp, which for
        a batch is that of its latest event)."""
        if self.index is None:
            return self.event
        message = self.message
        return partition_event(self.event.app, message.topic, message.partition, self.timestamp)


def records_of(event: faust.types.EventT, watermarks: bool = False) -> list[Record]:
    """The records of a consumed message; a batch whose event times do not match its
    lines is one record (its whole value: ingest parks it, see ``malformed_batch``). A
    watermark is one record if ``watermarks``, else none."""
    message = event.message
    watermark = message_header(message.headers, WATERMARK_HEADER)
    if watermark is not None:
        if not watermarks:
            return []
        return [Record(event, message.value, None, message.timestamp, watermark)]
    whole = [Record(event, message.value, None, message.timestamp)]
    if message_header(message.headers, TIMES_HEADER) is None:
        return whole
    try:
        items = batch_items(message.value, message.headers, message.timestamp)
    except ValueError:
        return whole
    return [Record(event, value, index, at) for index, (value, at) in enumerate(items)]


def malformed_batch(record: Record) -> bool:
    """A message marked as a batch that could not be read as one (``records_of``)."""
    return record.index is None and message_header(record.message.headers, TIMES_HEADER) is not None


class Addition(NamedTuple):
    """An amount added to a key's count in a windowed table, made as ``event``."""

    table: Any  # the windowed table
    key: Any
    event: faust.types.EventT
    amount: float


def faust_event(of: Record | faust.types.EventT) -> faust.types.EventT:
    return of.event if isinstance(of, Record) else of


class Checkpoint:
    """What one batch (or tick) of an agent changes, made durable in the one order that
    loses nothing whichever moment a worker dies: its outputs on the broker, then its state
    put into the tables, then (the runtime) those writes acknowledged on the changelogs,
    then the input offsets acknowledged. State put is read back by ``get`` until then, and
    a key put several times is written once; a batch that fails puts nothing, and counts
    nothing (``count``: a batch tried again is counted once).

    Outputs go one per message (``send``), or ``emit``-ed: the events a deferred batch
    emits to one topic and key leave together, as batch messages (schemas.batches), at its
    next turn or when its interval takes it; a live event's (its event time within
    ``live_window`` seconds of now) at the handler's next ``turn`` whatever the time.

    A batch's checkpoint may be ``absorb``-ed, once its outputs are on the broker, into one
    that gathers the batches of a commit interval (``base``: what its reads see first):
    their state is then put, and their offsets acknowledged, together. A ``deferred`` batch
    is absorbed at once, its outputs still on their way: the interval's commit waits for
    them all (one wait per interval, not one per batch, which held a busy agent's next
    batch back). Handlers update the values they read in place, so a batch that fails may
    have changed that gathered state: ``forget`` drops it, and gives back the records of
    the batches it came from, to be handled again from the stored state (BatchProcessor);
    a tick that changed state is committed at once (``run_batches``), having no records to
    handle again."""

    def __init__(
        self,
        base: Checkpoint | None = None,
        deferred: bool = False,
        live_window: float | None = None,
    ) -> None:
        self._base, self.deferred = base, deferred
        self.live_window = base.live_window if base is not None else live_window
        self._live_emitted = False  # a live event's outputs wait for the next turn
        self._counts: list[tuple[Any, float]] = []
        self._outputs: list[asyncio.Future] = []
        # (topic, key) -> events emitted and not sent yet: (JSON, event time, acknowledgement)
        self._emitted: dict[tuple[faust.TopicT, bytes | None], list[tuple]] = {}
        self._awaited: set[int] = set()  # ids of outputs an agent awaited itself
        self._state: dict[tuple[str, Any], tuple[faust.Table, Any, faust.types.EventT]] = {}
        # (table name, key, window) -> what is added to that window's count
        self._additions: dict[tuple, Addition] = {}
        self._kept: dict[tuple[int, Any], tuple[ValueCache, Any]] = {}
        self._records: list[Record] = []  # of the batches absorbed
        self._turn_at = time.perf_counter()  # when this batch last had the event loop back

    async def turn(self) -> None:
        """Let the other agents run if this batch has held the event loop for
        ``BATCH_TURN_SECONDS``; handlers call it between events. One agent's long batch (a
        live game's odds book, a sink's rows) held every other agent's next message behind
        it, the quotes on their way to a prediction too: up to 35 ms at 1,000 quotes/s.
        What the batch emitted leaves first; the batch goes on at its next turn, as after
        any other await. A live event's outputs leave at every turn: a live quote's
        prediction does not wait for the rest of its batch."""
        due = time.perf_counter() - self._turn_at >= BATCH_TURN_SECONDS
        if self._live_emitted or due:
            await self.send_emitted()
        if due:
            await asyncio.sleep(0)
            self._turn_at = time.perf_counter()

    async def send(
        self,
        topic: faust.TopicT,
        key: bytes | None,
        value: bytes,
        timestamp: float | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future:
        """Hand an output to the producer; the future is its acknowledgement."""
        delivery = await topic.send(key=key, value=value, timestamp=timestamp, headers=headers)
        self._outputs.append(delivery)
        return delivery

    def emit(
        self, topic: faust.TopicT, key: bytes | None, value: bytes, event_time: float
    ) -> asyncio.Future:
        """An output event (its JSON and event time in seconds) that leaves with the other
        events this batch emits to ``topic`` under ``key`` (``send_emitted``): at the
        batch's next turn, once its delivery or the batch's is waited for, or when the
        handler sends them. A message per prediction or settlement made their sends, and
        the sinks' deliveries of them, a fifth of a replaying worker's time. The future is
        the event's acknowledgement (its message's)."""
        if (
            self.live_window is not None
            and not self._live_emitted
            and event_time >= time.time() - self.live_window
        ):
            self._live_emitted = True
        accepted = asyncio.get_running_loop().create_future()
        self._emitted.setdefault((topic, key), []).append((value, event_time, accepted))
        self._outputs.append(accepted)
        return accepted

    async def send_emitted(self) -> None:
        """Send what was emitted, now: each topic and key's events in as few batch
        messages as fit, or one per message once the batch waits for its own outputs (a
        batch tried again after a failure: the broker's refusal then names the one event to
        park). A message the producer refuses at once passes the refusal to its events, as
        the broker's would; a transient refusal then raises once the rest are sent (the
        batch is tried again)."""
        emitted, self._emitted, self._live_emitted = self._emitted, {}, False
        away: Exception | None = None
        for (topic, key), events in emitted.items():
            for value, timestamp, headers, accepted in _messages(events, batched=self.deferred):
                try:
                    delivery = await topic.send(
                        key=key, value=value, timestamp=timestamp, headers=headers
                    )
                except Exception as error:
                    for future in accepted:
                        future.set_exception(error)
                    if away is None and is_transient(error):
                        away = error
                    continue
                delivery.add_done_callback(partial(_pass_on, accepted))
        if away is not None:
            raise away

    def get(
        self,
        table: faust.Table,
        key: Any,
        event: Record | faust.types.EventT | None = None,
        cache: ValueCache | None = None,
    ) -> Any:
        """The key's value as put in this checkpoint, or as ``cache`` keeps it, or as the
        table holds it (read in ``event``'s partition: by default the current event's)."""
        staged = self._state.get((table.name, key))
        if staged is None and self._base is not None:
            staged = self._base._state.get((table.name, key))
        if staged is not None:
            return staged[1]
        cached = cache.take(key) if cache is not None else None
        if cached is not None:
            return cached
        if event is None:
            return table.get(key)
        with current_event(faust_event(event)):
            return table.get(key)

    def put(
        self,
        table: faust.Table,
        key: Any,
        value: Any,
        event: Record | faust.types.EventT | None = None,
        cache: ValueCache | None = None,
    ) -> None:
        """Store ``value`` in the partition of ``event`` (by default the current event)
        once the outputs are on the broker; ``cache`` keeps it once stored."""
        event = faust_event(event) if event is not None else faust_current_event()
        if event is None:
            raise RuntimeError(f"{table.name}[{key!r}] put without an event for its partition")
        self._state[(table.name, key)] = (table, value, event)
        if cache is not None:
            self._kept[(id(cache), key)] = (cache, value)

    def count(self, counter: Any, amount: float = 1) -> None:
        """Add ``amount`` to a metric (a labelled Prometheus counter) once this checkpoint
        is committed."""
        self._counts.append((counter, amount))

    def add(self, table: Any, key: Any, amount: float, event: faust.types.EventT) -> None:
        """Add ``amount`` to ``key``'s count in the window of ``event``'s time (``table``: a
        windowed table), made as ``event`` once the outputs are on the broker. What is
        added to one window is summed first and written once per commit: written once per
        batch (faust's windowed ``+=``, each with its changelog record), a live game's
        per-minute counts made half of book-odds' commit time, up to 20 ms per commit."""
        event = faust_event(event)
        window = tuple(table.table.window.ranges(event.message.timestamp))
        self._sum_into((table.table.name, key, window), Addition(table, key, event, amount))

    def _sum_into(self, slot: tuple, addition: Addition) -> None:
        staged = self._additions.get(slot)
        if staged is not None:  # made as the window's first event, with the sum
            addition = staged._replace(amount=staged.amount + addition.amount)
        self._additions[slot] = addition

    async def delivered(self, outputs: list[asyncio.Future] | None = None) -> None:
        """Wait until ``outputs`` (by default every output sent so far) are on the broker;
        the first refusal raises. Either way the commit no longer waits for them (an agent
        that parks the event whose output was refused, instead of failing the batch). A
        deferred checkpoint leaves ``outputs`` to its interval's commit: a refusal there
        has the interval handled again, undeferred, and the agent parks the event then."""
        if outputs is not None and self.deferred:
            return
        await self.send_emitted()
        if outputs is None:
            outputs, self._outputs = self._outputs, []
            if self._awaited:  # left out once here: per call it was quadratic in a batch
                outputs = [o for o in outputs if id(o) not in self._awaited]
                self._awaited.clear()
        else:
            self._awaited.update(map(id, outputs))
        await asyncio.gather(*outputs)

    async def absorb(self, batch: Checkpoint, records: Sequence[Record] = ()) -> None:
        """Once ``batch``'s outputs are on the broker (a deferred batch's: at once, with
        its outputs to wait for), take over what it puts, writes and counts, after what
        this checkpoint already holds; ``records``: what it handled."""
        if batch.deferred:
            await batch.send_emitted()
            self._outputs += batch._outputs
        else:
            await batch.delivered()
        self._state.update(batch._state)
        for slot, addition in batch._additions.items():
            self._sum_into(slot, addition)
        self._kept.update(batch._kept)
        self._counts += batch._counts
        self._records += records

    def changes_state(self) -> bool:
        """Whether committing this checkpoint would put, write or count anything."""
        return bool(self._state or self._additions or self._counts)

    def forget(self) -> list[Record]:
        """Drop what the absorbed batches put, write and count, and the outputs still on
        their way (their batches are handled again, their outputs sent again); their
        records."""
        for output in self._outputs:
            output.add_done_callback(_seen)  # a refusal of a dropped output is not an error
        for *_, accepted in (event for events in self._emitted.values() for event in events):
            accepted.cancel()  # never sent: nothing waits for it any more
        self._outputs, self._awaited, self._emitted = [], set(), {}
        records = self._records
        self._state, self._additions, self._kept, self._counts, self._records = {}, {}, {}, [], []
        return records

    async def commit(self) -> None:
        await self.delivered()
        for (_, key), (table, value, event) in self._state.items():
            with current_event(event):
                table[key] = value
        for table, key, event, amount in self._additions.values():
            with current_event(event):
                table[key] += amount
        for (_, key), (cache, value) in self._kept.items():
            cache.keep(key, value)
        for counter, amount in self._counts:
            counter.inc(amount)


Handler = Callable[[list[Record], Checkpoint], Awaitable[None]]


def _seen(output: asyncio.Future) -> None:
    if not output.cancelled():
        output.exception()


def _messages(events: list[tuple], batched: bool) -> Iterator[tuple]:
    """(value, timestamp, headers, the events' acknowledgements) of each message carrying
    ``events`` (emitted: JSON, event time, acknowledgement)."""
    if not batched:
        for value, event_time, accepted in events:
            yield value, event_time, None, [accepted]
        return
    start = 0
    for batch in event_batches((value, event_time) for value, event_time, _ in events):
        end = start + batch.value.count(b"\n") + 1  # one line per event
        yield batch.value, batch.timestamp, batch.headers, [f for *_, f in events[start:end]]
        start = end


def _pass_on(accepted: list[asyncio.Future], delivery: asyncio.Future) -> None:
    """Each emitted event's acknowledgement, as its message's delivery ended."""
    for future in accepted:
        if future.done():
            continue  # dropped meanwhile (Checkpoint.forget)
        if delivery.cancelled():
            future.cancel()
        elif delivery.exception() is not None:
            future.set_exception(delivery.exception())
        else:
            future.set_result(delivery.result())


def is_transient(error: BaseException) -> bool:
    """An error that goes away by itself (broker or network unavailable): the batch is
    tried again rather than given up."""
    if isinstance(error, KafkaError):
        return error.retriable or isinstance(error, KafkaTimeoutError)
    return isinstance(error, TimeoutError | ConnectionError)


def error_type_of(error: BaseException) -> str:
    """The dead-letter error type of an event an agent could not process."""
    return "send_failed" if isinstance(error, KafkaError) else "internal"


def feed_of(topic: str) -> str:
    """The feed (or output) a topic carries: 'sports.clean.odds' -> 'odds'."""
    return topic.rsplit(".", 1)[-1]


class BatchProcessor:
    """Runs one agent's handler on a batch so that a failure never stops the partition and
    never acknowledges what was not processed.

    A transient error (the broker or the network is away) retries the whole batch with
    exponential backoff; meanwhile the agent counts as stalled, and ``/ready`` says so
    once the stall passes ``STREAMAPP_STALL_SECONDS``. Any other error splits the batch
    and tries each event alone; an event that still fails is parked as a dead letter with
    the reason (its offset then counts as handled) and the rest go on. Handlers are
    idempotent (deterministic output ids, table updates that ignore a redelivered event),
    so events tried again after a partial attempt change nothing twice.
    """

    def __init__(self, pipeline: Pipeline, app: faust.App, agent: str) -> None:
        self.pipeline, self.app, self.agent = pipeline, app, agent
        self.metrics = pipeline.metrics

    async def process(
        self,
        batch: list[Record],
        handle: Handler,
        into: Checkpoint | None = None,
        deferred: bool = True,
    ) -> None:
        """``into``: the commit interval's checkpoint, which takes the batch's at once, its
        outputs waited for at the commit (``deferred``), or once they are on the broker;
        without one, the batch's state is put at once. After a try that failed, the
        interval's earlier batches are handled again first, from the stored state
        (``Checkpoint.forget``): the failed try may have changed their state; tries after
        the first wait for their own outputs. Only this batch is split, and only its events
        are parked."""
        tried = False
        earlier: list[Record] = []  # the interval's batches before this one, handled again

        async def attempt() -> None:
            nonlocal tried
            first, tried = not tried, True
            if not first and into is not None:
                earlier.extend(into.forget())
            records = [*earlier, *batch]
            if into is None:
                checkpoint = Checkpoint(live_window=self.pipeline.settings.live_window_seconds)
                await handle(records, checkpoint)
                await checkpoint.commit()
            else:
                await self._handled_into(records, handle, into, deferred and first)

        try:
            await self.retrying(attempt, batch)
            return
        except Revoked:
            return  # the new owner of the partition reads the batch again
        except Exception as error:
            failure = error
        if not self.owned(batch):
            return  # the new owner processes it; parked here, it would end twice
        if into is not None and not await self.handle_again(into, handle, earlier):
            return  # revoked meanwhile: the new owner reads them, and this batch, again
        if len(batch) > 1:
            self.metrics.batch_failures.labels(self.agent, "split").inc()
            for record in batch:
                await self.process([record], handle, into, deferred)
            return
        await self.park(batch[0], failure)

    async def handle_again(
        self, into: Checkpoint, handle: Handler, forgotten: Sequence[Record] = ()
    ) -> bool:
        """After a failed try: drop the state ``into`` gathered (``Checkpoint.forget``) and
        handle its records again from the stored state, after ``forgotten`` (records an
        earlier try dropped already); False when their partition was revoked meanwhile.
        They were handled before: a failure that is not transient is a bug, and the agent
        crashes and says so on /ready rather than park what worked."""
        records = [*forgotten, *into.forget()]
        if not records:
            return True
        try:
            await self.retrying(lambda: self._handled_into(records, handle, into), records)
        except Revoked:
            return False
        return True

    async def delivered(self, into: Checkpoint, handle: Handler) -> None:
        """The outputs of a commit interval's deferred batches on the broker. If one was
        refused, or the broker is away, its batches are handled again from the stored
        state, each waiting for its own outputs: a transient error is retried, and the
        event whose output the broker refuses is parked."""
        try:
            await into.delivered()
        except Exception as error:
            log.warning(
                "%s: an output of the interval failed (%r); handling it again", self.agent, error
            )
            records = into.forget()
            if records:
                await self.process(records, handle, into, deferred=False)

    @staticmethod
    async def _handled_into(
        records: list[Record], handle: Handler, into: Checkpoint, deferred: bool = False
    ) -> None:
        """``records`` handled on a checkpoint ``into`` takes once its outputs are out (at
        once when ``deferred``: ``into``'s commit waits for them)."""
        checkpoint = Checkpoint(base=into, deferred=deferred)
        await handle(records, checkpoint)
        await into.absorb(checkpoint, records)

    async def retrying(self, attempt: Callable[[], Awaitable[None]], batch: list[Record]) -> None:
        """``attempt()``, again with exponential backoff for as long as it fails with a
        transient error (the agent counts as stalled meanwhile); any other error raises."""
        delay = RETRY_FIRST_DELAY
        try:
            while True:
                try:
                    return await attempt()
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    if not is_transient(error):
                        raise
                    if not self.owned(batch):
                        raise Revoked from error
                    self.metrics.batch_failures.labels(self.agent, "retried").inc()
                    self.pipeline.progress.stall(self.agent, f"{type(error).__name__}: {error}")
                    log.warning("%s: %r; trying again in %.1f s", self.agent, error, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RETRY_MAX_DELAY)
        finally:
            # Done, given up or revoked: either way no longer stuck on this batch.
            self.pipeline.progress.unstall(self.agent)

    def owned(self, batch: list[Record]) -> bool:
        """False once the batch's partition was revoked (a rebalance since it was taken)."""
        return any(in_current_assignment(self.app, r.message) for r in batch)

    async def park(self, record: Record, error: Exception) -> None:
        """The event's dead letter, on the broker before its offset counts as handled."""
        message = record.message
        log.error(
            "%s could not process %s:%d:%d%s; parked as a dead letter",
            self.agent,
            message.topic,
            message.partition,
            message.offset,
            "" if record.index is None else f" (event {record.index} of the batch)",
            exc_info=error,
        )
        error_type = error_type_of(error)
        letter = DeadLetter.of(
            message,
            f"{self.agent} could not process this event: {type(error).__name__}: {error}",
            error_type,
            stage=self.agent,
            item=record.index,
            payload=record.value,
        )
        deadletter = self.pipeline.topics.deadletter

        async def send(letter: DeadLetter) -> None:
            await (await deadletter.send(key=message.key, value=letter.to_json()))

        try:
            try:
                await self.retrying(lambda: send(letter), [record])
            except KafkaError as refused:  # too large for the broker: the payload is cut
                log.warning("%s: dead letter refused (%r); sending it cut", self.agent, refused)
                await self.retrying(lambda: send(letter.cut_to(CUT_PAYLOAD_BYTES)), [record])
        except Revoked:
            return
        self.metrics.dead_letters.labels(feed_of(message.topic), error_type).inc()


class Revoked(Exception):
    """The partition of a batch being retried was revoked: its new owner takes it over."""


async def run_batches(
    stream: faust.StreamT,
    pipeline: Pipeline,
    handle: Handler,
    size: int | None = None,
    within: float | None = None,
    on_tick: Callable[[Checkpoint], Awaitable[None]] | None = None,
    fill: bool = False,
    watermarks: bool = False,
) -> None:
    """The loop of an agent: ``handle`` gets batches of at most ``size`` events: what is
    waiting when the agent is free, or (``fill``) what came within ``within`` seconds
    (``RuntimeStream.batches``; the ingest batch settings by default). A batch is
    acknowledged once ``handle`` is done with it (or parked what it could not process)
    and every output and table write it made is on the broker; before that, nothing of it
    is. Its outputs are sent at once; the broker's acknowledgements of them are waited for,
    and its state put, with the rest of its commit interval's.

    ``on_tick`` (an agent that holds events back, e.g. for a slower input) runs every
    ``STREAMAPP_TICK_SECONDS`` between batches, never during one, with the same rule for
    its table writes: it releases what became due without a new message.

    ``watermarks``: the handler also gets the watermark messages (schemas.batches) as
    records whose ``watermark`` is set; other agents never see them."""
    app, tables, progress = stream.app, pipeline.tables, pipeline.progress
    size = size or pipeline.settings.ingest_batch_size
    within = within or pipeline.settings.ingest_batch_seconds
    agent = current_agent().name
    order = progress.order_of(agent)
    processor = BatchProcessor(pipeline, app, agent)
    one_at_a_time = asyncio.Lock()  # a batch or a tick, never both

    async def stored(work: Awaitable[None]) -> bool:
        """``work``, then wait until its table writes are on the changelog; False (and a
        permanent stall) when they never got there."""
        try:
            await work
        except BaseException:  # (cancelled too) its writes' records are never sent later
            tables.discard(agent)
            raise
        try:
            await tables.written(agent)
        except Exception as error:
            # The state is not on the changelog: nothing may be acknowledged, and only a
            # restart reads these events again.
            progress.stall(
                agent,
                f"a table write did not reach the changelog ({error!r}); restart the "
                "worker to read the partition again from its last committed offset",
                permanent=True,
            )
            log.error("%s: table write lost: %r", agent, error)
            return False
        return True

    async def commit() -> None:
        """Wait for the interval's outputs, put its state, wait for its changelog writes,
        then acknowledge the offsets of its batches."""
        if interval.current():
            await processor.delivered(interval.checkpoint, handle)
        current = interval.current()
        checkpoint, events = interval.take()
        if not current:
            let_go_all(events)
        elif await stored(checkpoint.commit()):
            for event in events:
                await stream.ack(event)

    def let_go_all(events: list[faust.types.EventT]) -> None:
        """Batches read before a rebalance store nothing: their partitions are read again
        from the committed offsets, and may have a new owner."""
        for event in events:
            let_go(app.consumer, event.message)

    def start() -> int:
        """Before a batch or tick: an interval read before a rebalance is dropped (what
        comes next must not build on its state); the seek epoch now."""
        if not interval.current():
            let_go_all(interval.take()[1])
        return progress.seek_epoch

    async def ticked() -> None:
        epoch = start()
        checkpoint = Checkpoint(base=interval.checkpoint)
        await on_tick(checkpoint)
        await interval.checkpoint.absorb(checkpoint)
        interval.add([], epoch)
        # A tick has no records to handle again after a later failure (Checkpoint.forget):
        # what it changed is stored at once (rare: most ticks release nothing).
        if interval.due() or checkpoint.changes_state():
            await commit()

    async def tick() -> None:
        try:
            await ticked()
        except Exception as error:
            if not is_transient(error):
                raise
            progress.stall(agent, f"{type(error).__name__}: {error}")  # tried again next tick
            log.warning("%s: %r on a tick; trying again", agent, error)
            # The failed tick may have changed the interval's state in place: it is built
            # again from the stored state, as after a failed batch.
            await processor.handle_again(interval.checkpoint, handle)
        else:
            progress.unstall(agent)

    async def every(
        seconds: float, work: Callable[[], Awaitable[None]], when: Callable[[], bool]
    ) -> None:
        """``work`` every ``seconds`` while ``when()``, between batches, counted in flight
        (a rebalance waits for it)."""
        while True:
            await asyncio.sleep(seconds)
            if not when() or not app.flow_control.is_active():
                continue  # (a rebalance: the partitions' owner is being decided)
            async with one_at_a_time:
                progress.enter()
                try:
                    await work()
                finally:
                    progress.leave()

    # Only ``stream.ack`` below acknowledges: the take buffer restores this flag when it
    # closes, and an agent restarted on the same stream must not find it switched on.
    stream.enable_acks = False
    settings = pipeline.settings
    interval = CommitInterval(
        progress, settings.commit_interval_seconds, settings.live_window_seconds
    )
    # Created here, these run in the agent's context: their table writes are the agent's.
    timers = []
    if on_tick:
        ticks = every(settings.tick_seconds, tick, lambda: True)
        timers.append(asyncio.ensure_future(ticks))
    if interval.seconds:  # what the interval gathered is stored even if no batch follows
        timers.append(asyncio.ensure_future(every(interval.seconds, commit, interval.due)))
    try:
        # aclosing: a crash closes the take buffer now, not at garbage collection in
        # another context (its processor would keep holding the stream meanwhile).
        async with aclosing(stream.batches(size, within, fill=fill)) as batches:
            async for batch in batches:
                for timer in timers:
                    if timer.done():
                        timer.result()  # a timer crashed: so does the agent
                admitted = []
                for event in batch:
                    message = event.message
                    if not in_current_assignment(app, message):
                        let_go(app.consumer, message)
                        continue
                    admission = order.judge(message)
                    if admission is Admission.ADMIT:
                        admitted.append(event)
                        continue
                    let_go(app.consumer, message)
                    if admission is Admission.GAP:
                        progress.watch_gap(app.consumer, order, message.tp)
                if not admitted:
                    continue
                records = [r for event in admitted for r in records_of(event, watermarks)]
                async with one_at_a_time:
                    progress.enter()
                    try:
                        epoch = start()
                        if records:  # (none: watermarks this agent does not read)
                            await processor.process(records, handle, interval.checkpoint)
                        interval.add(admitted, epoch)
                        if interval.due():
                            await commit()
                    finally:
                        progress.leave()
    except Exception as error:
        # Only a bug gets here: the batch in hand stays unacknowledged, so the partition
        # commits no further until a restart reads it again. Say so on /ready.
        pipeline.metrics.agent_crashes.labels(agent).inc()
        progress.stall(
            agent,
            f"the agent crashed ({error!r}); restart the worker to read its partitions again",
            permanent=True,
        )
        raise
    finally:
        for timer in timers:
            timer.cancel()


class CommitInterval:
    """What an agent's batches (and ticks) put since its state was last stored, and their
    events, acknowledged once it is: state is put, and offsets acknowledged, once per
    ``seconds`` (0: after every batch), not per batch. A busy key (a live game's odds book,
    rewritten with every batch) is then written once per interval. Outputs are not held:
    each batch's are sent at once, and the commit waits for them all. A worker that dies reads
    the interval's batches again and sends their outputs again, with the same ids."""

    def __init__(self, progress: StreamProgress, seconds: float, live_window: float) -> None:
        self.progress, self.seconds, self.live_window = progress, seconds, live_window
        self._reset()

    def _reset(self) -> None:
        self.checkpoint = Checkpoint(live_window=self.live_window)
        self.events: list[faust.types.EventT] = []
        self.since: float | None = None  # when the first batch of the interval was done
        self.epoch: int | None = None  # the seek epoch its batches were read in

    def add(self, events: list[faust.types.EventT], epoch: int) -> None:
        """A batch (or tick) done, its checkpoint absorbed into ``checkpoint`` and its
        outputs sent; ``epoch``: the seek epoch when it started (an interval
        holds batches of one epoch: the runtime drops one of an earlier epoch first)."""
        if self.since is None:
            self.since, self.epoch = time.monotonic(), epoch
        self.events += events

    def due(self) -> bool:
        return self.since is not None and time.monotonic() - self.since >= self.seconds

    def current(self) -> bool:
        """False once a rebalance came after its batches were read: they may then be
        neither stored nor acknowledged (an empty interval is current)."""
        return self.epoch in (None, self.progress.seek_epoch)

    def take(self) -> tuple[Checkpoint, list[faust.types.EventT]]:
        """The interval's checkpoint and events; a new interval starts."""
        taken = self.checkpoint, self.events
        self._reset()
        return taken


class Input(NamedTuple):
    """A topic an agent reads, and the topic the upstream stage fills it from (keyed
    alike, so partition ``p`` of one is filled from partition ``p`` of the other)."""

    topic: str
    upstream: str


def idle_inputs(app: faust.App, pipeline: Pipeline, inputs: Mapping[str, Input], partition: int):
    """The inputs (by name) of the current agent whose ``partition`` is idle: the agent has
    taken all the broker holds there and nothing for ``STREAMAPP_IDLE_INPUT_SECONDS``, and
    the upstream stage has processed all the broker holds on its partition, with those
    outputs on the broker when the input's end was read. Without the upstream, an input
    whose stage is behind (retrying through a broker outage, catching up after a restart)
    would look idle while its events are still to come."""
    order = pipeline.progress.order_of(current_agent().name)
    quiet = pipeline.settings.idle_input_seconds
    idle = set()
    for name, (topic, upstream) in inputs.items():
        tp, source = TP(topic, partition), TP(upstream, partition)
        end, source_end = broker_end(app, tp), broker_end(app, source)
        if end is None or source_end is None or end.partitions != source_end.partitions:
            continue  # (differently partitioned: partition p is not filled from p alone)
        if not order.idle(tp, end.offset, quiet):
            continue
        handled = pipeline.progress.handled_since(source, source_end.offset)
        # the input's end was read after the upstream's outputs were acknowledged (a
        # fetch answered just before then may not hold the last of them)
        if handled is not None and end.fetched_at >= handled + quiet:
            idle.add(name)
    return frozenset(idle)


class BrokerEnd(NamedTuple):
    offset: int  # the partition's high watermark
    fetched_at: float  # when the broker said so (wall-clock seconds)
    partitions: int | None  # the topic's partition count


def broker_end(app: faust.App, tp: TP) -> BrokerEnd | None:
    """Where ``tp`` ends, as the broker last said in answer to a fetch, if that was within
    ``FETCH_FRESHNESS``: a high watermark the broker has not confirmed lately says nothing
    (the broker is away: its partitions may hold messages the consumer has not seen).
    None too for a partition not assigned here, or without a consumer (tests)."""
    try:
        at = app.consumer.fetched_at(tp)
        if at is None or time.time() - at > FETCH_FRESHNESS:
            return None
        return BrokerEnd(app.consumer.highwater(tp), at, app.consumer.topic_partitions(tp.topic))
    except (ConsumerNotStarted, AssertionError):  # no consumer, or ``tp`` not assigned
        return None


def partition_event(
    app: faust.App, topic: str, partition: int, timestamp: float | None = None
) -> faust.types.EventT:
    """An event that stands for a partition when no message is in hand (a tick): faust
    tables read and write the partition of the current event (``current_event``), and
    windowed ones the window of its ``timestamp`` (by default now)."""
    at = time.time() if timestamp is None else timestamp
    message = Message(topic, partition, -1, at, 0, [], None, None, None)
    return faust.Event(app, None, None, [], message)


async def run_events(
    stream: faust.StreamT,
    pipeline: Pipeline,
    handle_event: Callable[[Record, Checkpoint], Awaitable[None]],
) -> None:
    """``run_batches`` for a handler of one event at a time; each event's message is the
    current event while it is handled, so what it puts goes to its own partition."""

    async def handle(batch: list[Record], checkpoint: Checkpoint) -> None:
        for record in batch:
            with current_event(record.event):
                await handle_event(record, checkpoint)

    await run_batches(stream, pipeline, handle)


class RuntimeStream(faust.Stream):
    """faust's stream with a take loop that sleeps while nothing comes: ``noack_take``
    wakes every ``within`` seconds to look at an empty buffer (mode's ``wait_first``, a
    task and futures each time): 12 % of a core on an idle worker, every agent's loop
    waking a hundred times a second."""

    async def batches(
        self, most: int, within: float, *, fill: bool
    ) -> AsyncIterator[list[faust.types.EventT]]:
        """Lists of at most ``most`` events; none is acknowledged (``run_batches`` does).
        ``fill``: what came within ``within`` seconds of the first, or sooner once ``most``
        did (a sink: fewer, larger writes). Otherwise what is waiting: a batch is taken as
        soon as no further message waits in the stream's queue, so an event that comes to
        an idle agent is processed at once, and what comes while a batch is processed goes
        into the next one whole (a backlog makes batches larger, never a fixed wait);
        ``within`` then only bounds how long a stream that keeps filling is drained."""
        buffer: list[faust.types.EventT] = []
        arrived, full, consumed = asyncio.Event(), asyncio.Event(), asyncio.Event()
        consuming: asyncio.Future | None = None  # while a batch is out: hold new events

        async def add_to_buffer(value: Any) -> Any:
            nonlocal consuming
            try:
                if consuming is not None:
                    try:
                        await consuming
                    finally:
                        consuming = None
                event = self.current_event
                if event is None:
                    raise RuntimeError("a stream value without its event")
                buffer.append(event)
                arrived.set()
                if len(buffer) >= most:
                    full.set()
                    consumed.clear()
                    await self.wait(consumed)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.exception("batch buffer: %r", error)
                await self.crash(error)
            return value

        acks_were = self.enable_acks
        self.enable_acks = False
        self.add_processor(add_to_buffer)
        self._enable_passive(aiter(self.channel))
        try:
            while not self.should_stop:
                await self.wait_for_stopped(arrived)
                if not full.is_set():
                    if fill:
                        await self.wait_for_stopped(full, timeout=within)
                    else:
                        await self._take_waiting(full, within)
                if not buffer:
                    continue
                consuming = asyncio.get_running_loop().create_future()
                try:
                    yield list(buffer)
                finally:
                    buffer.clear()
                    arrived.clear()
                    full.clear()
                    if not consuming.done():
                        consuming.set_result(None)
                    consumed.set()
        finally:
            self.enable_acks = acks_were
            self._processors.remove(add_to_buffer)

    async def _take_waiting(self, full: asyncio.Event, within: float) -> None:
        """Let the stream move the messages waiting in its queue into the batch, until
        none is left, the batch is full or ``within`` seconds passed."""
        deadline = time.monotonic() + within
        while not (full.is_set() or self.channel.empty() or self.should_stop):
            if time.monotonic() >= deadline:
                return
            await asyncio.sleep(0)


class RuntimeConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):
    """faust's service running the aiokafka consumer, here on the worker's event loop
    rather than in a thread of its own, and fetching so that a busy partition is never
    left waiting for a fetch of quiet ones.

    In its own thread, the consumer took the interpreter from the agents at every fetch (a
    quarter of a core at 1,000 live quotes/s), and each fetched message crossed to the
    agents' loop by a wake-up of it: 1.3 ms p50 of the 3.3 ms from a raw quote's append to
    its arrival on the loop at 100 quotes/s. On one loop the fetch hands its messages over
    directly (``call_thread`` is a plain call); the worker's CPU per quote stayed the same
    and quote-to-output latency fell (README, Benchmark). Heartbeats now wait for the loop
    like everything else: handlers give it a turn every ``BATCH_TURN_SECONDS``, and the
    longest steps timed (full garbage collections, 40-130 ms) stay far below the session
    timeout (README, Known limits).

    aiokafka keeps one fetch in flight per broker; once fetched messages have waited 0.1 s
    for faust to take them, it fetches the other partitions without theirs, and the broker
    holds that fetch until something comes or faust's 1.5 s pass. Under a live feed faust
    is often still delivering the last messages after 0.1 s: the busy partition was then
    fetched again only after up to 1.5 s (every live quote came in bursts every 1-2 s).
    Here fetched messages may wait ``STREAMAPP_FETCH_HOLD_SECONDS`` before the others are
    fetched without them, and an empty fetch is held ``STREAMAPP_FETCH_MAX_WAIT_MS``."""

    _serving: asyncio.Task | None = None

    async def start(self) -> None:
        """mode's ``ServiceThread.start`` without the thread: the service is served by a
        task of the worker's loop (its ``thread_loop``); returns once it started, raising
        what stopped it from starting."""
        self._thread_started.set()
        started = self._thread_running = self.parent_loop.create_future()
        serving = self._serving = self.thread_loop.create_task(self._serve())
        # A thread that ends, however, leaves the service shut down (mode's _start_thread)
        serving.add_done_callback(self._served)
        try:
            if not self.should_stop:
                await asyncio.wait({started, serving}, return_when=asyncio.FIRST_COMPLETED)
                (started if started.done() else serving).result()
        finally:
            self._thread_running = None

    def _served(self, serving: asyncio.Task) -> None:
        _seen(serving)  # a crash is logged and reported by ``_serve`` itself
        self.set_shutdown()

    async def stop(self) -> None:
        """mode's stop, then the wait for the service's task to end (in place of the join
        of its thread)."""
        await super().stop()
        serving = self._serving
        if serving is not None and serving is not asyncio.current_task():
            await asyncio.wait({serving})

    async def on_thread_started(self) -> None:
        """Nothing: mode starts the method queue a thread's calls go through here, and
        ``call_thread`` makes them in place."""

    async def call_thread(self, fun: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await maybe_async(fun(*args, **kwargs))

    async def _gather_remaining_tasks(self) -> None:
        """Nothing: mode cancels every task left on the thread's loop, the worker's here."""

    def _create_worker_consumer(self, transport: aiokafka_driver.Transport):
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = self.app.pipeline.settings.fetch_max_wait_ms
        return consumer

    async def on_start(self) -> None:
        await super().on_start()  # starts the consumer, which creates its fetcher
        fetcher = self._consumer._fetcher
        fetcher._prefetch_backoff = self.app.pipeline.settings.fetch_hold_seconds
        fetcher._client = FetchSessions(fetcher._client, fetcher)

    async def fetch(self, tps: set[TP], fetched: bool) -> None:
        """Have aiokafka fetch ``tps`` (those still assigned), or stop fetching them."""
        await self.call_thread(self._fetch, tps, fetched)

    async def _fetch(self, tps: set[TP], fetched: bool) -> None:
        client = self._ensure_consumer()
        assigned = client.assignment()
        partitions = [TopicPartition(tp.topic, tp.partition) for tp in tps]
        (client.resume if fetched else client.pause)(*(p for p in partitions if p in assigned))


class RuntimeConsumer(aiokafka_driver.Consumer):
    """faust's Kafka consumer with the consumer side of the rules above; only this app's
    transport (``RuntimeTransport``) creates it, so nothing else in the process changes."""

    _awaiting_seek = False  # from an assignment until its seek
    _held_for_seek: set[TP] = set()  # stream partitions faust resumed meanwhile (per instance)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._switching: set[asyncio.Future] = set()  # changelog fetching being switched

    @property
    def progress(self) -> StreamProgress:
        return self.app.pipeline.progress

    def _new_consumer_thread(self) -> RuntimeConsumerThread:
        return RuntimeConsumerThread(
            self, loop=self.loop, thread_loop=self.loop, beacon=self.beacon
        )

    def pause_partitions(self, tps) -> None:
        tps = set(tps)
        super().pause_partitions(tps)
        self._fetch_changelogs(tps, fetched=False)

    def _fetch_changelogs(self, tps: set[TP], fetched: bool) -> None:
        """faust's pause only hides what was fetched: aiokafka still asks the broker for
        every assigned partition, the changelogs of this worker's own tables too (60 of the
        ~100 partitions of each fetch, ~2 ms of CPU). Changelog partitions are fetched only
        while faust reads them (recovery, standbys)."""
        changelogs = {tp for tp in tps if self._is_changelog_tp(tp)}
        if changelogs:
            switching = asyncio.ensure_future(self._thread.fetch(changelogs, fetched))
            self._switching.add(switching)
            switching.add_done_callback(self._switched)

    def _switched(self, switching: asyncio.Future) -> None:
        self._switching.discard(switching)
        if not switching.cancelled() and switching.exception() is not None:
            log.warning("changelog partitions not switched: %r", switching.exception())

    def fetched_at(self, tp: TP) -> float | None:
        """When the broker last answered a fetch of ``tp`` (with or without messages), in
        wall-clock seconds: how old its high watermark is; None before the first answer
        or when ``tp`` is not assigned here."""
        client = self._thread._ensure_consumer()
        try:
            last = client.last_poll_timestamp(tp)
        except AssertionError:  # not assigned
            return None
        return None if last is None else last / 1000

    async def seek_back(self, tp: TP, offset: int) -> None:
        """Read ``tp`` again from ``offset`` (``_seek_consumer``), and faust's read offset
        moved back with it (faust drops every message below the last offset it delivered,
        so without this the messages from ``offset`` on were dropped again: a survivor of a
        killed worker waited for them for ever)."""
        log.warning("%s: seeking back to %d; before the seek: %s", tp, offset, self.fetch_state(tp))
        await self._seek_consumer({tp: offset})

    async def _seek_consumer(self, positions: Mapping[TP, int]) -> None:
        """Seek through the consumer service's ``seek_wait`` (faust's ``seek`` called
        aiokafka directly while the consumer ran in a thread of its own, racing its fetcher:
        aiokafka raised KeyError in fetched_records and the worker crashed), and move
        faust's read offsets with the positions, as faust's ``seek`` does."""
        await self._thread.seek_wait(positions)
        self._read_offset.update({tp: offset or None for tp, offset in positions.items()})

    def fetch_state(self, tp: TP) -> str:
        """What decides whether ``tp``'s messages are fetched and delivered (for the log of
        a partition whose messages do not come)."""
        client = self._thread._ensure_consumer()
        return (
            f"delivered={tp in (self._active_partitions or ())}, "
            f"held for a full stream buffer={tp in self._buffered_partitions}, "
            f"paused={tp in self._paused_partitions} (aiokafka: {tp in client.paused()}), "
            f"read offset={self._read_offset.get(tp)}, high watermark={client.highwater(tp)}"
        )

    async def _drain_messages(self, fetcher: Any) -> None:
        """faust's loop handing fetched messages to the streams, with one wait per fetch
        instead of one per message. faust waits for each message's delivery or a
        suspended flow (a rebalance) in new tasks, so each message waited for a turn of
        the event loop, behind every agent's work: a live quote spent most of its time
        before ingest there (up to 0.4 s at 1,000 quotes/s). Here a fetch's messages are
        delivered one after the other in one task, which a suspended flow cancels as
        faust's cancels the message in hand; the rest are read again from the committed
        offsets after the rebalance's seek (``perform_seek``), their read offsets unmoved."""
        consumer_stopped = self._stopped.is_set
        fetcher_stopped = fetcher._stopped.is_set
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                self.diag.set_flag(CONSUMER_FETCHING)
                fetched = [item async for item in self.getmany(timeout=1.0)]
                await asyncio.sleep(0)  # getmany may return at once, again and again
                if fetched and not self.should_stop:
                    await self.wait_first(self._deliver(fetched), self.suspend_flow.wait())
                self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if not self.transport.app.should_stop:
                raise
            log.info("Broker stopped the consumer, shutting down")
        except asyncio.CancelledError:
            if not self.transport.app.should_stop:
                raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)

    async def _deliver(self, fetched: list[tuple[TP, Message]]) -> None:
        """faust's delivery of each message (its gap bookkeeping, its periodic commit),
        the event loop given a turn every ``DELIVERY_TURN`` messages."""
        read_offset = self._read_offset
        for index, (tp, message) in enumerate(fetched):
            if index and not index % DELIVERY_TURN:
                await asyncio.sleep(0)
            offset, last = message.offset, read_offset.get(tp)
            if last is not None and offset < last:
                continue  # already delivered (faust drops these too)
            if last and offset - last > 1 and self.app.topics.acks_enabled_for(message.topic):
                await self._add_gap(tp, last + 1, offset)
            if self._commit_every is not None and self._n_acked >= self._commit_every:
                self._n_acked = 0
                await self.commit()
            await self.callback(message)
            read_offset[tp] = offset

    def ack(self, message: Message) -> bool:
        """A message fetched before the current assignment is released, not recorded."""
        if in_current_assignment(self.app, message):
            if super().ack(message):
                self.progress.acked(message.tp, message.offset)
                return True
            return False
        release(self, message)
        return False

    async def wait_empty(self) -> None:
        """At revocation and at shutdown: wait for the batches being processed (no longer
        than half the session timeout), release every other message, commit what was
        processed. faust's own waits for every message fetched, which never ends while an
        agent still references an event of one that was cleared from its queue."""
        self.progress.sought_to({})  # nothing is admitted until the next assignment's seek
        timeout = self.app.conf.broker_session_timeout / 2
        if not await self.progress.wait_idle(timeout):
            log.warning(
                "%d batches still being processed after %.0f s; their events will be read again",
                self.progress.in_flight,
                timeout,
            )
        for message in list(self._unacked_messages):
            release(self, message)
        await self.commit_and_end_transactions()

    async def on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        self._awaiting_seek = True
        self._held_for_seek = set()
        await super().on_partitions_assigned(assigned, generation_id)

    def resume_partitions(self, tps) -> None:
        """Stream partitions resume only once sought (``perform_seek``): faust resumes them
        just before it seeks, and what is delivered in between comes from the old
        positions. A survivor of a killed worker took the victim's partitions that way:
        thousands of messages past the committed offsets reached its agents first, and the
        ones at the committed offsets never came in time (seen in the SIGKILL test)."""
        tps = set(tps)
        if self._awaiting_seek:
            held = {tp for tp in tps if not self._is_changelog_tp(tp)}
            self._held_for_seek |= held
            tps -= held
        if tps:
            super().resume_partitions(tps)
            self._fetch_changelogs(tps, fetched=True)

    async def perform_seek(self) -> None:
        """After each assignment: every stream partition to its committed offset, or to its
        beginning when nothing was committed (aiokafka leaves such a partition where the
        fetcher got to); then the stream partitions resume. The offsets are published to
        the streams (``OffsetOrder``) before the seeks, so a message read from the new
        position is never refused for arriving before them."""
        # The changelogs of the tables this worker writes are read only to recover them;
        # faust pauses them after a recovery, but not when there was nothing to recover:
        # then every fetch asked for them too.
        self.pause_partitions(self.app.tables.recovery.active_tps)
        thread = self._thread  # the aiokafka driver's consumer service (RuntimeConsumerThread)
        client = thread._ensure_consumer()
        streams = [tp for tp in self.assignment() if not self._is_changelog_tp(tp)]
        # One request for all of them (aiokafka's ``committed`` asks for one partition at
        # a time: 3.6 s for 40 partitions, seen after a worker was killed).
        found = await thread.call_thread(client._coordinator.fetch_committed_offsets, streams)
        committed = {tp: found[tp].offset if tp in found else None for tp in streams}
        uncommitted = [tp for tp, offset in committed.items() if offset is None or offset < 0]
        earliest = await self.earliest_offsets(*uncommitted) if uncommitted else {}
        positions = {**committed, **earliest}
        self.progress.sought_to(positions)
        # Not faust's ``seek`` (``_seek_consumer``).
        await self._seek_consumer(positions)
        self._committed_offset.update(
            {tp: offset for tp, offset in committed.items() if offset is not None and offset >= 0}
        )
        self._awaiting_seek = False
        held, self._held_for_seek = self._held_for_seek, set()
        super().resume_partitions(held & set(streams))


class RuntimeTransport(aiokafka_driver.Transport):
    """The Kafka transport of faust, creating ``RuntimeConsumer``s."""

    Consumer = RuntimeConsumer
