"""The raw feeds, their models, and turning raw bytes into a validated event or a reason."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from schemas.base import Event
from schemas.boxscore import PlayerBoxScore
from schemas.game import GameEvent
from schemas.injury import InjuryReport
from schemas.lineup import LineupConfirmation
from schemas.odds import OddsQuote


@dataclass(frozen=True)
class Feed:
    name: str
    model: type[Event]

    @property
    def raw_topic(self) -> str:
        return f"raw.{self.name}"

    @property
    def clean_topic(self) -> str:
        return f"clean.{self.name}"


FEEDS: dict[str, Feed] = {
    feed.name: feed
    for feed in (
        Feed("games", GameEvent),
        Feed("odds", OddsQuote),
        Feed("injuries", InjuryReport),
        Feed("lineups", LineupConfirmation),
        Feed("boxscores", PlayerBoxScore),
    )
}

MAX_REASON_ERRORS = 3


class InvalidEvent(ValueError):
    """Raw bytes that are not a valid event; ``reason`` says why in one line."""

    def __init__(self, reason: str, error_type: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error_type = error_type


def describe_validation_error(error: ValidationError) -> tuple[str, str]:
    """A one-line reason naming the fields at fault, and a short error type."""
    details = error.errors(include_url=False, include_input=False)
    if any(d["type"] == "json_invalid" for d in details):
        message = next(d["msg"] for d in details if d["type"] == "json_invalid")
        return f"not valid JSON: {message}", "malformed_json"
    if any(d["type"] == "model_type" for d in details):
        return "not a JSON object", "malformed_json"
    parts = []
    for detail in details[:MAX_REASON_ERRORS]:
        where = ".".join(str(p) for p in detail["loc"]) or "event"
        message = detail["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    if len(details) > MAX_REASON_ERRORS:
        parts.append(f"and {len(details) - MAX_REASON_ERRORS} more")
    kinds = {d["type"] for d in details}
    error_type = "missing_field" if kinds == {"missing"} else "invalid_value"
    return "; ".join(parts), error_type


def parse_feed_event(feed: Feed, payload: bytes | None) -> Event:
    """Validate one raw message of ``feed``; raise InvalidEvent with the reason otherwise."""
    if not payload:
        raise InvalidEvent("empty message", "malformed_json")
    try:
        return feed.model.model_validate_json(payload)
    except ValidationError as error:
        raise InvalidEvent(*describe_validation_error(error)) from error
