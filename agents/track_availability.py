"""Injury reports into each team's injury list; lineups into each game's lineups."""

from __future__ import annotations

import faust

from agents.pipeline import Pipeline
from agents.runtime import Checkpoint, run_events
from schemas.injury import InjuryReport
from schemas.lineup import LineupConfirmation
from tables.availability import apply_injury, apply_lineup
from tables.keys import table_key


def register(app: faust.App, pipeline: Pipeline) -> faust.types.AgentT:
    injuries, lineups = pipeline.tables.injuries, pipeline.tables.lineups
    clean = pipeline.topics.clean
    injuries_topic = clean["injuries"].get_topic_name()
    source = pipeline.topics.merged(app, clean["injuries"], clean["lineups"])

    async def record_availability(record, checkpoint: Checkpoint) -> None:
        if record.message.topic == injuries_topic:
            report = InjuryReport.from_clean_json(record.value)
            key = table_key(report.partition_key, report.team)
            checkpoint.put(injuries, key, apply_injury(checkpoint.get(injuries, key), report))
        else:
            lineup = LineupConfirmation.from_clean_json(record.value)
            key = table_key(lineup.partition_key, lineup.game_id)
            checkpoint.put(lineups, key, apply_lineup(checkpoint.get(lineups, key), lineup))

    @app.agent(source, name="track-availability")
    async def track_availability(stream):
        await run_events(stream, pipeline, record_availability)

    return track_availability
