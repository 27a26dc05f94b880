"""What every event shares: a stable id for dedupe, an event time, a sport."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Sport(StrEnum):
    SOCCER = "soccer"
    NBA = "nba"
    NFL = "nfl"
    NHL = "nhl"


def as_utc(value: datetime) -> datetime:
    """Naive times are taken as UTC; aware ones are converted to it."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def league_key(sport: Sport | str, league: str) -> str:
    return f"{Sport(sport).value}:{league}"


class Event(BaseModel):
    """Base of every feed event and output."""

    model_config = ConfigDict(frozen=True, extra="ignore", use_enum_values=False)

    event_id: str = Field(min_length=1, max_length=256)
    event_time: datetime
    sport: Sport
    league: str = Field(min_length=1, max_length=32)

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

    game_id: str = Field(min_length=1, max_length=128)

    @property
    def order_group(self) -> str:
        return self.game_id
