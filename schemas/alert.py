"""An alert: a value bet, a line move / steam, or an injury impact."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas.base import OUTPUT_ID_MAX_LENGTH, GameScoped, Name


class AlertKind(StrEnum):
    VALUE = "value"
    STEAM = "steam"
    INJURY_IMPACT = "injury_impact"


class Alert(GameScoped):
    kind: str = Field("alert", pattern="^alert$")
    # Derived from a feed event's ids, so longer than they may be (schemas/base.py).
    event_id: Name = Field(min_length=1, max_length=OUTPUT_ID_MAX_LENGTH)
    alert_kind: AlertKind
    market: str
    selection: str
    line: float | None = None
    bookmaker: str | None = None
    price_decimal: float | None = Field(None, gt=1.0)
    model_probability: float | None = Field(None, ge=0.0, le=1.0)
    market_probability: float | None = Field(None, ge=0.0, le=1.0)  # fair consensus
    edge: float | None = None  # expected value per unit staked
    stake_fraction: float | None = Field(None, ge=0.0, le=1.0)
    model_version: str
    detail: str = ""
