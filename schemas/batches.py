"""A Kafka message may carry a batch of events: a clean message holds one league's events
of an ingest batch, a raw one what a producer sent together (a replay window, a poll).

Every message costs each agent reading it a delivery, an ack and a commit, which
dominated the pipeline when each event was a message of its own (about four deliveries
per raw event). The events of a batch are the lines of its value, each one event's JSON
(JSON never holds a raw newline: an encoder escapes it in strings), and their event
times, in milliseconds, are the ``event-times-ms`` header: it marks the message as a
batch, and lets an agent order a clean batch's events without decoding them (on a raw
topic ingest trusts only the times it validates). A message without that header is one
event.

A message may instead be a **watermark**: no events, and the ``complete-through-ms``
header. Its producer says it has sent every event of the message's key (a league) on its
topic with an event time up to that instant, so an agent merging feeds need not wait for
that feed for anything earlier (tables.event_merge). A replay ends each league's feeds
with one; ingest checks a raw one and passes it on to the clean topic after the events
before it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

TIMES_HEADER = "event-times-ms"
WATERMARK_HEADER = "complete-through-ms"
# A batch is cut in messages of at most this many bytes: well under the broker's 1 MiB
# default for a message, so no batch is ever refused as too large.
MAX_BATCH_BYTES = 512 * 1024


class EventBatch(NamedTuple):
    value: bytes
    headers: list[tuple[str, bytes]]
    timestamp: float  # the latest event time (s): what the broker's time index sees


def event_batches(events: Iterable[tuple[bytes, float]]) -> Iterator[EventBatch]:
    """Messages holding ``events`` (their JSON and event time in seconds), in order."""
    lines: list[bytes] = []
    times: list[int] = []
    size = 0
    for value, event_time in events:
        if lines and size + len(value) + 1 > MAX_BATCH_BYTES:
            yield _batch(lines, times)
            lines, times, size = [], [], 0
        lines.append(value)
        times.append(millis(event_time))
        size += len(value) + 1
    if lines:
        yield _batch(lines, times)


def _batch(lines: Sequence[bytes], times: Sequence[int]) -> EventBatch:
    header = ",".join(map(str, times)).encode()
    return EventBatch(b"\n".join(lines), [(TIMES_HEADER, header)], max(times) / 1000)


def watermark_message(through_ms: int) -> EventBatch:
    """A watermark: every event of its key on its topic up to ``through_ms`` (milliseconds
    since the epoch, as ``event_batches`` gives an event time) has been sent before it."""
    return EventBatch(b"", [(WATERMARK_HEADER, str(through_ms).encode())], through_ms / 1000)


def millis(seconds: float) -> int:
    """An event time in milliseconds, as a batch's header and a watermark give it."""
    return round(seconds * 1000)


def watermark_of(headers: Any) -> int | None:
    """A message's watermark in milliseconds, None if it is not one; ValueError when the
    header holds no whole number of milliseconds."""
    header = message_header(headers, WATERMARK_HEADER)
    return None if header is None else parse_watermark(header)


def parse_watermark(header: bytes) -> int:
    """A watermark header's milliseconds; ValueError when it holds no whole number."""
    text = header.decode("ascii", "replace").strip()
    if not text.isdigit():
        raise ValueError(
            f"the {WATERMARK_HEADER} header must be a whole number of milliseconds since "
            f"the epoch, got {text[:40]!r}"
        )
    return int(text)


def batch_items(value: bytes | None, headers: Any, timestamp: float) -> list[tuple[bytes, float]]:
    """The events of a message (JSON, event time in seconds); a message without the
    header is one event at the message's timestamp, a watermark none."""
    if message_header(headers, WATERMARK_HEADER) is not None:
        return []
    times = message_header(headers, TIMES_HEADER)
    if times is None:
        return [(value or b"", timestamp)]
    lines = (value or b"").split(b"\n")
    stamps = [int(ms) / 1000 for ms in times.split(b",")]
    if len(lines) != len(stamps):
        raise ValueError(
            f"a batch of {len(lines)} events has {len(stamps)} event times in its "
            f"{TIMES_HEADER} header"
        )
    return list(zip(lines, stamps, strict=True))


def message_header(headers: Any, name: str) -> bytes | None:
    """A header of a consumed message (faust gives a mapping, aiokafka a list of pairs)."""
    if not headers:
        return None
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return next((value for key, value in pairs if key == name), None)
