"""The live benchmark's matching: an update's latency is that of its first output, split
into the hops between the broker's and this reader's marks."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from bench.live_latency import LiveLatency, Seen, _match, late_wakeups

SENT = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
AT = SENT.timestamp()


def prediction(event_id: str) -> dict:
    return {"event_time": SENT.isoformat(), "kind": "prediction", "event_id": event_id}


def test_an_updates_first_output_is_split_into_its_hops_from_its_last_quote():
    seen = Seen("raw", "clean")
    seen.on_broker = {"q1": AT + 0.001, "q2": AT + 0.003}
    seen.cleaned = {"q1": AT + 0.010, "q2": AT + 0.020}
    received = [
        (AT + 0.070, prediction("g:market-aware:v:q2"), AT + 0.066),  # a later one
        (AT + 0.050, prediction("g:model-only:v:q2"), AT + 0.047),
    ]
    result = LiveLatency()
    _match(received, {SENT: {"q1", "q2"}}, datetime(2026, 1, 1, tzinfo=UTC), result, seen)

    assert result.first_output_ms == pytest.approx([50.0], abs=1e-3)
    assert result.output_ms["prediction"] == pytest.approx([70.0, 50.0], abs=1e-3)
    assert dict(result.hop_ms) == {
        "to the broker": pytest.approx([3.0], abs=1e-3),  # the update's last quote
        "ingest": pytest.approx([17.0], abs=1e-3),
        "prediction": pytest.approx([27.0], abs=1e-3),
        "to the reader": pytest.approx([3.0], abs=1e-3),
    }
    assert result.wrong_trigger == result.unmatched_outputs == 0


def test_an_update_whose_quotes_were_not_all_seen_is_timed_but_not_split():
    seen = Seen("raw", "clean")
    seen.on_broker = {"q1": AT + 0.001}  # q2 went by before the reader had its partitions
    seen.cleaned = {"q1": AT + 0.010}
    result = LiveLatency()
    _match(
        [(AT + 0.050, prediction("g:model-only:v:q2"), AT + 0.047)],
        {SENT: {"q1", "q2"}},
        datetime(2026, 1, 1, tzinfo=UTC),
        result,
        seen,
    )
    assert result.first_output_ms == pytest.approx([50.0], abs=1e-3)
    assert result.hop_ms == {}


def test_the_timeline_gives_each_slice_of_the_sending_time_its_own_percentiles():
    first, later = SENT, SENT + timedelta(seconds=6)  # in the first and the second 5 s
    received = [
        (AT + 0.300, prediction("g:model-only:v:q1"), AT + 0.290),
        (later.timestamp() + 0.020, {**prediction("g:model-only:v:q2"),
                                     "event_time": later.isoformat()}, later.timestamp()),
    ]  # fmt: skip
    result = LiveLatency()
    _match(
        received, {first: {"q1"}, later: {"q2"}}, datetime(2026, 1, 1, tzinfo=UTC), result,
        Seen("raw", "clean"),
    )  # fmt: skip

    timeline = result.to_dict()["timeline_ms"]
    assert [(s["from_s"], s["count"]) for s in timeline] == [(0.0, 1), (5.0, 1)]
    assert timeline[0]["p99"] == pytest.approx(300.0, abs=1e-3)
    assert timeline[1]["max"] == pytest.approx(20.0, abs=1e-3)


def test_the_outputs_of_the_warm_up_quotes_are_counted_apart_and_not_timed():
    warm_up = SENT - timedelta(seconds=5)
    received = [
        (AT - 4.0, {**prediction("g:model-only:v:w1"), "event_time": warm_up.isoformat()}, 0.0),
        (AT + 0.050, prediction("g:model-only:v:q1"), AT + 0.047),
    ]
    result = LiveLatency()
    fixture = datetime(2026, 1, 1, tzinfo=UTC)
    _match(received, {SENT: {"q1"}}, fixture, result, Seen("raw", "clean"), {warm_up})

    assert result.first_output_ms == pytest.approx([50.0], abs=1e-3)
    assert result.warmup_outputs == 1 and result.unmatched_outputs == 0


def test_the_event_loops_late_wakeups_are_those_between_the_two_readings():
    bounds = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, math.inf)
    before = dict(zip(bounds, (3, 4, 5, 5, 5, 5, 5), strict=True))  # the warm-up's
    # then 10 wake-ups: 6 within 1 ms, 2 within 10 ms, 1 within 25 ms, 1 within 100 ms
    after = dict(zip(bounds, (9, 11, 13, 14, 14, 15, 15), strict=True))
    assert late_wakeups(before, after) == {
        "wakeups": 10,
        "over_10_ms": 2,
        "over_25_ms": 1,
        "latest_at_most_ms": 100.0,
    }
    assert late_wakeups(after, after)["latest_at_most_ms"] is None  # none in between
