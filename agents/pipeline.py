"""The topics of the app and what every agent is given: topics, tables, settings, metrics."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import faust

from agents.runtime import StreamProgress
from schemas.feeds import FEEDS
from tables.definitions import Tables
from tables.model_registry import ModelRegistry

if TYPE_CHECKING:
    from streamapp.db.writer import Database
    from streamapp.metrics import Metrics
    from streamapp.settings import Settings


@dataclass
class Topics:
    raw: dict[str, faust.TopicT]
    clean: dict[str, faust.TopicT]
    deadletter: faust.TopicT
    predictions: faust.TopicT
    alerts: faust.TopicT
    settlements: faust.TopicT
    control: faust.TopicT  # model versions (tables.model_registry); one partition

    def merged(self, app: faust.App, *topics: faust.TopicT) -> faust.TopicT:
        """One channel over several co-partitioned topics (an agent that joins them).
        internal=True, like the topics themselves: the conductor creates only the topics of
        internal channels before it subscribes, and a topic missing then is left out of the
        assignment (faust's assignor: "Ignoring missing topic") until the next rebalance,
        so on a fresh app its messages were neither read nor committed."""
        partitions = {t.partitions for t in topics}
        if len(partitions) != 1:
            raise ValueError(f"merged topics must be co-partitioned, not {partitions}")
        return app.topic(
            *(t.get_topic_name() for t in topics),
            key_serializer="raw",
            value_serializer="raw",
            partitions=partitions.pop(),
            internal=True,
        )

    def all(self) -> list[faust.TopicT]:
        return [
            *self.raw.values(),
            *self.clean.values(),
            self.deadletter,
            self.predictions,
            self.alerts,
            self.settlements,
            self.control,
        ]


def define_topics(app: faust.App, settings: Settings) -> Topics:
    def topic(name: str, partitions: int | None = None) -> faust.TopicT:
        # Values stay bytes: agents validate them with the pydantic models, which is
        # faster and stricter than faust's own record codecs. internal=True: the worker
        # creates the topic at start, so an agent never subscribes to a missing topic.
        return app.topic(
            settings.topic(name),
            key_serializer="raw",
            value_serializer="raw",
            partitions=partitions or settings.topic_partitions,
            internal=True,
        )

    return Topics(
        raw={name: topic(feed.raw_topic) for name, feed in FEEDS.items()},
        clean={name: topic(feed.clean_topic) for name, feed in FEEDS.items()},
        deadletter=topic("deadletter"),
        predictions=topic("predictions"),
        alerts=topic("alerts"),
        settlements=topic("settlements"),
        control=topic("control", partitions=1),
    )


@dataclass
class Pipeline:
    settings: Settings
    topics: Topics
    tables: Tables
    metrics: Metrics
    database: Database | None = None  # None when the worker runs without the PostgreSQL sink
    # The model versions, kept current from the control topic on every worker.
    registry: ModelRegistry = field(default_factory=ModelRegistry)
    # Set once the control topic has been read to its end at start.
    registry_loaded: asyncio.Event = field(default_factory=asyncio.Event)
    # Batches being processed and where streams start after a rebalance (agents.runtime).
    progress: StreamProgress = field(default_factory=StreamProgress)
