"""Injury reports into player prop projections, and an injury-impact alert for every
teammate whose projection the status change moves beyond the threshold
(tables.injury_impact). Reads the players' form and the team's game sheets (kept by
track-players, same league partition); keeps each team's statuses and projections in its
own table."""

from __future__ import annotations

import faust

from agents.pipeline import Pipeline
from agents.runtime import Checkpoint, run_events
from schemas.injury import InjuryReport
from tables.injury_impact import assess
from tables.keys import table_key


def register(app: faust.App, pipeline: Pipeline) -> faust.types.AgentT:
    projections, players = pipeline.tables.prop_projections, pipeline.tables.player_form
    team_games, registry = pipeline.tables.team_games, pipeline.registry
    alerts, metrics = pipeline.topics.alerts, pipeline.metrics

    async def assess_report(record, checkpoint: Checkpoint) -> None:
        """Project the team before and after the report; alert the moves; store."""
        report = InjuryReport.from_clean_json(record.value)
        league = report.partition_key
        key = table_key(league, report.team)
        found = assess(
            checkpoint.get(projections, key),
            report,
            team_games.get(key),
            lambda player_id: players.get(table_key(league, player_id)),
            registry.active,
        )
        for alert in found.alerts:
            await checkpoint.send(alerts, league.encode(), alert.to_json())
            checkpoint.count(metrics.alerts.labels(alert.sport.value, alert.alert_kind.value))
        if found.state is not None:
            checkpoint.put(projections, key, found.state)

    @app.agent(pipeline.topics.clean["injuries"], name="assess-injuries")
    async def assess_injuries(stream):
        await run_events(stream, pipeline, assess_report)

    return assess_injuries
