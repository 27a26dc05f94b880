"""New predictions and alerts pushed to dashboards as they happen (server-sent events).

A worker owns only some leagues' partitions, yet a page may watch any league on any worker.
So each worker tails the whole predictions and alerts topics itself, from their end, with a
consumer of no group (it commits nothing and takes no partitions from the agents), and only
while at least one page listens. Every page has a bounded queue: a page that cannot keep up
loses its oldest events instead of growing the worker's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from aiohttp import web
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.batches import batch_items
from streamapp.errors import StreamappError

log = logging.getLogger(__name__)

QUEUE_SIZE = 256
HEARTBEAT_SECONDS = 15.0  # a comment line this often keeps proxies from closing the stream
POLL_MS = 500
RECONNECT_MS = 3000  # how long a browser waits before it reconnects after the stream ends


class FeedUnavailable(StreamappError):
    """The tail could not reach the end of its topics (Kafka away, topics missing)."""


@dataclass(frozen=True)
class LiveEvent:
    kind: str  # the SSE event name: "prediction" or "alert"
    league: str  # the message key, "sport:league"
    data: bytes  # one event's JSON (a message may hold a batch of them: schemas.batches)

    def frame(self) -> bytes:
        # A data line may not hold a line break; JSON has none outside strings, but be safe.
        lines = b"".join(b"data: " + line + b"\n" for line in self.data.splitlines() or [b""])
        return b"event: " + self.kind.encode() + b"\n" + lines + b"\n"


class Listener:
    """One page's events: those of its league (every league without one), oldest dropped
    when the page falls ``size`` events behind. None in the queue ends the stream."""

    def __init__(self, league: str | None, size: int = QUEUE_SIZE) -> None:
        self.league = league
        self.queue: asyncio.Queue[LiveEvent | None] = asyncio.Queue(maxsize=size)
        self.dropped = 0

    def offer(self, event: LiveEvent) -> None:
        if self.league is not None and event.league != self.league:
            return
        self._put(event)

    def close(self) -> None:
        self._put(None)

    def _put(self, item: LiveEvent | None) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(item)


class LiveFeed:
    """Fans the tail of some topics out to listeners; ``kinds`` maps topic name -> event name."""

    def __init__(
        self,
        kinds: dict[str, str],
        partitions: int,
        new_consumer: Callable[[], AIOKafkaConsumer],
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self.kinds = kinds
        self.partitions = partitions
        self.new_consumer = new_consumer
        self.queue_size = queue_size
        self.listeners: set[Listener] = set()
        self._tail: asyncio.Task | None = None
        self._positioned = asyncio.Event()

    @contextlib.asynccontextmanager
    async def listen(self, league: str | None) -> AsyncIterator[Listener]:
        """A listener that receives every event published after the tail stands at the end
        of the topics; FeedUnavailable if the tail cannot get there."""
        listener = Listener(league, self.queue_size)
        self.listeners.add(listener)
        try:
            if self._tail is None or self._tail.done():
                self._positioned = asyncio.Event()
                self._tail = asyncio.create_task(self._follow(self._positioned))
            await self._wait_positioned(self._tail, self._positioned)
            yield listener
        finally:
            self.listeners.discard(listener)
            if not self.listeners and self._tail is not None:
                tail, self._tail = self._tail, None
                tail.cancel()  # nobody watches: read nothing
                await asyncio.wait([tail])  # its consumer closed before the worker stops

    def publish(self, event: LiveEvent) -> None:
        for listener in list(self.listeners):
            listener.offer(event)

    def close(self) -> None:
        """Ends every stream (the worker is stopping; browsers reconnect elsewhere or later)."""
        for listener in list(self.listeners):
            listener.close()

    @staticmethod
    async def _wait_positioned(tail: asyncio.Task, positioned: asyncio.Event) -> None:
        ready = asyncio.ensure_future(positioned.wait())
        try:
            await asyncio.wait([ready, tail], return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
        if not positioned.is_set():
            raise FeedUnavailable(f"Kafka: {tail.exception()!r}") from tail.exception()

    async def _follow(self, positioned: asyncio.Event) -> None:
        consumer = self.new_consumer()
        try:
            await consumer.start()
            partitions = [
                TopicPartition(topic, p) for topic in self.kinds for p in range(self.partitions)
            ]
            consumer.assign(partitions)
            await consumer.seek_to_end(*partitions)
            for partition in partitions:
                await consumer.position(partition)  # resolved: nothing after this is missed
            positioned.set()
            while True:
                batches = await consumer.getmany(timeout_ms=POLL_MS)
                for partition, records in batches.items():
                    kind = self.kinds[partition.topic]
                    for record in records:
                        league = (record.key or b"").decode(errors="replace")
                        for data, _ in batch_items(record.value, record.headers, 0.0):
                            self.publish(LiveEvent(kind, league, data))
        except Exception:
            if not positioned.is_set():
                raise  # the pages waiting for it answer 503 with the reason
            # Pages reconnect after RECONNECT_MS, which starts a fresh tail.
            log.exception("the dashboard's live feed stopped")
            self.close()
        finally:
            await consumer.stop()


async def stream(request: web.Request, feed: LiveFeed, league: str | None) -> web.StreamResponse:
    """The events of ``league`` as server-sent events until the page goes away. The first
    event, ``ready``, says that every later prediction and alert will be sent."""
    async with feed.listen(league) as listener:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",  # nginx: pass events through unbuffered
            }
        )
        await response.prepare(request)
        try:
            await response.write(f"retry: {RECONNECT_MS}\nevent: ready\ndata: {{}}\n\n".encode())
            while True:
                try:
                    event = await asyncio.wait_for(listener.queue.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    await response.write(b": heartbeat\n\n")
                    continue
                if event is None:
                    break
                await response.write(event.frame())
        except ConnectionResetError:
            pass  # the page went away; found at the next write (the heartbeat at the latest)
        return response
