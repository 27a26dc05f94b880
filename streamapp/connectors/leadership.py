"""One poller at a time: of all `streamapp connect` processes, only the one holding the single
partition of the connectors' leader topic polls.

Kafka's group membership does the election: the processes join one consumer group on a
one-partition topic, the broker gives the partition to one member, and takes it away when
that member stops heartbeating (killed, or cut off), within the session timeout. So two
processes never poll the same provider twice, and a standby takes over by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka.errors import KafkaConnectionError

from streamapp.kafka_io import ensure_topics, unreachable
from streamapp.settings import Settings

log = logging.getLogger(__name__)
LEADER_TOPIC = "connect.leader"
METADATA_RETRY_SECONDS = 0.2


class Leadership(ConsumerRebalanceListener):
    """``leading`` is set while this process holds the leader partition."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.leading = asyncio.Event()
        self.changed = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._membership: asyncio.Task | None = None

    async def on_partitions_revoked(self, revoked) -> None:
        if self.leading.is_set():
            log.warning("no longer the connectors' leader: polling stops")
        self.leading.clear()
        self.changed.set()

    async def on_partitions_assigned(self, assigned) -> None:
        if assigned:
            log.info("the connectors' leader: polling starts")
            self.leading.set()
        else:
            log.info("standing by: another `streamapp connect` polls")
        self.changed.set()

    async def __aenter__(self) -> Leadership:
        topic = self.settings.topic(LEADER_TOPIC)
        await ensure_topics(self.settings, [topic], partitions=1)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap_servers,
            group_id=f"{self.settings.app_id}-connect",
            session_timeout_ms=int(self.settings.session_timeout * 1000),
            heartbeat_interval_ms=int(self.settings.session_timeout * 1000 / 4),
            enable_auto_commit=False,
        )
        try:
            await self._consumer.start()
        except KafkaConnectionError as error:
            raise unreachable(self.settings, error) from error
        # The topic may be seconds old: a member whose metadata does not hold it yet is
        # given nothing, and the group rebalances only at the next metadata refresh (5
        # minutes; seen in CI, where no `connect` polled).
        while not self._consumer.partitions_for_topic(topic):
            await self._consumer._client.force_metadata_update()
            await asyncio.sleep(METADATA_RETRY_SECONDS)
        self._consumer.subscribe([topic], listener=self)
        self._membership = asyncio.create_task(self._stay_member())
        return self

    async def __aexit__(self, *exc_info) -> None:
        if self._membership is not None:
            self._membership.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._membership
        if self._consumer is not None:
            await self._consumer.stop()
        self.leading.clear()

    async def _stay_member(self) -> None:
        # The group is kept (and rebalanced) while the consumer polls; the topic holds no
        # messages, the poll only keeps the membership alive.
        while True:
            await self._consumer.getmany(timeout_ms=1000)
