"""Table access for events taken in batches.

Faust tables read and write the RocksDB partition (and changelog partition) of the event in
the ``current_event`` context variable. In a batch from ``stream.take_events`` that is the
last event buffered, not the one a key belongs to, so each key's access runs with its own
event made current. Only the context variable is set: ``Stream.current_event`` belongs to
the take buffer, which pairs it with the next value it buffers.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import faust
from faust.streams import _current_event


@contextmanager
def current_event(event: faust.types.EventT) -> Iterator[None]:
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)
