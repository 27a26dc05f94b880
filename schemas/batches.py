"""Clean messages carry a batch of events: one message per league and ingest batch.

Every clean message costs each agent reading it a delivery, an ack and a commit, which
dominated the pipeline when each event was a message of its own (about four deliveries
per raw event). The events of one message are the lines of its value, each exactly the
JSON ``Event.to_json`` wrote (JSON never holds a raw newline: pydantic escapes it in
strings), and their event times, in milliseconds, are the ``event-times-ms`` header, so
an agent can order events without decoding them. A message without that header holds
one event (what the tests and older producers send).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

TIMES_HEADER = "event-times-ms"
# A batch is cut in messages of at most this many bytes: well under the broker's 1 MiB
# default for a message, so no batch is ever refused as too large.
MAX_BATCH_BYTES = 512 * 1024


class CleanBatch(NamedTuple):
    value: bytes
    headers: list[tuple[str, bytes]]
    timestamp: float  # the latest event time (s): what the broker's time index sees


def clean_batches(events: Iterable[tuple[bytes, float]]) -> Iterator[CleanBatch]:
    """Messages holding ``events`` (their JSON and event time in seconds), in order."""
    lines: list[bytes] = []
    times: list[int] = []
    size = 0
    for value, event_time in events:
        if lines and size + len(value) + 1 > MAX_BATCH_BYTES:
            yield _batch(lines, times)
            lines, times, size = [], [], 0
        lines.append(value)
        times.append(round(event_time * 1000))
        size += len(value) + 1
    if lines:
        yield _batch(lines, times)


def _batch(lines: Sequence[bytes], times: Sequence[int]) -> CleanBatch:
    header = ",".join(map(str, times)).encode()
    return CleanBatch(b"\n".join(lines), [(TIMES_HEADER, header)], max(times) / 1000)


def batch_items(value: bytes | None, headers: Any, timestamp: float) -> list[tuple[bytes, float]]:
    """The events of a message (JSON, event time in seconds); a message without the
    header is one event at the message's timestamp."""
    times = message_header(headers, TIMES_HEADER)
    if times is None:
        return [(value or b"", timestamp)]
    lines = (value or b"").split(b"\n")
    stamps = [int(ms) / 1000 for ms in times.split(b",")]
    if len(lines) != len(stamps):
        raise ValueError(
            f"a clean batch of {len(lines)} events has {len(stamps)} event times in its "
            f"{TIMES_HEADER} header"
        )
    return list(zip(lines, stamps, strict=True))


def message_header(headers: Any, name: str) -> bytes | None:
    """A header of a consumed message (faust gives a mapping, aiokafka a list of pairs)."""
    if not headers:
        return None
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return next((value for key, value in pairs if key == name), None)
