"""End-to-end throughput against its ceiling.

The pipeline figure is the demo's own measurement (``streamapp.demo.replay_through_worker``):
real events replayed as fast as possible into one running worker, from the first message
sent until the worker has committed every input and its outputs stopped growing — ingest,
tables, predictions, alerts and sinks included. The ceiling is a plain aiokafka consumer
reading the same raw messages back from the same broker right afterwards (their events
counted): what any Kafka client in Python gets before doing anything with a message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from bench.topic_read import TopicRead, read_topics
from streamapp.demo import replay_through_worker
from streamapp.replay.producer import raw_topics
from streamapp.replay.sources import FeedEvent
from streamapp.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Throughput:
    events: int
    replay_seconds: float  # the producer alone
    caught_up_after: float  # from the end of the replay until the worker was done
    pipeline_eps: float
    raw: TopicRead  # the same raw messages, read by a plain consumer
    outputs: dict[str, int]  # messages per topic after the run

    @property
    def raw_consume_eps(self) -> float:
        return self.raw.events_per_second

    @property
    def ratio(self) -> float:
        return self.pipeline_eps / self.raw_consume_eps

    def to_dict(self) -> dict:
        return asdict(self) | {
            "raw": self.raw.to_dict(),
            "raw_consume_eps": self.raw_consume_eps,
            "ratio": self.ratio,
        }


def measure_throughput(settings: Settings, events: Sequence[FeedEvent]) -> Throughput:
    """Replay ``events`` through the running worker of ``settings``, then read them raw."""
    run = replay_through_worker(settings, events)
    log.info("pipeline: %s events in %.1f s; reading them raw", f"{run.report.total:,}", run.wall)
    raw = asyncio.run(read_topics(settings, raw_topics(settings)))
    if raw.events != run.report.total:
        log.warning("read %d raw events back, %d were sent", raw.events, run.report.total)
    return Throughput(
        events=run.report.total,
        replay_seconds=run.report.seconds,
        caught_up_after=run.caught_up_after,
        pipeline_eps=run.events_per_second,
        raw=raw,
        outputs=run.summary.topics,
    )
