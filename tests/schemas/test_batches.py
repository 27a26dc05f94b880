from __future__ import annotations

import orjson
import pytest

from schemas import OddsQuote
from schemas.batches import (
    MAX_BATCH_BYTES,
    TIMES_HEADER,
    WATERMARK_HEADER,
    batch_items,
    event_batches,
    millis,
    watermark_message,
    watermark_of,
)
from tests.schemas.examples import QUOTE


def quote(n: int) -> bytes:
    return OddsQuote.model_validate({**QUOTE, "event_id": f"q{n}"}).to_json()


def test_a_batch_reads_back_as_its_events_and_event_times_in_order():
    events = [(quote(n), 1_629_645_000.123 + n) for n in range(3)]
    [batch] = event_batches(events)
    assert batch.timestamp == pytest.approx(1_629_645_002.123)
    assert batch_items(batch.value, batch.headers, 0.0) == [
        (value, pytest.approx(at, abs=1e-6)) for value, at in events
    ]
    assert [OddsQuote.from_clean_json(v).event_id for v, _ in batch_items(
        batch.value, dict(batch.headers), 0.0
    )] == ["q0", "q1", "q2"]  # fmt: skip


def test_a_newline_in_a_string_stays_inside_its_event():
    # JSON escapes a newline in a string (names refuse control characters anyway; free
    # text such as an injury's detail may hold one)
    tricky = orjson.dumps({"detail": "out\nfor the season"})
    [batch] = event_batches([(tricky, 1.0), (quote(1), 2.0)])
    [(first, _), _] = batch_items(batch.value, batch.headers, 0.0)
    assert orjson.loads(first) == {"detail": "out\nfor the season"}


def test_a_large_batch_is_cut_into_messages_under_the_limit():
    events = [(quote(n), float(n)) for n in range(5000)]
    batches = list(event_batches(events))
    assert len(batches) > 1
    assert all(len(b.value) <= MAX_BATCH_BYTES for b in batches)
    read = [item for b in batches for item in batch_items(b.value, b.headers, 0.0)]
    assert [v for v, _ in read] == [v for v, _ in events]


def test_a_message_without_event_times_is_one_event_at_its_timestamp():
    assert batch_items(b'{"a":1}', [("other", b"x")], 12.5) == [(b'{"a":1}', 12.5)]


def test_a_batch_whose_times_do_not_match_its_events_is_refused():
    with pytest.raises(ValueError, match="2 events has 1 event times"):
        batch_items(b"{}\n{}", [(TIMES_HEADER, b"1000")], 0.0)


def test_a_watermark_carries_no_events_and_its_instant_to_the_millisecond():
    mark = watermark_message(millis(1_629_645_000.1231))
    assert mark.value == b"" and mark.timestamp == pytest.approx(1_629_645_000.123)
    assert watermark_of(mark.headers) == 1_629_645_000_123
    assert watermark_of(dict(mark.headers)) == 1_629_645_000_123
    assert batch_items(mark.value, mark.headers, 5.0) == []  # no event in it
    assert watermark_of([(TIMES_HEADER, b"1")]) is None  # an events batch is no watermark


@pytest.mark.parametrize("header", [b"", b"-5", b"12.5", b"soon", "\u00b2".encode()])
def test_a_watermark_header_that_is_not_whole_milliseconds_is_refused(header):
    with pytest.raises(ValueError, match="whole number of milliseconds"):
        watermark_of([(WATERMARK_HEADER, header)])
