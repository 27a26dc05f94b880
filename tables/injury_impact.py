"""What an injury report does to its team's player-prop projections: every rostered player
projected before and after the status change, and an injury-impact alert for each teammate
whose projection moves beyond the model's threshold.

The team's state (statuses, when each was reported, the projections) is kept apart from the
players' form, so the before and after of a report do not depend on another agent's
progress. A report older than the status it would replace is a copy sent again after a
restart: ingest keeps each player's reports in event-time order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from schemas.alert import Alert, AlertKind
from schemas.injury import InjuryReport
from tables.availability import older_than
from tables.model_params import ModelParams
from tables.props import (
    largest_move,
    next_opponent,
    opponent_factors,
    outlook,
    project_outlook,
    roster,
)

PlayerForm = Callable[[str], dict[str, Any] | None]  # player id -> his form state, if known


@dataclass
class Assessment:
    alerts: list[Alert] = field(default_factory=list)
    state: dict[str, Any] | None = None  # the team's new state; None: nothing changed


def assess(
    state: dict[str, Any] | None,
    report: InjuryReport,
    team_games: dict[str, Any] | None,
    player_form: PlayerForm,
    params: ModelParams,
) -> Assessment:
    """The alerts ``report`` makes and the team's new state (``state``: the team's; None
    before its first report)."""
    state = state or {"statuses": {}, "projections": {}}
    reported = state.get("reported", {})  # player -> time of the status held
    if older_than(report.event_time, reported.get(report.player_id)):
        return Assessment()  # a copy sent again after a restart: its status was overtaken
    before = dict(state["statuses"])
    if before.get(report.player_id) == report.status.value:
        return Assessment()  # no change, nothing moves
    after = {**before, report.player_id: report.status.value}
    reported = {**reported, report.player_id: report.event_time.isoformat()}
    if not team_games:
        # no box scores of the team yet: nothing to project from
        return Assessment(state={**state, "statuses": after, "reported": reported})
    opponent = next_opponent(team_games)
    old, new = projected(team_games, player_form, (before, after), opponent)
    alerts = []
    for player_id, line in new.items():
        if player_id == report.player_id or player_id not in old:
            continue
        stat, move = largest_move(old[player_id], line)
        if abs(move) >= params.prop_impact:
            moved = (old[player_id][stat], line[stat])
            alerts.append(impact_alert(report, (player_id, line["name"]), stat, moved,
                                       opponent, params.version))  # fmt: skip
    new_state = {"statuses": after, "projections": new, "opponent": opponent,
                 "updated": report.event_time.isoformat(), "reported": reported}  # fmt: skip
    return Assessment(alerts, new_state)


def projected(
    team_games: dict[str, Any],
    player_form: PlayerForm,
    statuses: tuple[dict, dict],
    opponent: str | None,
) -> tuple[dict, dict]:
    """Every rostered player's projection under each of two status sets (before and after
    a report); form and teammate boosts are read once per player."""
    factors = opponent_factors(team_games, opponent)
    before, after = {}, {}
    for player_id in roster(team_games):
        form = player_form(player_id)
        if form:
            view = outlook(form, team_games)
            name = {"name": form["player_name"]}
            before[player_id] = {**project_outlook(view, statuses[0], factors), **name}
            after[player_id] = {**project_outlook(view, statuses[1], factors), **name}
    return before, after


def impact_alert(
    report: InjuryReport,
    teammate: tuple[str, str],
    stat: str,
    move: tuple[float, float],
    opponent: str | None,
    version: str,
) -> Alert:
    """The alert that ``report`` moved a teammate's (id, name) ``stat`` projection
    (``move``: before, after)."""
    player_id, name = teammate
    return Alert(
        event_id=f"injury:{report.event_id}:{player_id}",
        event_time=report.event_time,
        sport=report.sport,
        league=report.league,
        game_id=report.game_id or f"{report.team}:next",
        alert_kind=AlertKind.INJURY_IMPACT,
        market="player_prop",
        selection="over" if move[1] > move[0] else "under",
        model_version=version,
        detail=f"{report.player_name} {report.status.value}: {name} ({player_id}) "
        f"{stat} {move[0]:.1f} -> {move[1]:.1f} (vs {opponent})",
    )
