"""The raw feeds, their models, and turning raw bytes into a validated event or a reason."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError

from schemas.base import CONTROL_CHARACTER, Event
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

# Before any season we hold (football-data.co.uk starts in 1993): an older time is a typo.
EARLIEST_EVENT_TIME = datetime(1990, 1, 1, tzinfo=UTC)
# Well under the broker's 1 h (below), leaving the rest for clock skew.
MAX_AHEAD_SECONDS = 15 * 60.0


@dataclass(frozen=True)
class TimeWindow:
    """Where a feed event's ``event_time`` may lie: from ``earliest`` up to
    ``max_ahead_seconds`` after now.

    Why an upper bound: the clean topic's message timestamp is the event time, and a Kafka
    4.0 broker refuses a timestamp more than ``log.message.timestamp.after.max.ms`` (1 h by
    default) ahead of its own clock, so an event further ahead could never be written. It
    is refused at validation instead, as ``invalid_value``, and can be replayed from the
    dead-letter topic once its time has come. Keep ``max_ahead_seconds`` below the broker's
    setting, with room for the skew between the feed's, this worker's and the broker's
    clocks. A game's ``start_time`` must also lie within two years of its event time
    (``schemas.game.START_MAX_DISTANCE``), whatever the window.
    """

    earliest: datetime = EARLIEST_EVENT_TIME
    max_ahead_seconds: float = MAX_AHEAD_SECONDS

    def __post_init__(self) -> None:
        if self.earliest.tzinfo is None:
            raise ValueError(f"earliest needs a time zone, got {self.earliest.isoformat()}")
        if not (math.isfinite(self.max_ahead_seconds) and self.max_ahead_seconds >= 0):
            raise ValueError(f"max_ahead_seconds must be >= 0, got {self.max_ahead_seconds}")

    def refusal(self, moment: datetime, now: float) -> str | None:
        """Why ``moment`` lies outside the window at ``now`` (seconds since the epoch), or
        None when it lies inside."""
        if moment < self.earliest:
            return f"{moment.isoformat()} is before {self.earliest.isoformat()}"
        if moment.timestamp() > now + self.max_ahead_seconds:
            return (
                f"{moment.isoformat()} is more than {self.max_ahead_seconds:g} s ahead of "
                f"now ({datetime.fromtimestamp(now, UTC).isoformat(timespec='seconds')})"
            )
        return None


DEFAULT_WINDOW = TimeWindow()
MAX_REASON_ERRORS = 3
MAX_REASON_LENGTH = 1000
MAX_LOCATION_PART_LENGTH = 40


class InvalidEvent(ValueError):
    """Raw bytes that are not a valid event; ``reason`` says why in one line."""

    def __init__(self, reason: str, error_type: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error_type = error_type


def printable(text: str, limit: int) -> str:
    """``text`` with control characters escaped and cut to ``limit`` characters: a reason is
    stored in PostgreSQL (no NUL) and logged, and may quote a hostile key."""
    text = CONTROL_CHARACTER.sub(lambda m: m.group().encode("unicode_escape").decode(), text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_validation_error(error: ValidationError) -> tuple[str, str]:
    """A one-line reason naming the fields at fault, and its error type: ``malformed_json``
    (not JSON, or not an object), ``missing_field`` (only required fields missing) or
    ``invalid_value`` (everything else)."""
    details = error.errors(include_url=False, include_input=False)
    if any(d["type"] == "json_invalid" for d in details):
        message = next(d["msg"] for d in details if d["type"] == "json_invalid")
        return printable(f"not valid JSON: {message}", MAX_REASON_LENGTH), "malformed_json"
    if any(d["type"] == "model_type" and not d["loc"] for d in details):
        return "not a JSON object", "malformed_json"
    parts = []
    for detail in details[:MAX_REASON_ERRORS]:
        where = ".".join(printable(str(p), MAX_LOCATION_PART_LENGTH) for p in detail["loc"])
        message = detail["msg"].removeprefix("Value error, ")
        parts.append(f"{where or 'event'}: {message}")
    if len(details) > MAX_REASON_ERRORS:
        parts.append(f"and {len(details) - MAX_REASON_ERRORS} more")
    kinds = {d["type"] for d in details}
    error_type = "missing_field" if kinds == {"missing"} else "invalid_value"
    return printable("; ".join(parts), MAX_REASON_LENGTH), error_type


def parse_feed_event(
    feed: Feed,
    payload: bytes | None,
    window: TimeWindow | None = None,
    now: float | None = None,
) -> Event:
    """Validate one raw message of ``feed``, with its event time inside ``window`` (the
    default TimeWindow unless given) at ``now`` (seconds since the epoch, the clock unless
    given); raise InvalidEvent with the reason otherwise."""
    if not payload:
        raise InvalidEvent("empty message", "malformed_json")
    try:
        event = feed.model.model_validate_json(payload)
    except ValidationError as error:
        raise InvalidEvent(*describe_validation_error(error)) from error
    refusal = (window or DEFAULT_WINDOW).refusal(
        event.event_time, time.time() if now is None else now
    )
    if refusal:
        raise InvalidEvent(f"event_time: {refusal}", "invalid_value")
    return event
