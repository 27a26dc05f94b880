"""What every parser shares: its result, provider times, and one identity per game.

A game seen by ESPN and by The Odds API gets the same ``game_id``, built from what both
know: the league, the resolved home and away teams, and the start. Soccer ids are exactly
the replay's (``E0-2021-22-man-city-brighton``: a league pairing is played once a season);
NBA, NFL and NHL teams meet at home several times a season, so their ids carry the game's
date in US Eastern time (``nba-20250106-min-lac``). Eastern, not UTC: a 7 pm tip-off is
midnight UTC, and The Odds API moves an in-play event's start to the real one (23:08:38Z).
The replay's US ids are ESPN event ids (``nba-401307882``), which The Odds API cannot know.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from schemas.base import Event, Sport
from schemas.feeds import describe_validation_error
from streamapp.connectors.leagues import League
from streamapp.replay.football_data import slug
from streamapp.replay.sources import season_label

log = logging.getLogger(__name__)

US_EASTERN = ZoneInfo("America/New_York")
# Every followed league starts its season in the second half of the year (soccer in
# August, the NFL in September, the NBA and NHL in October) and ends it before July.
SEASON_START_MONTH = 7


NOT_FOLLOWED = "not_followed"
UNKNOWN_TEAM = "unknown_team"


class Skipped(NamedTuple):
    """A part of a response left out, and why (for the dead letters and the logs)."""

    item: str
    reason: str
    # ``not_followed`` is left out by design (another league, a market not read, a knockout
    # slot whose teams are not known yet); anything else is a fault for the dead letters.
    error_type: str = "malformed"


class Parsed(NamedTuple):
    events: list[Event]
    skipped: list[Skipped]


def provider_time(text: str) -> datetime:
    """An ISO-8601 UTC time as providers write it: "2024-03-26T23:00:00Z" (The Odds API),
    "2022-09-25T17:00Z" (ESPN, minute precision)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return moment.astimezone(UTC)


def season_of(start: datetime) -> str:
    """The season label the replay uses ("2025-26") of a game starting at ``start``."""
    end_year = start.year + 1 if start.month >= SEASON_START_MONTH else start.year
    return season_label(end_year)


def game_date(start: datetime) -> date:
    return start.astimezone(US_EASTERN).date()


def game_id(league: League, start: datetime, home_team: str, away_team: str) -> str:
    """One id per game whichever provider saw it; teams are the history's names."""
    if league.sport is Sport.SOCCER:
        return f"{league.code}-{season_of(start)}-{slug(home_team)}-{slug(away_team)}"
    day = game_date(start).strftime("%Y%m%d")
    return f"{league.sport.value}-{day}-{slug(home_team)}-{slug(away_team)}"


def build(model: type[Event], item: str, skipped: list[Skipped], **fields) -> Event | None:
    """The validated event, or None with the validation's reason added to ``skipped``."""
    try:
        return model(**fields)
    except ValidationError as error:
        reason, _ = describe_validation_error(error)
        skipped.append(Skipped(item, reason, "invalid_value"))
        log.debug("skipped %s: %s", item, reason)
        return None
