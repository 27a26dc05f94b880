"""Elo ratings per league from game results, and a pregame win probability for every
upcoming game whose teams' ratings moved.

A game event's predictions are on the broker before the league's new state is written, so
a worker killed in between re-emits them on restart (the state ignores events it has
already applied) rather than losing them.
"""

from __future__ import annotations

import asyncio

import faust

from agents.pipeline import Pipeline
from schemas.game import GameEvent
from tables.league_ratings import MODEL_VERSION, LeagueRatings


def register(app: faust.App, pipeline: Pipeline) -> faust.types.AgentT:
    ratings = pipeline.tables.league_ratings
    predictions = pipeline.topics.predictions
    min_change = pipeline.settings.prediction_min_change
    metrics = pipeline.metrics

    @app.agent(pipeline.topics.clean["games"], name="rate-teams")
    async def rate_teams(stream):
        async for payload in stream:
            game = GameEvent.model_validate_json(payload)
            key = game.partition_key
            stored = ratings.get(key)
            state = (
                LeagueRatings.from_dict(stored)
                if stored
                else LeagueRatings(game.sport, game.league)
            )
            deliveries = []
            for game_id in state.observe(game):
                prediction = state.prediction_if_moved(game_id, game, min_change)
                if prediction is None:
                    continue
                deliveries.append(
                    await predictions.send(
                        key=key.encode(),
                        value=prediction.to_json(),
                        timestamp=prediction.event_time.timestamp(),
                    )
                )
                metrics.predictions.labels(prediction.sport.value, prediction.model).inc()
            await asyncio.gather(*deliveries)
            ratings[key] = state.to_dict()
            if state.brier is not None:
                metrics.model_brier.labels(state.sport.value, state.league, MODEL_VERSION).set(
                    state.brier
                )

    return rate_teams
