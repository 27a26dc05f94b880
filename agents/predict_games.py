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

import faust

from agents.batching import current_event, error_type_of, is_transient, run_batches
from agents.pipeline import Pipeline
from schemas.base import Sport
from schemas.deadletter import DeadLetter
from schemas.game import GameEvent
from schemas.odds import OddsQuote
from tables.event_merge import new_merge, push, release
from tables.league_ratings import LeagueRatings
from tables.settlement import summary

log = logging.getLogger(__name__)
FEEDS = ("games", "odds")


def register(app: faust.App, pipeline: Pipeline) -> faust.types.AgentT:
    settings = pipeline.settings
    ratings = pipeline.tables.league_ratings
    topics, metrics, registry = pipeline.topics, pipeline.metrics, pipeline.registry
    games_topic = topics.clean["games"].get_topic_name()
    source = topics.merged(app, topics.clean["games"], topics.clean["odds"])

    async def send_all(key: bytes, outputs, deliveries: list) -> None:
        """Hand the outputs to the producer; their acknowledgements join ``deliveries``."""
        for topic, events in (
            (topics.predictions, outputs.predictions),
            (topics.alerts, outputs.alerts),
            (topics.settlements, outputs.settlements),
        ):
            for event in events:
                deliveries.append(
                    await topic.send(
                        key=key, value=event.to_json(), timestamp=event.event_time.timestamp()
                    )
                )
        for prediction in outputs.predictions:
            metrics.predictions.labels(prediction.sport.value, prediction.model).inc()
        for alert in outputs.alerts:
            metrics.alerts.labels(alert.sport.value, alert.alert_kind.value).inc()

    async def park(key: str, item, error: Exception, deliveries: list) -> None:
        """A released event the model could not apply: its dead letter joins the league's
        deliveries (on the broker before the state that skipped it is stored)."""
        topic, partition = item.source.rsplit(":", 1)
        error_type = error_type_of(error)
        letter = DeadLetter.for_message(
            reason=f"predict-games could not apply this event: {type(error).__name__}: {error}",
            error_type=error_type,
            topic=topic,
            partition=int(partition),
            offset=item.offset,
            key=key.encode(),
            payload=item.payload.encode(),
            received_at=datetime.now(UTC),
            stage="predict-games",
        )
        deliveries.append(await topics.deadletter.send(key=key.encode(), value=letter.to_json()))
        metrics.dead_letters.labels(item.feed, error_type).inc()

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

    async def predict_batch(batch) -> None:
        by_league: dict[str, list] = {}
        for record in batch:
            by_league.setdefault(record.message.key.decode(), []).append(record)
        for key, records in by_league.items():
            with current_event(records[0]):
                stored = ratings.get(key)
            # The merge buffer is kept in the league's value: one write stores both, so a
            # crash cannot keep one without the other.
            state = LeagueRatings.from_dict(stored) if stored else league_of(key)
            merge = stored.get("merge") if stored else None
            merge = merge or new_merge()
            now = time.time()
            for record in records:
                message = record.message
                feed = "games" if message.topic == games_topic else "odds"
                push(
                    merge, feed, int(message.timestamp * 1000),
                    f"{message.topic}:{message.partition}", message.offset,
                    message.value.decode(), now,
                )  # fmt: skip
            released = release(merge, FEEDS, settings.merge_max_wait_seconds, now)
            params = registry.active
            letters: list = []  # deliveries of the dead letters of events not applied
            sent: list[tuple] = []  # (event, deliveries of its outputs)
            settled = False
            for item in released:
                model = GameEvent if item.feed == "games" else OddsQuote
                outputs_sent: list = []
                try:
                    event = model.model_validate_json(item.payload)
                    outputs = state.observe(
                        event,
                        params,
                        settings.prediction_min_change,
                        settings.alert_on_outlier_prices,
                    )
                    if outputs:
                        await send_all(key.encode(), outputs, outputs_sent)
                        settled = settled or bool(outputs.settlements)
                except Exception as error:  # one bad event must not stop the league: park it
                    if is_transient(error):
                        raise  # the broker is away: the batch is tried again
                    log.exception("predict-games could not apply %s", item.payload[:200])
                    await park(key, item, error, letters)
                    continue
                sent.append((item, outputs_sent))
            # Every output is on the broker before the state that produced it is stored; an
            # event whose outputs the broker refused is parked, not retried forever with
            # every later event of the league.
            for item, outputs_sent in sent:
                try:
                    await asyncio.gather(*outputs_sent)
                except Exception as error:
                    if is_transient(error):
                        raise
                    await park(key, item, error, letters)
            await asyncio.gather(*letters)
            with current_event(records[0]):
                ratings[key] = {**state.to_dict(), "merge": merge}
            if settled:
                publish_quality(state)

    @app.agent(source, name="predict-games")
    async def predict_games(stream):
        await pipeline.registry_loaded.wait()
        await run_batches(stream, pipeline, predict_batch)

    return predict_games


def league_of(key: str) -> LeagueRatings:
    """A new league's state from its key ("sport:league")."""
    sport, league = key.split(":", 1)
    return LeagueRatings(Sport(sport), league)
