"""The settlement of one prediction or alert once its game is final."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas.base import OUTPUT_ID_MAX_LENGTH, GameScoped, Name


class Settled(StrEnum):
    PREDICTION = "prediction"
    ALERT = "alert"


class Settlement(GameScoped):
    kind: str = Field("settlement", pattern="^settlement$")
    # Derived from a feed event's ids, so longer than they may be (schemas/base.py).
    event_id: Name = Field(min_length=1, max_length=OUTPUT_ID_MAX_LENGTH)
    settled: Settled
    ref_id: str  # the event id of the prediction or alert settled
    model: str
    model_version: str
    brier: float | None = None
    log_loss: float | None = None
    # Alerts: profit of a one-unit stake at the price taken, and the closing-line value
    # against the fair closing price and against the same bookmaker's closing price.
    profit: float | None = None
    clv: float | None = None
    clv_same_book: float | None = None
