"""What every event shares: a stable id for dedupe, an event time, a sport.

Every value a feed sends is bounded here or in its model, so whatever passes validation can
be stored, keyed and computed with: numbers are finite (``allow_inf_nan=False``) and within
a plausible range for their field, strings are free of control characters and of bounded
length, and ids are short enough that every id derived from them fits (see
``EVENT_ID_MAX_LENGTH``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator


class Sport(StrEnum):
    SOCCER = "soccer"
    NBA = "nba"
    NFL = "nfl"
    NHL = "nhl"


# The ids of feed events are bounded so that every id derived from them fits in an output's
# event id (OUTPUT_ID_MAX_LENGTH). The longest derivation is the settlement of a prediction,
# "settle:{game_id}:{model}:{version}:{event_id}" (tables/league_ratings.py), with a model
# name of at most 12 characters and a version of at most 32 (Prediction.model_version):
# 7 + 80 + 1 + 12 + 1 + 32 + 1 + 120 = 254. The real data's longest are 45 and 76.
GAME_ID_MAX_LENGTH = 80
EVENT_ID_MAX_LENGTH = 120
OUTPUT_ID_MAX_LENGTH = 256

# C0 and C1 control characters, DEL and lone surrogates: NUL breaks PostgreSQL text, the
# others break keys, logs and terminals, and a lone surrogate cannot be encoded as UTF-8.
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# Free text (an injury's reason) may also hold tabs and line breaks.
CONTROL_CHARACTER_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _refuse(pattern: re.Pattern[str], value: str) -> str:
    found = pattern.search(value)
    if found:
        raise ValueError(
            f"contains the control character U+{ord(found.group()):04X} at {found.start()}"
        )
    return value


def no_control_characters(value: str) -> str:
    return _refuse(CONTROL_CHARACTER, value)


def no_control_characters_in_text(value: str) -> str:
    return _refuse(CONTROL_CHARACTER_IN_TEXT, value)


# Ids, names, keys: no control character at all. Lengths are set per field with Field().
Name = Annotated[str, AfterValidator(no_control_characters)]
Text = Annotated[str, AfterValidator(no_control_characters_in_text)]


def as_utc(value: datetime) -> datetime:
    """Naive times are taken as UTC; aware ones are converted to it.

    A time at the limits of the calendar may have no UTC equivalent
    (``9999-12-31T23:59:59-05:00``): that is a ValueError, so validation reports the field.
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{value.isoformat()} is outside the calendar once in UTC") from None


def league_key(sport: Sport | str, league: str) -> str:
    return f"{Sport(sport).value}:{league}"


def no_key_separators(league: str) -> str:
    # The league is the Kafka key ("sport:league") and the prefix of every table key
    # ("sport:league|team"): a separator inside it would mix up two leagues' keys.
    if ":" in league or "|" in league:
        raise ValueError("must not contain ':' or '|'")
    return league


class Event(BaseModel):
    """Base of every feed event and output."""

    model_config = ConfigDict(
        frozen=True, extra="ignore", use_enum_values=False, allow_inf_nan=False
    )

    event_id: Name = Field(min_length=1, max_length=EVENT_ID_MAX_LENGTH)
    event_time: datetime
    sport: Sport
    league: Annotated[Name, AfterValidator(no_key_separators)] = Field(min_length=1, max_length=32)

    @field_validator("event_time", mode="after")
    @classmethod
    def _event_time_utc(cls, value: datetime) -> datetime:
        return as_utc(value)

    @property
    def partition_key(self) -> str:
        """The Kafka key of every topic: the league ("sport:league").

        A team's form, ratings and players span many games, so all of a league's events
        share one partition: its state lives in one place, and events reach it in the order
        the feed sent them (see README, "Keys and partitions").
        """
        return league_key(self.sport, self.league)

    @property
    def order_group(self) -> str:
        """The unit whose dedupe/ordering state is stored together (a game, or a team)."""
        raise NotImplementedError

    @property
    def ordering_key(self) -> str:
        """Events with the same ordering key must arrive in event-time order."""
        raise NotImplementedError

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


class GameScoped(Event):
    """An event about one game."""

    game_id: Name = Field(min_length=1, max_length=GAME_ID_MAX_LENGTH)

    @property
    def order_group(self) -> str:
        return self.game_id
