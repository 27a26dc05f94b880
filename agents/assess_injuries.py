"""Injury reports into player prop projections, and an injury-impact alert for every
teammate whose projection the status change moves beyond the threshold.

Reads the players' form and the team's game sheets (kept by track-players, same league
partition); keeps each team's injury statuses and projections in its own table, so the
before/after of a report does not depend on another agent's progress.
"""

from __future__ import annotations

import logging

import faust

from agents.pipeline import Pipeline
from agents.runtime import Checkpoint, run_events
from schemas.alert import Alert, AlertKind
from schemas.injury import InjuryReport
from tables.availability import older_than
from tables.keys import table_key
from tables.props import (
    largest_move,
    next_opponent,
    opponent_factors,
    outlook,
    project_outlook,
    roster,
)

log = logging.getLogger(__name__)


def register(app: faust.App, pipeline: Pipeline) -> faust.types.AgentT:
    projections, players = pipeline.tables.prop_projections, pipeline.tables.player_form
    team_games, registry = pipeline.tables.team_games, pipeline.registry
    alerts, metrics = pipeline.topics.alerts, pipeline.metrics

    def projected(league, team_state, statuses: tuple[dict, dict], opponent) -> tuple[dict, dict]:
        """Every rostered player's projection under each of two status sets (before and
        after a report); form and teammate boosts are read once per player."""
        factors = opponent_factors(team_state, opponent)
        before, after = {}, {}
        for player_id in roster(team_state):
            state = players.get(table_key(league, player_id))
            if state:
                view = outlook(state, team_state)
                name = {"name": state["player_name"]}
                before[player_id] = {**project_outlook(view, statuses[0], factors), **name}
                after[player_id] = {**project_outlook(view, statuses[1], factors), **name}
        return before, after

    async def assess(report: InjuryReport, checkpoint: Checkpoint) -> None:
        """Project the team before and after the report; alert the moves; store."""
        key = table_key(report.partition_key, report.team)
        state = checkpoint.get(projections, key) or {"statuses": {}, "projections": {}}
        reported = state.get("reported", {})  # player -> time of the status held
        if older_than(report.event_time, reported.get(report.player_id)):
            return  # a copy sent again after a restart: its status was overtaken
        before = dict(state["statuses"])
        if before.get(report.player_id) == report.status.value:
            return  # no change, nothing moves
        after = {**before, report.player_id: report.status.value}
        reported = {**reported, report.player_id: report.event_time.isoformat()}
        team_state = team_games.get(key)
        if not team_state:
            checkpoint.put(projections, key, {**state, "statuses": after, "reported": reported})
            return  # no box scores of the team yet: nothing to project from
        opponent = next_opponent(team_state)
        league = report.partition_key
        old, new = projected(league, team_state, (before, after), opponent)
        params = registry.active
        for player_id, line in new.items():
            if player_id == report.player_id or player_id not in old:
                continue
            stat, move = largest_move(old[player_id], line)
            name = line["name"]
            if abs(move) < params.prop_impact:
                continue
            alert = Alert(
                event_id=f"injury:{report.event_id}:{player_id}",
                event_time=report.event_time,
                sport=report.sport,
                league=report.league,
                game_id=report.game_id or f"{report.team}:next",
                alert_kind=AlertKind.INJURY_IMPACT,
                market="player_prop",
                selection="over" if move > 0 else "under",
                model_version=params.version,
                detail=f"{report.player_name} {report.status.value}: {name} ({player_id}) "
                f"{stat} {old[player_id][stat]:.1f} -> {line[stat]:.1f} (vs {opponent})",
            )
            await checkpoint.send(alerts, report.partition_key.encode(), alert.to_json())
            checkpoint.count(metrics.alerts.labels(alert.sport.value, alert.alert_kind.value))
        checkpoint.put(projections, key, {"statuses": after, "projections": new,
                       "opponent": opponent, "updated": report.event_time.isoformat(),
                       "reported": reported})  # fmt: skip

    async def assess_report(record, checkpoint: Checkpoint) -> None:
        await assess(InjuryReport.from_clean_json(record.value), checkpoint)

    @app.agent(pipeline.topics.clean["injuries"], name="assess-injuries")
    async def assess_injuries(stream):
        await run_events(stream, pipeline, assess_report)

    return assess_injuries
