"""Change detection: of freshly parsed events, only those that differ from the last poll.

Pure: the caller keeps the snapshot (identity -> fingerprint) between polls, and stores it
wherever it likes; ``detect_changes`` returns the changed events and the next snapshot.
One event per changed price, line, game state, lineup or box-score line; for injuries only
a change of a player's status counts (a new reason or date alone is not news).

Event ids are derived from content (``stable_event_id``), so a restart that re-parses the
same response produces the same ids, and the ingest dedupe drops anything re-sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import NamedTuple

import orjson

from schemas.base import Event
from schemas.injury import InjuryReport

Snapshot = dict[str, str]

DIGEST_BYTES = 16
# What an event's fingerprint leaves out: its id and time change with every poll.
VOLATILE_FIELDS = {"event_id", "event_time"}


class Changes(NamedTuple):
    events: list[Event]
    snapshot: Snapshot


def _digest(*parts: object) -> str:
    payload = orjson.dumps([str(part) if part is not None else None for part in parts])
    return hashlib.blake2b(payload, digest_size=DIGEST_BYTES).hexdigest()


def stable_event_id(provider: str, kind: str, *content: object) -> str:
    """``provider:kind:<digest of content>``: the same content gives the same id."""
    return f"{provider}:{kind}:{_digest(*content)}"


def identity(event: Event) -> str:
    """What one snapshot entry follows: one selection of one book, one game's state, one
    player's status, one team's lineup..."""
    return f"{event.kind}|{event.partition_key}|{event.ordering_key}"


def fingerprint(event: Event) -> str:
    if isinstance(event, InjuryReport):
        return _digest(event.status.value)
    return _digest(event.model_dump_json(exclude=VOLATILE_FIELDS, exclude_none=True))


def detect_changes(previous: Snapshot, events: Iterable[Event]) -> Changes:
    """The events whose fingerprint differs from ``previous`` (or that are new), in order,
    and the snapshot to keep for the next poll (``previous`` is left untouched). Entries
    not seen in this poll are kept: a feed that leaves a game out has not changed it."""
    snapshot = dict(previous)
    changed = []
    for event in events:
        key, value = identity(event), fingerprint(event)
        if snapshot.get(key) != value:
            snapshot[key] = value
            changed.append(event)
    return Changes(changed, snapshot)
