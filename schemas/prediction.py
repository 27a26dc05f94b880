"""A pregame win probability for one game, from one model version."""

from __future__ import annotations

import math

from pydantic import Field, model_validator

from schemas.base import OUTPUT_ID_MAX_LENGTH, GameScoped, Name

PROBABILITY_SUM_TOLERANCE = 1e-6


class Prediction(GameScoped):
    kind: str = Field("prediction", pattern="^prediction$")
    # Derived from a feed event's ids, so longer than they may be (schemas/base.py).
    event_id: Name = Field(min_length=1, max_length=OUTPUT_ID_MAX_LENGTH)
    model: str = Field(min_length=1, max_length=64)
    model_version: str = Field(min_length=1, max_length=32)
    home_team: str
    away_team: str
    start_time: str
    p_home: float = Field(ge=0.0, le=1.0)
    p_draw: float | None = Field(None, ge=0.0, le=1.0)
    p_away: float = Field(ge=0.0, le=1.0)
    # Spread and total probabilities ("spread|-0.5|home", "total|2.5|over"; pushes left out).
    lines: dict[str, float] = Field(default_factory=dict)
    # The inputs the probability came from (ratings, rest days...), for audit.
    inputs: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _sums_to_one(self) -> Prediction:
        total = self.p_home + self.p_away + (self.p_draw or 0.0)
        if not math.isclose(total, 1.0, abs_tol=PROBABILITY_SUM_TOLERANCE):
            raise ValueError(f"probabilities sum to {total:.6f}, not 1")
        return self
