"""Quote-to-output latency on a running worker, in live mode.

A fixture is sent for a new match (bench.live_feed), then quotes at a steady rate, each
bookmaker update stamped with the wall clock at the moment it is produced and sent as one
message, as the connectors send what one poll brought; the predictions and alerts of that
match are read back from the output topics as they arrive.

Matching rule: an output carries the event time of the event that caused it (predictions
and value alerts: ``LeagueRatings._scope``; steam alerts: ``odds_book.steam_alert``), and
every update gets an event time of its own, so an output of the match maps to exactly one
update and its latency is the wall clock when it was received minus that event time.
Predictions and value alerts also end their id with the causing quote's event id, which
is checked. An update's latency is that of its first output (what a subscriber waits for);
updates that caused nothing (most: only moves of the sharp book change a prediction) do not
count. Outputs caused by the fixture are counted apart. Nothing waits for ever: outputs are
read until none came for ``quiet`` seconds or ``patience`` ran out after the last quote, and
the counts say how much of what was expected came (the percentiles are None if nothing did).

Where the time goes (``hop_ms``), per update with an output, timed by its last quote: from
its event time to its append on the broker (the bench stamps the run's raw odds and output
topics with the broker's ``LogAppendTime``), then to its clean event read back by this
consumer (the ingest hop), then to the append of the update's first output (the prediction
hop: book, model, alert), then to that output read here. The clean topics keep the event
time their readers order by, so the ingest hop ends when this consumer reads the clean
event, not at its append.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import math
import time
from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from tqdm import tqdm

from bench.live_feed import LiveFeed
from bench.worker_web import histogram
from schemas.batches import event_batches
from schemas.feeds import FEEDS
from streamapp.kafka_io import ensure_topics, group_lag, kafka_admin
from streamapp.replay.sources import FeedEvent
from streamapp.settings import Settings

log = logging.getLogger(__name__)
OUTPUTS = ("predictions", "alerts")
FIXTURE_HEAD_START = 1.0  # seconds between the fixture and the first quote
TICK = timedelta(microseconds=1)
HOPS = ("to the broker", "ingest", "prediction", "to the reader")
TIMELINE_SLICE_SECONDS = 5.0
LOOP_LAG = "streamapp_event_loop_lag_seconds"


@dataclass
class LiveLatency:
    quotes_sent: int = 0
    updates_sent: int = 0
    warmup_quotes_sent: int = 0  # before the timed ones
    send_seconds: float = 0.0
    outputs: Counter = field(default_factory=Counter)  # kind -> outputs of the match received
    fixture_outputs: int = 0
    warmup_outputs: int = 0  # of the quotes sent before the timed ones
    unmatched_outputs: int = 0  # an event time the bench never sent
    wrong_trigger: int = 0  # a quote id that is not of the update with that event time
    first_output_ms: list[float] = field(default_factory=list)  # per update that caused one
    # when each of those updates was sent, in seconds from the first update
    first_output_sent_s: list[float] = field(default_factory=list)
    output_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    hop_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    # raw quotes the worker had not committed (offsets are committed every
    # STREAMAPP_OFFSET_COMMIT_SECONDS: that much may be processed already)
    raw_odds_lag_after_send: int | None = None
    raw_odds_lag_at_end: int | None = None
    waited_seconds: float = 0.0
    # how late the worker's event loop woke its lag timer from the warm-up's first quote to
    # the last output (streamapp.operations.time_event_loop_lag): a stall of everything
    # shows there
    event_loop_lag: dict | None = None

    def percentile(self, q: float, values: list[float] | None = None) -> float | None:
        values = self.first_output_ms if values is None else values
        return float(np.percentile(values, q)) if values else None

    def timeline(self, slice_seconds: float = TIMELINE_SLICE_SECONDS) -> list[dict]:
        """First-output latency per slice of the sending time: a backlog shows as a run of
        slow slices, a steady phase as slices alike."""
        slices: dict[int, list[float]] = defaultdict(list)
        for sent, latency in zip(self.first_output_sent_s, self.first_output_ms, strict=True):
            slices[int(sent // slice_seconds)].append(latency)
        return [
            {
                "from_s": index * slice_seconds,
                "count": len(values),
                "p50": self.percentile(50, values),
                "p99": self.percentile(99, values),
                "max": max(values),
            }
            for index, values in sorted(slices.items())
        ]

    def to_dict(self) -> dict:
        return {
            "quotes_sent": self.quotes_sent,
            "updates_sent": self.updates_sent,
            "send_seconds": self.send_seconds,
            "quotes_per_second": self.quotes_sent / self.send_seconds if self.send_seconds else 0,
            "outputs_received": dict(self.outputs),
            "warmup_quotes_sent": self.warmup_quotes_sent,
            "fixture_outputs": self.fixture_outputs,
            "warmup_outputs": self.warmup_outputs,
            "unmatched_outputs": self.unmatched_outputs,
            "wrong_trigger": self.wrong_trigger,
            "updates_with_output": len(self.first_output_ms),
            "first_output_p50_ms": self.percentile(50),
            "first_output_p99_ms": self.percentile(99),
            "first_output_max_ms": max(self.first_output_ms, default=None),
            "by_kind_ms": {
                kind: {
                    "count": len(values),
                    "p50": self.percentile(50, values),
                    "p99": self.percentile(99, values),
                    "max": max(values),
                }
                for kind, values in self.output_ms.items()
            },
            "timeline_ms": self.timeline(),
            "hop_ms": {
                hop: {"p50": self.percentile(50, values), "p99": self.percentile(99, values)}
                for hop, values in self.hop_ms.items()
            },
            "raw_odds_lag_after_send": self.raw_odds_lag_after_send,
            "raw_odds_lag_at_end": self.raw_odds_lag_at_end,
            "waited_seconds_after_send": self.waited_seconds,
            "event_loop_lag": self.event_loop_lag,
        }


async def _stamp_on_append(settings: Settings, topics: list[str]) -> None:
    """Messages on ``topics`` (this run's) get the broker's append time as their timestamp."""
    config = {"message.timestamp.type": "LogAppendTime"}
    async with kafka_admin(settings) as admin:
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name, configs=config) for name in topics]
        )


class Seen:
    """When each quote (by event id) reached the broker and its clean event came back."""

    def __init__(self, raw_topic: str, clean_topic: str) -> None:
        self.raw_topic, self.clean_topic = raw_topic, clean_topic
        self.on_broker: dict[str, float] = {}
        self.cleaned: dict[str, float] = {}

    def last(self, times: dict[str, float], quote_ids: set[str]) -> float | None:
        found = [times[q] for q in quote_ids if q in times]
        return max(found) if len(found) == len(quote_ids) else None


async def _output_consumer(settings: Settings, seen: Seen) -> AIOKafkaConsumer:
    """A consumer of every partition of the output topics, and of the odds' raw and clean
    ones, from their current end: it sees only what comes from now on."""
    names = [settings.topic(name) for name in OUTPUTS]
    await ensure_topics(settings, [*names, seen.raw_topic, seen.clean_topic])
    await _stamp_on_append(settings, [*names, seen.raw_topic])
    consumer = AIOKafkaConsumer(
        *names, seen.raw_topic, seen.clean_topic, bootstrap_servers=settings.bootstrap_servers
    )
    await consumer.start()
    for tp in consumer.assignment():
        await consumer.position(tp)  # resolved now, before anything is sent
    return consumer


async def _collect(consumer: AIOKafkaConsumer, game_id: str, received: list, seen: Seen) -> None:
    """Append (wall clock when received, output, its append time) for every output of
    ``game_id``; note when each quote reached the broker and its clean event came back."""
    while True:
        batch = await consumer.getmany(timeout_ms=100)
        now = time.time()
        for tp, records in batch.items():
            for record in records:
                events = [orjson.loads(line) for line in record.value.split(b"\n")]  # a batch
                if tp.topic not in (seen.raw_topic, seen.clean_topic):
                    received += [(now, output, record.timestamp / 1000) for output in events
                                 if output.get("game_id") == game_id]  # fmt: skip
                    continue
                arrived, at = (
                    (seen.on_broker, record.timestamp / 1000)
                    if tp.topic == seen.raw_topic
                    else (seen.cleaned, now)
                )
                for event in events:
                    arrived[event["event_id"]] = at


async def _send(producer: AIOKafkaProducer, settings: Settings, events: list[FeedEvent]):
    """``events`` (of one feed and league) as one message, as the connectors' publisher
    sends what one poll brought (schemas.batches); its delivery."""
    topic = settings.topic(FEEDS[events[0].feed].raw_topic)
    items = [(event.to_bytes(), event.event_time.timestamp()) for event in events]
    return [
        await producer.send(topic, batch.value, key=events[0].key.encode(), headers=batch.headers)
        for batch in event_batches(items)
    ]


async def _send_quotes(
    producer: AIOKafkaProducer,
    settings: Settings,
    feed: LiveFeed,
    rate: float,
    seconds: float,
    result: LiveLatency,
) -> dict[datetime, set[str]]:
    """Quote updates at ``rate`` quotes/s for ``seconds``; returns the quote ids of each
    update by its event time."""
    updates: dict[datetime, set[str]] = {}
    deliveries = []
    total = int(rate * seconds)
    last = datetime.now(UTC)
    started = time.monotonic()
    with tqdm(total=total, unit="quote", desc="live quotes", dynamic_ncols=True) as bar:
        while result.quotes_sent < total:
            delay = started + result.quotes_sent / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            # the wall clock now, unique per update (the key outputs are matched by)
            last = max(datetime.now(UTC), last + TICK)
            quotes = feed.next_update(last)
            deliveries += await _send(producer, settings, quotes)
            updates[last] = {quote.payload["event_id"] for quote in quotes}
            result.quotes_sent += len(quotes)
            result.updates_sent += 1
            bar.update(len(quotes))
    await asyncio.gather(*deliveries)
    result.send_seconds = time.monotonic() - started
    return updates


def late_wakeups(before: dict[float, float], after: dict[float, float]) -> dict:
    """From a lag histogram's cumulative counts at two moments: the wake-ups in between,
    how many came later than 10 and 25 ms, and the upper bound of the latest one's bucket."""
    counts = {bound: after[bound] - before.get(bound, 0.0) for bound in sorted(after)}
    looks = counts.get(math.inf, 0.0)
    return {
        "wakeups": looks,
        "over_10_ms": looks - counts.get(0.01, 0.0),
        "over_25_ms": looks - counts.get(0.025, 0.0),
        "latest_at_most_ms": next(
            (bound * 1000 for bound, count in counts.items() if count == looks and looks), None
        ),
    }


async def _loop_lag_buckets(settings: Settings) -> dict[float, float] | None:
    return await asyncio.to_thread(histogram, settings.canonical_url, LOOP_LAG)


async def _wait_for_outputs(received: list, quiet: float, patience: float) -> float:
    """Until no output came for ``quiet`` seconds, at most ``patience``; returns the wait."""
    started = time.monotonic()
    seen, last_change = len(received), started
    while time.monotonic() - started < patience:
        await asyncio.sleep(0.2)
        if len(received) != seen:
            seen, last_change = len(received), time.monotonic()
        elif time.monotonic() - last_change >= quiet:
            break
    return time.monotonic() - started


def _match(
    received: list,
    updates: dict[datetime, set[str]],
    fixture_time: datetime,
    result: LiveLatency,
    seen: Seen,
    warmup: Collection[datetime] = (),
) -> None:
    first: dict[datetime, tuple[float, float]] = {}  # update -> (received, output appended)
    for received_at, output, appended in received:
        caused_at = datetime.fromisoformat(output["event_time"])
        kind = output.get("alert_kind") or output["kind"]
        result.outputs[kind] += 1
        if caused_at == fixture_time:
            result.fixture_outputs += 1
            continue
        if caused_at in warmup:
            result.warmup_outputs += 1
            continue
        quote_ids = updates.get(caused_at)
        if quote_ids is None:
            result.unmatched_outputs += 1
            continue
        if kind != "steam" and output["event_id"].rsplit(":", 1)[-1] not in quote_ids:
            result.wrong_trigger += 1
        latency = (received_at - caused_at.timestamp()) * 1000
        result.output_ms[kind].append(latency)
        first[caused_at] = min(
            first.get(caused_at, (received_at, appended)), (received_at, appended)
        )
    result.first_output_ms = [(got - at.timestamp()) * 1000 for at, (got, _) in first.items()]
    started = min(updates, default=fixture_time).timestamp()
    result.first_output_sent_s = [at.timestamp() - started for at in first]
    for caused_at, (received_at, appended) in first.items():
        on_broker = seen.last(seen.on_broker, updates[caused_at])
        cleaned = seen.last(seen.cleaned, updates[caused_at])
        if on_broker is None or cleaned is None:
            continue  # read before this consumer had its partitions: not timed by hop
        marks = (caused_at.timestamp(), on_broker, cleaned, appended, received_at)
        for hop, start, end in zip(HOPS, marks, marks[1:], strict=False):
            result.hop_ms[hop].append((end - start) * 1000)


async def _measure(
    settings: Settings,
    feed: LiveFeed,
    rate: float,
    seconds: float,
    warmup: float,
    quiet: float,
    patience: float,
) -> LiveLatency:
    result = LiveLatency()
    raw_odds = [settings.topic(FEEDS["odds"].raw_topic)]
    seen = Seen(raw_odds[0], settings.topic(FEEDS["odds"].clean_topic))
    consumer = await _output_consumer(settings, seen)
    # as a feed would send: each message on its way at once (no linger), one copy on the broker
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, linger_ms=0)
    await producer.start()
    received: list = []
    collecting = asyncio.create_task(_collect(consumer, feed.game_id, received, seen))
    try:
        fixture = feed.fixture(datetime.now(UTC))
        await asyncio.gather(*await _send(producer, settings, [fixture]))
        await asyncio.sleep(FIXTURE_HEAD_START)
        # Not timed: a broker the bench just started still compiles its hot code (its JIT
        # threads took 31 % of a core in the first 10 s of quotes after a replay of ~50 s,
        # 12 % after one of ~60 s), and the latency then depended on the replay's length.
        # (read outside the timed quotes: a scrape is work on the worker's loop too)
        lag_before = await _loop_lag_buckets(settings)
        warming = LiveLatency()
        warm = await _send_quotes(producer, settings, feed, rate, warmup, warming)
        result.warmup_quotes_sent = warming.quotes_sent
        updates = await _send_quotes(producer, settings, feed, rate, seconds, result)
        result.raw_odds_lag_after_send = await group_lag(settings, settings.app_id, raw_odds)
        log.info(
            "live: %s quotes sent in %.1f s; %d outputs so far; waiting for the rest",
            f"{result.quotes_sent:,}", result.send_seconds, len(received),
        )  # fmt: skip
        result.waited_seconds = await _wait_for_outputs(received, quiet, patience)
        lag_after = await _loop_lag_buckets(settings)
        if lag_before is not None and lag_after:
            result.event_loop_lag = late_wakeups(lag_before, lag_after)
        result.raw_odds_lag_at_end = await group_lag(settings, settings.app_id, raw_odds)
    finally:
        collecting.cancel()
        await asyncio.gather(collecting, return_exceptions=True)
        await consumer.stop()
        await producer.stop()
    _match(received, updates, fixture.event_time, result, seen, warm.keys())
    return result


def measure_live_latency(
    settings: Settings,
    feed: LiveFeed,
    rate: float = 1000.0,
    seconds: float = 25.0,
    warmup: float = 10.0,
    quiet: float = 10.0,
    patience: float = 120.0,
) -> LiveLatency:
    """Run the live feed against the worker of ``settings`` (running, tables recovered).

    What this process holds already (a replayed season) is left out of its garbage
    collections: a full one took 81-116 ms in the timed quotes of each of four runs, and
    meanwhile nothing here reads the outputs, so the worker's answers looked as late as the
    collection was long (in one run the update sent then and the two after it: 44.7-48.5 ms,
    near that run's p99)."""
    gc.collect()
    gc.freeze()
    try:
        return asyncio.run(_measure(settings, feed, rate, seconds, warmup, quiet, patience))
    finally:
        gc.unfreeze()
