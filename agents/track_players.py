"""Player form: each box-score line into the player's game log and the team's game sheet."""

from __future__ import annotations

import faust

from agents.pipeline import Pipeline
from agents.runtime import Checkpoint, run_events
from schemas.boxscore import PlayerBoxScore
from tables.keys import table_key
from tables.player_form import record_line, record_team_game


def register(app: faust.App, pipeline: Pipeline) -> faust.types.AgentT:
    players, teams = pipeline.tables.player_form, pipeline.tables.team_games

    async def record_box_score(record, checkpoint: Checkpoint) -> None:
        line = PlayerBoxScore.from_clean_json(record.value)
        player_key = table_key(line.partition_key, line.player_id)
        team_key = table_key(line.partition_key, line.team)
        checkpoint.put(players, player_key, record_line(checkpoint.get(players, player_key), line))
        checkpoint.put(teams, team_key, record_team_game(checkpoint.get(teams, team_key), line))

    @app.agent(pipeline.topics.clean["boxscores"], name="track-players")
    async def track_players(stream):
        await run_events(stream, pipeline, record_box_score)

    return track_players
