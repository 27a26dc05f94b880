"""One player's box-score line for one game."""

from __future__ import annotations

from pydantic import Field, model_validator

from schemas.base import GameScoped, Name, Text

Count = Field(0, ge=0, le=200)


class PlayerBoxScore(GameScoped):
    kind: str = Field("boxscore", pattern="^boxscore$")
    team: Name = Field(min_length=1, max_length=64)
    opponent: Name | None = Field(None, max_length=64)
    player_id: Name = Field(min_length=1, max_length=64)
    player_name: Name = Field(min_length=1, max_length=128)
    position: Name | None = Field(None, max_length=16)
    starter: bool = False
    dnp_reason: Text | None = Field(None, max_length=256)
    minutes: float = Field(0.0, ge=0.0, le=80.0)
    fgm: int = Count
    fga: int = Count
    fg3m: int = Count
    fg3a: int = Count
    ftm: int = Count
    fta: int = Count
    oreb: int = Count
    dreb: int = Count
    reb: int = Count
    ast: int = Count
    stl: int = Count
    blk: int = Count
    tov: int = Count
    pf: int = Field(0, ge=0, le=6)
    pts: int = Count
    plus_minus: int = Field(0, ge=-100, le=100)

    @property
    def ordering_key(self) -> str:
        return f"{self.game_id}|{self.player_id}"

    @model_validator(mode="after")
    def _consistent(self) -> PlayerBoxScore:
        for made, attempted in (("fgm", "fga"), ("fg3m", "fg3a"), ("ftm", "fta"), ("fg3m", "fgm")):
            if getattr(self, made) > getattr(self, attempted):
                raise ValueError(f"{made} ({getattr(self, made)}) exceeds {attempted}")
        if self.pts != 2 * self.fgm + self.fg3m + self.ftm:
            raise ValueError(
                f"pts {self.pts} != 2*fgm + fg3m + ftm = {2 * self.fgm + self.fg3m + self.ftm}"
            )
        if self.reb != self.oreb + self.dreb:
            raise ValueError(f"reb {self.reb} != oreb + dreb = {self.oreb + self.dreb}")
        return self
