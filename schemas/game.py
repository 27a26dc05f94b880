"""Game state: scheduled, status/score updates and the final result."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from schemas.base import GameScoped, Name, Sport, as_utc


class GameStatus(StrEnum):
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    FINAL = "final"
    POSTPONED = "postponed"
    CANCELLED = "cancelled"


# The most points one side plausibly scores in a game, per sport: well above the records
# (soccer 13 in the top leagues, NHL 16, NBA 186, NFL 73; the shared data's highest are
# 10, 10, 168 and 62) and far below anything that would swamp a rating.
SCORE_MAX = {Sport.SOCCER: 30, Sport.NHL: 30, Sport.NBA: 250, Sport.NFL: 150}
# Match statistics (shots, corners, fouls, yards...) are counts: at most this many per
# game, under this many names of this length.
STAT_MAX = 10_000.0
STATS_MAX_COUNT = 64
STAT_NAME_MAX_LENGTH = 64
# A fixture is announced, and a result reported, within this distance of the kick-off.
START_MAX_DISTANCE = timedelta(days=2 * 365)

StatName = Annotated[Name, Field(min_length=1, max_length=STAT_NAME_MAX_LENGTH)]
StatValue = Annotated[float, Field(ge=0.0, le=STAT_MAX)]


class GameEvent(GameScoped):
    kind: str = Field("game", pattern="^game$")
    season: Name = Field(min_length=1, max_length=16)
    home_team: Name = Field(min_length=1, max_length=64)
    away_team: Name = Field(min_length=1, max_length=64)
    start_time: datetime
    status: GameStatus
    home_score: int | None = Field(None, ge=0, le=max(SCORE_MAX.values()))
    away_score: int | None = Field(None, ge=0, le=max(SCORE_MAX.values()))
    game_type: Name = Field("regular_season", min_length=1, max_length=32)
    # Match statistics where the feed has them (shots, shots on target, corners...).
    stats: dict[StatName, StatValue] = Field(default_factory=dict, max_length=STATS_MAX_COUNT)

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
            raise ValueError(f"home_team and away_team are the same: {self.home_team!r}")
        has_score = self.home_score is not None and self.away_score is not None
        if self.status in (GameStatus.FINAL, GameStatus.IN_PROGRESS) and not has_score:
            raise ValueError(f"a {self.status.value} game needs home_score and away_score")
        most = SCORE_MAX[self.sport]
        for side in ("home_score", "away_score"):
            score = getattr(self, side)
            if score is not None and score > most:
                raise ValueError(f"{side} {score} is above {most}, the most for {self.sport}")
        if abs(self.start_time - self.event_time) > START_MAX_DISTANCE:
            raise ValueError(
                f"start_time {self.start_time.isoformat()} is more than "
                f"{START_MAX_DISTANCE.days} days from event_time {self.event_time.isoformat()}"
            )
        return self
