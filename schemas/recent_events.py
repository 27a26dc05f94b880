"""The events this process wrote or read last, kept by their JSON.

A clean event is read by every agent of its topic (book-odds, predict-games, a sink),
nearly always in the worker whose ingest wrote it (the topics are co-partitioned), and a
prediction by its sink in the worker that made it: decoding the same JSON again in each
was a tenth of a replaying worker's time. The object written, or the first one decoded,
is handed to every later reader. Events are frozen and nothing changes what they hold,
so they can be shared.
"""

from __future__ import annotations

from collections import OrderedDict

# Written and read within a few batches of each other; an event read later is decoded again.
RECENT_EVENTS_KEPT = 32_768


class RecentEvents:
    """A bounded map from an event's JSON to the event: the oldest written go first."""

    def __init__(self, kept: int = RECENT_EVENTS_KEPT) -> None:
        self._kept = kept
        self._by_json: OrderedDict[bytes, object] = OrderedDict()

    def get(self, data: bytes) -> object | None:
        return self._by_json.get(data)

    def remember(self, data: bytes, event: object) -> None:
        self._by_json[data] = event
        if len(self._by_json) > self._kept:
            self._by_json.popitem(last=False)

    def clear(self) -> None:
        self._by_json.clear()

    def __len__(self) -> int:
        return len(self._by_json)
