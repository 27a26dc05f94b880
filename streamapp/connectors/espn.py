"""ESPN site API: scoreboard -> GameEvent; game summary -> GameEvent, LineupConfirmation,
InjuryReport and (NBA, once final) PlayerBoxScore.

Traps handled (feeds/FORMAT-NOTES.md): scores are strings, "0" before the start (not a
score); soccer finals are STATUS_FULL_TIME / FINAL_AET / FINAL_PEN, never STATUS_FINAL;
STATUS_POSTPONED has ``state: "post"`` but ``completed: false`` and is not a final;
RAIN_DELAY, HALFTIME and OVERTIME are ``state: "in"``; a shoot-out is in ``shootoutScore``,
not in the score; home/away come from ``homeAway``, never from the order; undecided
knockout slots are pseudo-teams ("Round of 16 3 Winner"); the multi-league scoreboard names
each event's league only in its uid; pre-match rosters are empty; the injuries block is the
list at fetch time, not at the game's time, so it is not tied to the game.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import orjson

from schemas.base import Event, Sport
from schemas.boxscore import PlayerBoxScore
from schemas.game import GameEvent, GameStatus
from schemas.injury import InjuryReport, InjuryStatus
from schemas.lineup import LineupConfirmation, LineupPlayer
from streamapp.connectors.changes import stable_event_id
from streamapp.connectors.exceptions import ResponseFormatError, UnknownTeam
from streamapp.connectors.leagues import League, espn_league_of_uid
from streamapp.connectors.parsing import (
    NOT_FOLLOWED,
    UNKNOWN_TEAM,
    Parsed,
    Skipped,
    build,
    game_id,
    provider_time,
    season_of,
)
from streamapp.connectors.teams import resolve_team

PROVIDER = "espn"
# How long after its start a game's summary is still followed (a game, with overtime and
# delays, is over well within this).
RECENT_SECONDS = 8 * 3600
PSEUDO_TEAM = re.compile(
    r"^(Round of \d+|Quarterfinal|Semifinal|Final)\b.*\b(Winner|Loser)$", re.IGNORECASE
)
NOT_PLAYED = {"STATUS_POSTPONED": GameStatus.POSTPONED, "STATUS_CANCELED": GameStatus.CANCELLED}
INJURY_STATUSES = {
    "Out": InjuryStatus.OUT,
    "Doubtful": InjuryStatus.DOUBTFUL,
    "Questionable": InjuryStatus.QUESTIONABLE,
    # ESPN's fantasy status for Day-To-Day is GTD, a game-time decision.
    "Day-To-Day": InjuryStatus.QUESTIONABLE,
    "Probable": InjuryStatus.PROBABLE,
}
# ESPN NBA box-score keys -> PlayerBoxScore fields; "made-attempted" pairs are split.
BOX_SCORE_FIELDS = {
    "minutes": ("minutes",),
    "fieldGoalsMade-fieldGoalsAttempted": ("fgm", "fga"),
    "threePointFieldGoalsMade-threePointFieldGoalsAttempted": ("fg3m", "fg3a"),
    "freeThrowsMade-freeThrowsAttempted": ("ftm", "fta"),
    "offensiveRebounds": ("oreb",),
    "defensiveRebounds": ("dreb",),
    "rebounds": ("reb",),
    "assists": ("ast",),
    "steals": ("stl",),
    "blocks": ("blk",),
    "turnovers": ("tov",),
    "fouls": ("pf",),
    "plusMinus": ("plus_minus",),
    "points": ("pts",),
}


def _decode(body: bytes | str, required: str, kind: type) -> dict[str, Any]:
    """The response as a JSON object whose ``required`` member is a ``kind``."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ResponseFormatError(f"not valid JSON: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get(required), kind):
        raise ResponseFormatError(f"expected a JSON object whose {required!r} is a {kind.__name__}")
    return data


def game_status(status_type: dict[str, Any]) -> GameStatus | None:
    """ESPN's ``status.type`` as a GameStatus; None for a state it cannot be (post but
    neither completed, postponed nor cancelled)."""
    name, state = status_type.get("name"), status_type.get("state")
    if name in NOT_PLAYED:
        return NOT_PLAYED[name]
    if state == "pre":
        return GameStatus.SCHEDULED
    if state == "in":
        return GameStatus.IN_PROGRESS
    if state == "post" and status_type.get("completed") is True:
        return GameStatus.FINAL
    return None


class _Game:
    """One ESPN competition with its league, teams, status and game id resolved."""

    def __init__(self, competition: dict[str, Any], league: League, status: dict) -> None:
        sides = {c["homeAway"]: c for c in competition["competitors"]}
        self.league = league
        self.home, self.away = sides["home"], sides["away"]
        self.home_team = resolve_team(PROVIDER, league.code, self.home["team"]["displayName"])
        self.away_team = resolve_team(PROVIDER, league.code, self.away["team"]["displayName"])
        self.start = provider_time(competition["date"])
        self.game_id = game_id(league, self.start, self.home_team, self.away_team)
        self.status_type = status["type"]
        self.status = game_status(self.status_type)

    @property
    def common(self) -> dict[str, Any]:
        return {"sport": self.league.sport, "league": self.league.code, "game_id": self.game_id}

    def team_of(self, espn_team: dict[str, Any]) -> str:
        return self.home_team if espn_team["id"] == self.home["team"]["id"] else self.away_team

    def opponent_of(self, team: str) -> str:
        return self.away_team if team == self.home_team else self.home_team


def _pseudo_team(competition: dict[str, Any]) -> str | None:
    for competitor in competition.get("competitors", []):
        name = competitor.get("team", {}).get("displayName", "")
        if PSEUDO_TEAM.match(name):
            return name
    return None


def _game(
    uid: str, competition: dict[str, Any], status: dict, item: str, skipped: list[Skipped]
) -> _Game | None:
    placeholder = _pseudo_team(competition)
    if placeholder:
        skipped.append(Skipped(item, f"teams not known yet: {placeholder!r}", NOT_FOLLOWED))
        return None
    league = espn_league_of_uid(uid)
    if league is None:
        skipped.append(Skipped(item, f"league of {uid!r} is not followed", NOT_FOLLOWED))
        return None
    try:
        game = _Game(competition, league, status)
    except UnknownTeam as error:
        skipped.append(Skipped(item, str(error), UNKNOWN_TEAM))
        return None
    except (KeyError, TypeError, ValueError) as error:
        skipped.append(Skipped(item, f"malformed competition: {error!r}"))
        return None
    if game.status is None:
        skipped.append(Skipped(item, f"status {game.status_type.get('name')!r} is not read"))
        return None
    return game


def _game_event(game: _Game, received_at: datetime, skipped: list[Skipped]) -> Event | None:
    state: dict[str, Any] = {}
    if game.status in (GameStatus.IN_PROGRESS, GameStatus.FINAL):
        state = {"home_score": int(game.home["score"]), "away_score": int(game.away["score"])}
        shootout = {
            f"{side}_shootout": float(competitor["shootoutScore"])
            for side, competitor in (("home", game.home), ("away", game.away))
            if "shootoutScore" in competitor
        }
        if shootout:
            state["stats"] = shootout
    content = (game.status, state.get("home_score"), state.get("away_score"), game.start)
    return build(
        GameEvent,
        game.game_id,
        skipped,
        event_id=stable_event_id(PROVIDER, "game", game.game_id, *content, state.get("stats")),
        event_time=received_at,
        season=season_of(game.start),
        home_team=game.home_team,
        away_team=game.away_team,
        start_time=game.start,
        status=game.status,
        **state,
        **game.common,
    )


def parse_scoreboard(body: bytes | str, received_at: datetime) -> Parsed:
    """Every followed game of a scoreboard (one league's, or ``soccer/all``);
    ``received_at`` is the event time: a scoreboard carries no update time."""
    events: list[Event] = []
    skipped: list[Skipped] = []
    for event in _decode(body, "events", list)["events"]:
        item = f"event {event.get('id')}" if isinstance(event, dict) else f"event {event!r}"
        try:
            competition = event["competitions"][0]
            status = competition.get("status") or event["status"]
            uid = event["uid"]
        except (AttributeError, KeyError, IndexError, TypeError) as error:
            skipped.append(Skipped(item, f"malformed event: {error!r}"))
            continue
        game = _game(uid, competition, status, item, skipped)
        if game is None:
            continue
        try:
            game_event = _game_event(game, received_at, skipped)
        except (KeyError, TypeError, ValueError) as error:
            skipped.append(Skipped(item, f"malformed score: {error!r}"))
            continue
        if game_event:
            events.append(game_event)
    return Parsed(events, skipped)


def roster_players(entries: list[dict[str, Any]]) -> list[LineupPlayer]:
    """A soccer summary's ``rosters[team].roster`` (or an NBA box score's athletes) as
    lineup players; players who did not play are left out."""
    return [
        LineupPlayer(
            player_id=entry["athlete"]["id"],
            player_name=entry["athlete"]["displayName"],
            position=(entry.get("position") or entry["athlete"].get("position") or {}).get(
                "abbreviation"
            ),
            starter=bool(entry.get("starter")),
        )
        for entry in entries
        if not entry.get("didNotPlay")
    ]


def _lineup(
    game: _Game, team: str, players: list[LineupPlayer], received_at: datetime, skipped
) -> Event | None:
    if not any(player.starter for player in players):
        return None  # not published yet: an empty or starter-less list confirms nothing
    content = sorted((p.player_id, p.starter) for p in players)
    return build(
        LineupConfirmation,
        f"{game.game_id} {team} lineup",
        skipped,
        event_id=stable_event_id(PROVIDER, "lineup", game.game_id, team, content),
        event_time=received_at,
        team=team,
        players=players,
        **game.common,
    )


def _box_score_numbers(keys: list[str], stats: list[str]) -> dict[str, Any]:
    numbers: dict[str, Any] = {}
    for key, text in zip(keys, stats, strict=True):
        fields = BOX_SCORE_FIELDS.get(key)
        if fields is None:
            continue
        values = text.split("-") if len(fields) == 2 else [text]
        for field, value in zip(fields, values, strict=True):
            numbers[field] = float(value) if field == "minutes" else int(value)
    return numbers


def _box_scores(
    game: _Game, team: str, block: dict[str, Any], received_at: datetime, skipped
) -> list[Event]:
    lines = []
    for athlete in block["athletes"]:
        player = athlete["athlete"]
        numbers = _box_score_numbers(block["keys"], athlete["stats"]) if athlete["stats"] else {}
        dnp_reason = athlete.get("reason") if athlete.get("didNotPlay") else None
        line = build(
            PlayerBoxScore,
            f"{game.game_id} box {player['id']}",
            skipped,
            event_id=stable_event_id(PROVIDER, "box", game.game_id, player["id"], numbers),
            event_time=received_at,
            team=team,
            opponent=game.opponent_of(team),
            player_id=player["id"],
            player_name=player["displayName"],
            position=(player.get("position") or {}).get("abbreviation"),
            starter=bool(athlete.get("starter")),
            dnp_reason=dnp_reason,
            **numbers,
            **game.common,
        )
        if line:
            lines.append(line)
    return lines


def _summary_players(
    game: _Game, summary: dict[str, Any], received_at: datetime, skipped: list[Skipped]
) -> list[Event]:
    events: list[Event] = []
    for roster in summary.get("rosters") or []:
        team = game.team_of(roster["team"])
        lineup = _lineup(game, team, roster_players(roster.get("roster") or []), received_at,
                         skipped)  # fmt: skip
        events.extend([lineup] if lineup else [])
    for team_block in (summary.get("boxscore") or {}).get("players") or []:
        if game.league.sport is not Sport.NBA:
            break  # PlayerBoxScore holds basketball lines only
        team = game.team_of(team_block["team"])
        block = team_block["statistics"][0]
        lineup = _lineup(game, team, roster_players(block["athletes"]), received_at, skipped)
        events.extend([lineup] if lineup else [])
        if game.status is GameStatus.FINAL:  # a line is final only once the game is
            events.extend(_box_scores(game, team, block, received_at, skipped))
    return events


def parse_injuries(injuries: list[dict[str, Any]], league: League) -> Parsed:
    """A summary's ``injuries`` block. Each entry's ``date`` (when ESPN set the status) is
    its event time; no game id, since the list is current at fetch time."""
    events: list[Event] = []
    skipped: list[Skipped] = []
    for team_block in injuries:
        try:
            team = resolve_team(PROVIDER, league.code, team_block["team"]["displayName"])
        except UnknownTeam as error:
            skipped.append(Skipped(f"injuries of {error.name}", str(error), UNKNOWN_TEAM))
            continue
        for entry in team_block.get("injuries", []):
            athlete = entry["athlete"]
            item = f"injury of {athlete.get('displayName')} ({team})"
            status = INJURY_STATUSES.get(entry.get("status"))
            if status is None:
                skipped.append(Skipped(item, f"injury status {entry.get('status')!r} not read"))
                continue
            details = entry.get("details") or {}
            reason = " ".join(filter(None, (details.get("side"), details.get("type")))) or None
            when = provider_time(entry["date"])
            report = build(
                InjuryReport,
                item,
                skipped,
                event_id=stable_event_id(
                    PROVIDER, "injury", league.code, team, athlete["id"], status, when
                ),  # fmt: skip
                event_time=when,
                sport=league.sport,
                league=league.code,
                team=team,
                player_id=athlete["id"],
                player_name=athlete["displayName"],
                status=status,
                reason=reason,
            )
            if report:
                events.append(report)
    return Parsed(events, skipped)


def parse_summary(body: bytes | str, received_at: datetime) -> Parsed:
    """A game summary: the game's state, lineups (starters, once published), injuries and,
    for a final NBA game, its box-score lines. ``received_at`` is the event time of all
    but the injuries."""
    summary = _decode(body, "header", dict)
    skipped: list[Skipped] = []
    header = summary["header"]
    item = f"summary {header.get('id')}"
    try:
        competition = header["competitions"][0]
        game = _game(header["uid"], competition, competition["status"], item, skipped)
    except (KeyError, IndexError, TypeError) as error:
        raise ResponseFormatError(f"summary header unreadable: {error!r}") from None
    if game is None:
        return Parsed([], skipped)
    events: list[Event] = []
    try:
        game_event = _game_event(game, received_at, skipped)
        events.extend([game_event] if game_event else [])
        events.extend(_summary_players(game, summary, received_at, skipped))
    except (KeyError, IndexError, TypeError, ValueError) as error:
        skipped.append(Skipped(item, f"malformed summary: {error!r}"))
    injuries = parse_injuries(summary.get("injuries") or [], game.league)
    return Parsed(events + injuries.events, skipped + injuries.skipped)


def summaries_to_follow(body: bytes | str, now: datetime, lead_seconds: float) -> list[str]:
    """The ESPN event ids of a scoreboard whose summaries are worth polling: games in
    progress, games starting within ``lead_seconds`` (lineups are published about an hour
    before), and games of the last ``RECENT_SECONDS`` that are over (the final box score).
    A scoreboard also lists games long past or far ahead: those are left alone."""
    followed = []
    for event in _decode(body, "events", list)["events"]:
        try:
            competition = event["competitions"][0]
            state = (competition.get("status") or event["status"])["type"]["state"]
            start = provider_time(competition["date"])
            espn_id = str(event["id"])
        except (AttributeError, KeyError, IndexError, TypeError, ValueError):
            continue  # parse_scoreboard reports it
        ahead = (start - now).total_seconds()
        if state == "in" or -RECENT_SECONDS <= ahead <= lead_seconds:
            followed.append(espn_id)
    return followed
