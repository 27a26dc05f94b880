"""Game state: scheduled, status/score updates and the final result."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field, field_validator, model_validator

from schemas.base import GameScoped, as_utc


class GameStatus(StrEnum):
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    FINAL = "final"
    POSTPONED = "postponed"
    CANCELLED = "cancelled"


class GameEvent(GameScoped):
    kind: str = Field("game", pattern="^game$")
    season: str = Field(min_length=1, max_length=16)
    home_team: str = Field(min_length=1, max_length=64)
    away_team: str = Field(min_length=1, max_length=64)
    start_time: datetime
    status: GameStatus
    home_score: int | None = Field(None, ge=0)
    away_score: int | None = Field(None, ge=0)
    game_type: str = "regular_season"
    # Match statistics where the feed has them (shots, shots on target, corners...).
    stats: dict[str, float] = Field(default_factory=dict)

    @property
    def ordering_key(self) -> str:
        return self.game_id

    @field_validator("start_time", mode="after")
    @classmethod
    def _start_utc(cls, value: datetime) -> datetime:
        return as_utc(value)

    @model_validator(mode="after")
    def _consistent(self) -> GameEvent:
        if self.home_team == self.away_team:
            raise ValueError(f"home and away team are the same: {self.home_team!r}")
        has_score = self.home_score is not None and self.away_score is not None
        if self.status in (GameStatus.FINAL, GameStatus.IN_PROGRESS) and not has_score:
            raise ValueError(f"a {self.status.value} game needs home_score and away_score")
        return self
