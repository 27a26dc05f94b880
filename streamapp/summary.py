"""What a run did, read back from the broker: events per topic, predictions, dead letters."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import orjson

from schemas.feeds import FEEDS
from streamapp.kafka_io import TopicWatch, event_counts, read_all
from streamapp.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    topics: dict[str, int]
    dead_letters_by_reason: Counter = field(default_factory=Counter)

    def count(self, settings: Settings, name: str) -> int:
        return self.topics.get(settings.topic(name), 0)

    def render(self, settings: Settings) -> str:
        lines = [f"{'topic':<40} {'events':>10}"]
        lines += [f"{name:<40} {count:>10,}" for name, count in self.topics.items()]
        lines.append("")
        lines.append(f"predictions out: {self.count(settings, 'predictions'):,}")
        lines.append(f"alerts out:      {self.count(settings, 'alerts'):,}")
        lines.append(f"settlements out: {self.count(settings, 'settlements'):,}")
        lines.append(f"dead letters:    {self.count(settings, 'deadletter'):,}")
        for (error_type, reason), n in self.dead_letters_by_reason.most_common(12):
            lines.append(f"  {n:>5} x {error_type}: {reason[:110]}")
        return "\n".join(lines)


def pipeline_topics(settings: Settings) -> list[str]:
    names = [settings.topic(feed.raw_topic) for feed in FEEDS.values()]
    names += [settings.topic(feed.clean_topic) for feed in FEEDS.values()]
    return [*names, *output_topics(settings)]


def output_topics(settings: Settings) -> list[str]:
    return [settings.topic(n) for n in ("predictions", "alerts", "settlements", "deadletter")]


def consumed_topics(settings: Settings) -> list[str]:
    """The topics the worker group consumes (the sinks also read the output topics)."""
    names = [settings.topic(feed.raw_topic) for feed in FEEDS.values()]
    names += [settings.topic(feed.clean_topic) for feed in FEEDS.values()]
    if settings.sink_enabled:
        names += output_topics(settings)
    return names


async def wait_until_drained(
    settings: Settings,
    timeout: float = 600.0,
    settle_polls: int = 3,
    poll: float = 2.0,
    on_poll: Callable[[dict[str, int] | None, dict[str, int]], Awaitable[None]] | None = None,
) -> float:
    """Wait until the worker group has committed every input and outputs stop growing;
    ``on_poll`` is told the lag per input topic and the output counts at each poll.

    Returns the seconds until the poll that first saw that final state (the ``settle_polls``
    polls after it only confirm it).
    """
    started = time.monotonic()
    inputs = consumed_topics(settings)
    async with TopicWatch(settings, output_topics(settings)) as watch:
        last, seen_at, steady = None, 0.0, 0
        while time.monotonic() - started < timeout:
            lags = await watch.lags(settings.app_id, inputs)
            counts = await watch.counts()
            lag = None if lags is None else sum(lags.values())
            if lag == 0 and (lag, counts) == last:
                steady += 1
                if steady >= settle_polls:
                    return seen_at - started
            else:
                steady, seen_at = 0, time.monotonic()
            last = lag, counts
            log.info("waiting for the worker: lag %s, outputs %s", lag, counts)
            if on_poll is not None:
                await on_poll(lags, counts)
            await asyncio.sleep(poll)
    raise TimeoutError(f"the worker did not catch up within {timeout:.0f}s")


async def collect_summary(settings: Settings) -> RunSummary:
    summary = RunSummary(topics=await event_counts(settings, pipeline_topics(settings)))
    for record in await read_all(settings, settings.topic("deadletter")):
        letter = orjson.loads(record.value)
        reason = letter["reason"]
        summary.dead_letters_by_reason[(letter["error_type"], reason)] += 1
    return summary
