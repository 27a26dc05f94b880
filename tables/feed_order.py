"""Dedupe and ordering of feed events: each ordering key remembers its latest event time
and its most recent event ids, so a re-sent event is processed once and an older event that
arrives after a newer one is recognised as out of order."""

from __future__ import annotations

from enum import Enum

from schemas.base import Event

RECENT_IDS = 8


class Verdict(Enum):
    ACCEPT = "accept"
    DUPLICATE = "duplicate"
    OUT_OF_ORDER = "out_of_order"


def event_millis(event: Event) -> int:
    return int(event.event_time.timestamp() * 1000)


def admit(state: list | None, event: Event) -> tuple[Verdict, list | None]:
    """Decide on ``event`` given its key's state ``[latest_millis, recent_ids]``.

    Returns the verdict and the state to store (None when nothing changes).
    """
    millis = event_millis(event)
    if state is None:
        return Verdict.ACCEPT, [millis, [event.event_id]]
    latest, recent = state
    if event.event_id in recent:
        return Verdict.DUPLICATE, None
    if millis < latest:
        return Verdict.OUT_OF_ORDER, None
    return Verdict.ACCEPT, [millis, [*recent[-(RECENT_IDS - 1) :], event.event_id]]
