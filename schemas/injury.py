"""An injury report: one player's availability."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas.base import GAME_ID_MAX_LENGTH, Event, Name, Text


class InjuryStatus(StrEnum):
    OUT = "OUT"
    DOUBTFUL = "DOUBTFUL"
    QUESTIONABLE = "QUESTIONABLE"
    PROBABLE = "PROBABLE"
    AVAILABLE = "AVAILABLE"


class InjuryReport(Event):
    kind: str = Field("injury", pattern="^injury$")
    team: Name = Field(min_length=1, max_length=64)
    player_id: Name = Field(min_length=1, max_length=64)
    player_name: Name = Field(min_length=1, max_length=128)
    status: InjuryStatus
    reason: Text | None = Field(None, max_length=256)
    # The game the report is for, when the feed says; otherwise it is about the team's next game.
    game_id: Name | None = Field(None, min_length=1, max_length=GAME_ID_MAX_LENGTH)

    @property
    def order_group(self) -> str:
        return f"{self.league}:{self.team}"

    @property
    def ordering_key(self) -> str:
        return f"{self.order_group}|{self.player_id}"
