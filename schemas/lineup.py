"""A confirmed (or projected) lineup of one team for one game."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.base import GameScoped, Name


class LineupPlayer(BaseModel):
    model_config = ConfigDict(frozen=True)

    player_id: Name = Field(min_length=1, max_length=64)
    player_name: Name = Field(min_length=1, max_length=128)
    position: Name | None = Field(None, max_length=16)
    starter: bool = True


class LineupConfirmation(GameScoped):
    kind: str = Field("lineup", pattern="^lineup$")
    team: Name = Field(min_length=1, max_length=64)
    confirmed: bool = True
    players: list[LineupPlayer] = Field(min_length=1, max_length=60)

    @property
    def ordering_key(self) -> str:
        return f"{self.game_id}|{self.team}"

    @model_validator(mode="after")
    def _unique_players(self) -> LineupConfirmation:
        ids = [p.player_id for p in self.players]
        if len(ids) != len(set(ids)):
            raise ValueError("players list the same player twice")
        return self
