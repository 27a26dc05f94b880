"""Team form: each final result is added to both teams' season game lists."""

from __future__ import annotations

import faust

from agents.pipeline import Pipeline
from agents.runtime import Checkpoint, run_events
from schemas.game import GameEvent, GameStatus
from tables.keys import table_key
from tables.team_form import record_result


def register(app: faust.App, pipeline: Pipeline) -> faust.types.AgentT:
    form = pipeline.tables.team_form

    async def record_final(record, checkpoint: Checkpoint) -> None:
        game = GameEvent.from_clean_json(record.value)
        if game.status is not GameStatus.FINAL:
            return
        for team in (game.home_team, game.away_team):
            key = table_key(game.partition_key, team)
            checkpoint.put(form, key, record_result(checkpoint.get(form, key), game, team))

    @app.agent(pipeline.topics.clean["games"], name="track-form")
    async def track_form(stream):
        await run_events(stream, pipeline, record_final)

    return track_form
