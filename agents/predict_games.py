"""Predictions, value alerts and settlements from each league's game and odds events.

Events of a league are merged into event-time order (tables.event_merge), then folded
into the league's model state (tables.league_ratings) with the active model version.
Every output is on the broker before the league's new state is written, so a worker
killed in between re-emits the same outputs (same ids) on restart rather than losing them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import NamedTuple

import faust
from faust.types import TP

from agents.pipeline import Pipeline
from agents.runtime import (
    Checkpoint,
    Input,
    Seeks,
    ValueCache,
    error_type_of,
    idle_inputs,
    is_transient,
    partition_event,
    run_batches,
)
from schemas.base import Sport
from schemas.batches import millis
from schemas.deadletter import DeadLetter
from schemas.game import GameEvent
from schemas.odds import OddsQuote
from tables.event_merge import complete_through, new_merge, oldest_arrival, push, release
from tables.exceptions import FailedAfterOutputs
from tables.league_ratings import LeagueRatings, more_of_instant
from tables.settlement import summary

log = logging.getLogger(__name__)
FEEDS = ("games", "odds")


def register(app: faust.App, pipeline: Pipeline) -> faust.types.AgentT:
    settings = pipeline.settings
    ratings = pipeline.tables.league_ratings
    topics, metrics, registry = pipeline.topics, pipeline.metrics, pipeline.registry
    games_topic = topics.clean["games"].get_topic_name()
    inputs = {
        feed: Input(topics.clean[feed].get_topic_name(), topics.raw[feed].get_topic_name())
        for feed in FEEDS
    }
    source = topics.merged(app, topics.clean["games"], topics.clean["odds"])

    def emit_all(key: bytes, outputs, checkpoint: Checkpoint) -> list[asyncio.Future]:
        """Emit the outputs (they leave in batch messages: Checkpoint.emit); their
        acknowledgements."""
        deliveries = [
            checkpoint.emit(topic, key, event.to_json(), event.event_time.timestamp())
            for topic, events in (
                (topics.predictions, outputs.predictions),
                (topics.alerts, outputs.alerts),
                (topics.settlements, outputs.settlements),
            )
            for event in events
        ]
        for prediction in outputs.predictions:
            checkpoint.count(metrics.predictions.labels(prediction.sport.value, prediction.model))
        for alert in outputs.alerts:
            checkpoint.count(metrics.alerts.labels(alert.sport.value, alert.alert_kind.value))
        return deliveries

    async def park(key: str, item, error: Exception, checkpoint: Checkpoint) -> None:
        """A released event the model could not apply: its dead letter is an output of
        the checkpoint (on the broker before the state that skipped it is stored)."""
        topic, partition = item.source.rsplit(":", 1)
        error_type = error_type_of(error)
        letter = DeadLetter.for_message(
            reason=f"predict-games could not apply this event: {type(error).__name__}: {error}",
            error_type=error_type,
            topic=topic,
            partition=int(partition),
            offset=item.offset,
            item=item.item,
            key=key.encode(),
            payload=item.payload.encode(),
            received_at=datetime.now(UTC),
            stage="predict-games",
        )
        await checkpoint.send(topics.deadletter, key.encode(), letter.to_json())
        checkpoint.count(metrics.dead_letters.labels(item.feed, error_type))

    def publish_quality(state: LeagueRatings) -> None:
        for label, performance in state.performance.items():
            version, model = label.split("|")
            figures = summary(performance)
            gauge_labels = (state.sport.value, state.league, version, model)
            if figures["brier"] is not None:
                metrics.settled_brier.labels(*gauge_labels).set(figures["brier"])
            if figures["mean_clv_same_book"] is not None:
                metrics.alert_clv.labels(*gauge_labels).set(figures["mean_clv_same_book"])
        if state.brier is not None:
            version = registry.active.version
            metrics.model_brier.labels(state.sport.value, state.league, version).set(state.brier)

    # Leagues with events held back on this worker: key -> what their release depends on.
    # Rebuilt from the table after every rebalance, so a held event never waits for a
    # message of its own league to come.
    held: dict[str, Held] = {}
    rebalanced = Seeks(pipeline.progress, seen=False)
    # A league's value is large (ratings, upcoming games, the merge buffer): this worker
    # reads back the one it stored rather than decoding it for every batch.
    stored_leagues = ValueCache(pipeline.progress)

    def hold(key: str, partition: int, merge: dict, idle: frozenset[str]) -> None:
        if merge["pending"]:
            held[key] = Held(partition, idle, oldest_arrival(merge))
        else:
            held.pop(key, None)

    async def advance(key: str, partition: int, records: list, checkpoint: Checkpoint) -> None:
        """Push the league's new ``records`` (none on a tick) into its merge buffer and
        apply every event that is due: no input can still bring one that goes before it."""
        context = records[0] if records else partition_event(app, games_topic, partition)
        stored = checkpoint.get(ratings, key, context, stored_leagues)
        # The merge buffer is kept in the league's value: one write stores both, so a
        # crash cannot keep one without the other.
        state = LeagueRatings.from_dict(stored) if stored else league_of(key)
        merge = (stored.get("merge") if stored else None) or new_merge()
        now = time.time()
        for record in records:
            message = record.message
            feed = "games" if message.topic == games_topic else "odds"
            if record.watermark is not None:  # written by ingest, checked there
                complete_through(merge, feed, int(record.watermark))
                continue
            push(
                merge, feed, millis(record.timestamp),
                f"{message.topic}:{message.partition}", message.offset,
                record.value.decode(), now, record.index,
            )  # fmt: skip
        idle = idle_inputs(app, pipeline, inputs, partition)
        live_from = round((now - settings.live_window_seconds) * 1000)
        released = release(merge, FEEDS, settings.merge_max_wait_seconds, now, idle, live_from)
        if not released and not records:
            hold(key, partition, merge, idle)
            return  # nothing changed: nothing to store
        params = registry.active
        sent: list[tuple] = []  # (event, deliveries of its outputs)
        settled = False
        events = []  # (released item, its event)
        for item in released:
            await checkpoint.turn()
            try:
                model = GameEvent if item.feed == "games" else OddsQuote
                events.append((item, model.from_clean_json(item.payload)))
            except Exception as error:  # the clean topic holds valid events: a bug
                log.exception("predict-games could not read %s", item.payload[:200])
                await park(key, item, error, checkpoint)
        for index, (item, event) in enumerate(events):
            await checkpoint.turn()
            following = events[index + 1][1] if index + 1 < len(events) else None
            # A replayed instant is released whole; a live one as its quotes come, so
            # which of them share a batch (a retry's too) is timing: each is forecast.
            replayed = millis(event.event_time.timestamp()) < live_from
            outputs_sent: list[asyncio.Future] = []
            try:
                outputs = state.observe(
                    event,
                    params,
                    settings.prediction_min_change,
                    settings.alert_on_outlier_prices,
                    replayed and more_of_instant(event, following),
                )
                if outputs:
                    outputs_sent = emit_all(key.encode(), outputs, checkpoint)
                    settled = settled or bool(outputs.settlements)
            except Exception as error:  # one bad event must not stop the league: park it
                if isinstance(error, FailedAfterOutputs):
                    # Their state is kept: they are sent all the same (and the event is
                    # parked again, with the broker's reason, if it refuses them).
                    sent.append((item, emit_all(key.encode(), error.outputs, checkpoint)))
                    settled = settled or bool(error.outputs.settlements)
                    error = error.__cause__ or error
                if is_transient(error):
                    raise error  # the broker is away: the batch is tried again
                log.exception("predict-games could not apply %s", item.payload[:200])
                await park(key, item, error, checkpoint)
                continue
            sent.append((item, outputs_sent))
        # Every output is on the broker before the state that produced it is stored; an
        # event whose outputs the broker refused is parked, not retried forever with
        # every later event of the league.
        for item, outputs_sent in sent:
            try:
                await checkpoint.delivered(outputs_sent)
            except Exception as error:
                if is_transient(error):
                    raise
                await park(key, item, error, checkpoint)
        merge["partition"] = partition  # where a tick finds the league after a rebalance
        value = {**state.to_dict(), "merge": merge}
        checkpoint.put(ratings, key, value, context, stored_leagues)
        hold(key, partition, merge, idle)
        if settled:
            publish_quality(state)

    async def predict_batch(batch, checkpoint: Checkpoint) -> None:
        by_league: dict[str, list] = {}
        for record in batch:
            by_league.setdefault(record.message.key.decode(), []).append(record)
        for key, records in by_league.items():
            await advance(key, records[0].message.partition, records, checkpoint)

    def find_held() -> None:
        """After a rebalance: the leagues of this worker's partitions that hold events."""
        held.clear()
        assigned = app.consumer.assignment()
        for key in list(ratings.keys()):
            merge = (ratings.get(key) or {}).get("merge") or {}
            partition = merge.get("partition")
            if merge.get("pending") and TP(games_topic, partition) in assigned:
                hold(key, partition, merge, frozenset())

    async def release_due(checkpoint: Checkpoint) -> None:
        """What became due without a new message: an input went idle, or an event has
        waited ``merge_max_wait_seconds``."""
        if rebalanced.new():
            find_held()
        assigned = app.consumer.assignment()
        now = time.time()
        for key, waiting in list(held.items()):
            if TP(games_topic, waiting.partition) not in assigned:
                del held[key]
                continue
            idle = idle_inputs(app, pipeline, inputs, waiting.partition)
            overdue = now - waiting.oldest_arrival >= settings.merge_max_wait_seconds
            if overdue or not idle <= waiting.idle:
                await advance(key, waiting.partition, [], checkpoint)

    @app.agent(source, name="predict-games")
    async def predict_games(stream):
        await pipeline.registry_loaded.wait()
        await run_batches(stream, pipeline, predict_batch, on_tick=release_due, watermarks=True)

    return predict_games


class Held(NamedTuple):
    partition: int
    idle: frozenset[str]  # the idle inputs when the league's events were last held back
    oldest_arrival: float  # wall-clock seconds the longest-held event arrived


def league_of(key: str) -> LeagueRatings:
    """A new league's state from its key ("sport:league")."""
    sport, league = key.split(":", 1)
    return LeagueRatings(Sport(sport), league)
