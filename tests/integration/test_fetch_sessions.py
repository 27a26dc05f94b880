"""Fetch sessions against the real broker: nothing lost, duplicated or reordered; requests
after the first name only what changed; quiet partitions still count as answered; a
session the broker ends is opened again."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from agents.fetch_sessions import FetchSessions, SessionFetchRequest
from streamapp.kafka_io import ensure_topics
from streamapp.settings import Settings

PARTITIONS = 12
BUSY = (0, 5)  # the partitions messages are sent to; the rest stay quiet


class SentRequests:
    """The real client, noting each fetch request the sessions send through it."""

    def __init__(self, client) -> None:
        self.client, self.fetches = client, []

    def __getattr__(self, name):
        return getattr(self.client, name)

    async def send(self, node_id, request, **kwargs):
        if isinstance(request, SessionFetchRequest):
            self.fetches.append(request)
        return await self.client.send(node_id, request, **kwargs)


async def consume_in_sessions(settings: Settings, topic: str, rounds: int, per_round: int):
    bootstrap = settings.broker.removeprefix("kafka://")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, fetch_max_wait_ms=200)
    await producer.start()
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        fetcher = consumer._fetcher
        sent = SentRequests(fetcher._client)
        sessions = FetchSessions(sent, fetcher)
        fetcher._client = sessions
        expected = {p: [] for p in BUSY}
        received = {p: [] for p in BUSY}

        async def take(until: float) -> None:
            while time.monotonic() < until:
                for tp, records in (await consumer.getmany(timeout_ms=100)).items():
                    received[tp.partition] += [r.value for r in records]

        for n in range(rounds):
            if n == rounds // 2:
                # the broker ends the session: an epoch it does not expect
                sessions._sessions[next(iter(sessions._sessions))].epoch += 7
            for i in range(per_round):
                partition = BUSY[i % len(BUSY)]
                value = f"{n}-{i}".encode()
                expected[partition].append(value)
                await producer.send_and_wait(topic, value, partition=partition)
            await take(time.monotonic() + 0.4)
        await take(time.monotonic() + 1.0)
        answered_at = {tp.partition: consumer.last_poll_timestamp(tp) for tp in tps}
        return expected, received, sent.fetches, answered_at
    finally:
        await consumer.stop()
        await producer.stop()


@pytest.mark.integration
def test_a_consumer_in_fetch_sessions_gets_every_message_once_from_requests_of_changes(stack):
    settings = Settings()
    topic = f"fetch-sessions-{uuid.uuid4().hex[:8]}"
    asyncio.run(ensure_topics(settings, [topic], partitions=PARTITIONS))
    expected, received, fetches, answered_at = asyncio.run(
        consume_in_sessions(settings, topic, rounds=10, per_round=20)
    )

    assert received == expected  # every message, once, in order
    opening = [f for f in fetches if f.session_id == 0]
    within = [f for f in fetches if f.session_id != 0]
    # the first request opened a session, and so did the one after the broker ended it
    assert len(opening) >= 2
    assert len(within) > 10
    named = [sum(len(parts) for _, parts in f.topics) for f in within]
    assert max(named) <= len(BUSY)  # quiet partitions are never named once in the session
    assert all(sum(len(parts) for _, parts in f.topics) == PARTITIONS for f in opening[:1])
    # quiet partitions left out of the answers still count as just answered
    now_ms = time.time() * 1000
    quiet = [p for p in range(PARTITIONS) if p not in BUSY]
    assert all(now_ms - answered_at[p] < 2_000 for p in quiet), answered_at
