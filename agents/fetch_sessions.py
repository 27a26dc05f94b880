"""Incremental fetch sessions (Kafka's KIP-227) for the worker's consumer.

aiokafka asks the broker for every partition it fetches in every fetch request, and the
broker answers for each of them, messages or not: a worker reads ~57 partitions, and under
a live feed of 1,000 quotes/s its consumer sent ~280 such fetches a second, at ~0.35 ms
of pure-Python encoding and decoding each, in the interpreter every agent shares. In a
fetch session the broker remembers the partitions and their fetch offsets: a request
names only the partitions that are new or whose offset moved (and those to forget), and
the answer holds only the partitions with something new.

``FetchSessions`` sits between aiokafka's fetcher and its client, so the fetcher keeps
building full requests and reading answers as it always does: each request is sent as the
difference from what the broker's session holds, and for each partition the broker left
out of an answer (nothing new, the same high watermark) the fetcher's record of when the
broker last answered for it is brought forward, as a full answer would have done (the
runtime judges a quiet input by it). Any error, cancellation or answer that does not fit
ends the session: the next request is a full one, which opens a new session.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka.errors import for_code
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.structs import TopicPartition

log = logging.getLogger(__name__)

SESSIONS_FROM_VERSION = 7  # FetchRequest v7 added session ids and epochs
NO_SESSION = 0
OPENING_EPOCH = 0  # with NO_SESSION: a full request that opens a session
LAST_EPOCH = 2**31 - 1  # epochs wrap to 1 after this

# (fetch offset, most bytes) of each partition a request fetches
Wanted = dict[TopicPartition, tuple[int, int]]


def wanted_of(request: FetchRequest) -> Wanted:
    return {
        TopicPartition(topic, partition): (offset, most)
        for topic, partitions in request.topics
        for partition, offset, most in partitions
    }


def by_topic(partitions: Iterable[TopicPartition], value=lambda tp: tp.partition) -> list:
    """[(topic, [value of each of its partitions])], as fetch requests list partitions."""
    grouped: dict[str, list] = {}
    for tp in partitions:
        grouped.setdefault(tp.topic, []).append(value(tp))
    return list(grouped.items())


class SessionFetchRequest(FetchRequest):
    """A fetch request sent within a session: only ``changed`` partitions, and the
    ``forgotten`` ones the session must drop. Below v7 (no sessions) it is the full
    request it was made from."""

    def __init__(
        self,
        full: FetchRequest,
        session_id: int,
        epoch: int,
        changed: Wanted,
        forgotten: Iterable[TopicPartition],
    ) -> None:
        super().__init__(
            full._max_wait_ms,
            full._min_bytes,
            full._max_bytes,
            full._isolation_level,
            by_topic(changed, lambda tp: (tp.partition, *changed[tp])),
            full._rack_id,
        )
        self.full = full
        self.session_id, self.epoch = session_id, epoch
        self.forgotten = by_topic(forgotten)

    def build(self, request_struct_class):
        if request_struct_class.API_VERSION < SESSIONS_FROM_VERSION:
            return self.full.build(request_struct_class)
        struct = super().build(request_struct_class)
        struct.session_id, struct.session_epoch = self.session_id, self.epoch
        struct.forgotten_topics_data = self.forgotten
        return struct


@dataclass
class FetchSession:
    """What one broker's fetch session holds, as far as this consumer knows: its id, the
    epoch the next request carries, and each partition's fetch offset and size."""

    id: int = NO_SESSION
    epoch: int = OPENING_EPOCH
    held: Wanted = field(default_factory=dict)
    supported: bool = True  # False once the broker answered below v7

    def request(self, full: FetchRequest, wanted: Wanted) -> FetchRequest:
        if not self.supported:
            return full
        if self.id == NO_SESSION:
            return SessionFetchRequest(full, NO_SESSION, OPENING_EPOCH, wanted, ())
        changed = {tp: value for tp, value in wanted.items() if self.held.get(tp) != value}
        forgotten = [tp for tp in self.held if tp not in wanted]
        return SessionFetchRequest(full, self.id, self.epoch, changed, forgotten)

    def answered(self, response: Any, wanted: Wanted) -> list[TopicPartition] | None:
        """Take in the broker's answer to a request for ``wanted``: the partitions it left
        out as unchanged, or None when the answer is not a session's (the session is then
        ended, or sessions are not supported)."""
        if response.API_VERSION < SESSIONS_FROM_VERSION:
            self.supported = False
            return None
        if response.error_code:
            log.info("fetch session %d ended by the broker: %s", self.id,
                     for_code(response.error_code).__name__)  # fmt: skip
            self.end()
            return None
        answered = {
            TopicPartition(topic, partition[0])
            for topic, partitions in response.topics
            for partition in partitions
        }
        if not answered.issubset(wanted):
            log.warning("fetch session %d answered for partitions not asked for: %s",
                        self.id, sorted(answered - wanted.keys()))  # fmt: skip
            self.end()
            return None
        opened = self.id == NO_SESSION
        self.id = response.session_id
        if self.id == NO_SESSION:
            return None  # the broker opened no session (its cache is full): full next time
        self.held = dict(wanted)
        self.epoch = 1 if opened or self.epoch == LAST_EPOCH else self.epoch + 1
        return [tp for tp in wanted if tp not in answered]

    def end(self) -> None:
        self.id, self.epoch, self.held = NO_SESSION, OPENING_EPOCH, {}


class FetchSessions:
    """aiokafka's client as the fetcher sees it, sending its fetches in sessions (one per
    broker); every other request goes through unchanged."""

    def __init__(self, client: Any, fetcher: Any) -> None:
        self._client, self._fetcher = client, fetcher
        self._sessions: dict[int, FetchSession] = {}
        # Read for every assigned partition each time the fetcher looks for what to fetch
        # (hundreds of times a second): an attribute here, not a lookup through
        # __getattr__ (the client keeps one ClusterMetadata, updated in place).
        self.cluster = client.cluster

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def send(self, node_id: int, request: Any, **kwargs: Any) -> Any:
        if type(request) is not FetchRequest:
            return await self._client.send(node_id, request, **kwargs)
        session = self._sessions.setdefault(node_id, FetchSession())
        wanted = wanted_of(request)
        try:
            response = await self._client.send(node_id, session.request(request, wanted), **kwargs)
        except BaseException:
            session.end()  # the broker may or may not have seen it
            raise
        unchanged = session.answered(response, wanted)
        if unchanged:
            self._answered_unchanged(unchanged, wanted)
        return response

    def _answered_unchanged(self, unchanged: list[TopicPartition], wanted: Wanted) -> None:
        """What aiokafka records of a partition answered without messages, for those the
        broker left out: answered now, its high watermark unchanged."""
        subscription = self._fetcher._subscriptions.subscription
        assignment = subscription and subscription.assignment
        if assignment is None or not assignment.active:
            return
        now_ms = int(time.time() * 1000)
        for tp in unchanged:
            state = assignment.state_value(tp)
            if state is not None and state.has_valid_position and state.position == wanted[tp][0]:
                state.timestamp = now_ms
