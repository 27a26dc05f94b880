"""Injury and lineup status per player, with the history of changes.

Ingest lets each feed through in event-time order, so an injury report or a lineup older
than the one last applied is a copy sent again after a restart (at-least-once): applied,
it would put an old status back on top of the history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas.injury import InjuryReport
from schemas.lineup import LineupConfirmation

HISTORY_CAP = 50


def apply_injury(team_state: dict[str, Any] | None, report: InjuryReport) -> dict[str, Any]:
    """A team's injury list after ``report``; a status is recorded only when it changes."""
    players = dict((team_state or {}).get("players", {}))
    player = players.get(report.player_id, {"history": []})
    if older_than(report.event_time, player.get("updated")):
        return team_state
    at = report.event_time.isoformat()
    history = list(player["history"])
    if not history or history[-1]["status"] != report.status.value:
        history.append({"at": at, "status": report.status.value, "reason": report.reason})
    players[report.player_id] = {
        "name": report.player_name,
        "status": report.status.value,
        "reason": report.reason,
        "since": history[-1]["at"],
        "updated": at,
        "game_id": report.game_id,
        "history": history[-HISTORY_CAP:],
    }
    return {"team": report.team, "players": players}


def apply_lineup(game_state: dict[str, Any] | None, lineup: LineupConfirmation) -> dict[str, Any]:
    """A game's lineups after ``lineup``; each change of a team's lineup is kept."""
    teams = dict((game_state or {}).get("teams", {}))
    team = teams.get(lineup.team, {"history": []})
    if older_than(lineup.event_time, team.get("updated")):
        return game_state
    starters = sorted(p.player_id for p in lineup.players if p.starter)
    history = list(team["history"])
    if (
        not history
        or history[-1]["starters"] != starters
        or history[-1]["confirmed"] != lineup.confirmed
    ):
        history.append(
            {
                "at": lineup.event_time.isoformat(),
                "starters": starters,
                "confirmed": lineup.confirmed,
            }
        )
    teams[lineup.team] = {
        "updated": lineup.event_time.isoformat(),
        "confirmed": lineup.confirmed,
        "players": [p.model_dump() for p in lineup.players],
        "history": history[-HISTORY_CAP:],
    }
    return {"game_id": lineup.game_id, "teams": teams}


def older_than(moment: datetime, last_applied: str | None) -> bool:
    """Whether ``moment`` goes before ``last_applied`` (an ISO time; None: nothing yet)."""
    return last_applied is not None and moment < datetime.fromisoformat(last_applied)
