"""An injury report: one player's availability."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas.base import Event


class InjuryStatus(StrEnum):
    OUT = "OUT"
    DOUBTFUL = "DOUBTFUL"
    QUESTIONABLE = "QUESTIONABLE"
    PROBABLE = "PROBABLE"
    AVAILABLE = "AVAILABLE"


class InjuryReport(Event):
    kind: str = Field("injury", pattern="^injury$")
    team: str = Field(min_length=1, max_length=64)
    player_id: str = Field(min_length=1, max_length=64)
    player_name: str = Field(min_length=1, max_length=128)
    status: InjuryStatus
    reason: str | None = Field(None, max_length=256)
    # The game the report is for, when the feed says; otherwise it is about the team's next game.
    game_id: str | None = Field(None, min_length=1, max_length=128)

    @property
    def order_group(self) -> str:
        return f"{self.league}:{self.team}"

    @property
    def ordering_key(self) -> str:
        return f"{self.order_group}|{self.player_id}"
