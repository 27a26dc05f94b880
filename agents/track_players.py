"""Player form: each box-score line into the player's game log and the team's game sheet."""

from __future__ import annotations

import faust

from agents.batching import processed_events
from agents.pipeline import Pipeline
from schemas.boxscore import PlayerBoxScore
from tables.keys import table_key
from tables.player_form import record_line, record_team_game


def register(app: faust.App, pipeline: Pipeline) -> faust.types.AgentT:
    players, teams = pipeline.tables.player_form, pipeline.tables.team_games

    @app.agent(pipeline.topics.clean["boxscores"], name="track-players")
    async def track_players(stream):
        async for record in processed_events(stream, pipeline):
            line = PlayerBoxScore.model_validate_json(record.value)
            player_key = table_key(line.partition_key, line.player_id)
            team_key = table_key(line.partition_key, line.team)
            players[player_key] = record_line(players.get(player_key), line)
            teams[team_key] = record_team_game(teams.get(team_key), line)

    return track_players
