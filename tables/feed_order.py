"""Dedupe and ordering of feed events, per game.

A game's state maps each ordering key (a game's state, one bookmaker's selection, one
player's line...) to its latest event time and most recent event ids, so a re-sent event is
processed once and an older event arriving after a newer one is recognised as out of order.
The state is keyed by the game id — the raw messages' key — so it lives on the partition the
game's messages arrive on, and a batch of a game's events costs one table write.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

from schemas.base import Event

RECENT_IDS = 8

# ordering key -> [latest event millis, recent event ids]
GameOrder = dict[str, list]


class Verdict(Enum):
    ACCEPT = "accept"
    DUPLICATE = "duplicate"
    OUT_OF_ORDER = "out_of_order"


def event_millis(event: Event) -> int:
    return int(event.event_time.timestamp() * 1000)


def admit(state: list | None, event: Event) -> tuple[Verdict, list | None]:
    """Decide on ``event`` given its ordering key's state ``[latest_millis, recent_ids]``.

    Returns the verdict and the key's new state (None when nothing changes).
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


def admit_game_events(
    state: GameOrder | None, events: Sequence[Event]
) -> tuple[list[Verdict], GameOrder | None]:
    """Verdicts for one game's events in arrival order, and the game's state to store
    (None when no event was accepted, so nothing needs writing)."""
    state = dict(state or {})
    verdicts = []
    changed = False
    for event in events:
        key = event.ordering_key
        verdict, new = admit(state.get(key), event)
        verdicts.append(verdict)
        if new is not None:
            state[key] = new
            changed = True
    return verdicts, state if changed else None
