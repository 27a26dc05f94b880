"""The fuzz generator itself (tests/fuzzing.py): deterministic, complete, and its expectations
hold by construction, so the integration fuzz test measures the product, not the generator."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from agents.ingest import validate_message
from schemas.feeds import FEEDS
from tables.feed_order import Verdict, admit
from tests.fuzzing import (
    NAMED_CASES,
    VALID_SHARE,
    Expect,
    clean_messages,
    fuzz_messages,
)

# Validation judges event times against the wall clock, so the messages are generated for now.
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def messages():
    return fuzz_messages(NOW)


def test_same_seed_same_messages(messages):
    assert fuzz_messages(NOW) == messages


def test_size_feeds_cases_and_valid_share(messages):
    assert len(messages) >= 10_000
    assert set(Counter(m.feed for m in messages)) == set(FEEDS)
    cases = Counter(m.case.split(":")[0] for m in messages)
    assert set(NAMED_CASES) <= set(cases)
    assert {"valid", "exact_duplicate", "out_of_order", "hypothesis_mutant"} <= set(cases)
    valid = sum(m.case in ("valid", "exact_duplicate", "out_of_order") for m in messages)
    assert valid == pytest.approx(VALID_SHARE * len(messages), rel=0.01)
    leagues = {m.key for m in messages if m.case == "valid"}
    assert len(leagues) >= 6


def test_valid_events_are_valid_recent_and_keyed_by_league(messages):
    ids = Counter()
    for m in messages:
        if m.expect is Expect.CLEAN:
            event = validate_message(FEEDS[m.feed], m.key, m.value)
            assert NOW - timedelta(hours=16) < event.event_time < NOW - timedelta(seconds=59)
            ids[event.event_id] += 1
    assert max(ids.values()) == 1


def test_duplicates_and_late_events_follow_what_they_repeat(messages):
    """Replaying the feed-order rule over the valid messages gives exactly the expectations."""
    state: dict[str, list] = {}
    for m in messages:
        if m.case not in ("valid", "exact_duplicate", "out_of_order"):
            continue
        event = validate_message(FEEDS[m.feed], m.key, m.value)
        key = f"{m.key}|{event.ordering_key}"
        verdict, new = admit(state.get(key), event)
        expected = {"valid": Verdict.ACCEPT, "exact_duplicate": Verdict.DUPLICATE}
        assert verdict is expected.get(m.case, Verdict.OUT_OF_ORDER), m
        if new is not None:
            state[key] = new


def test_key_cases_are_otherwise_valid_and_future_events_ahead(messages):
    for m in messages:
        if m.case in ("wrong_key", "null_key", "nul_key", "invalid_utf8_key"):
            payload = orjson.loads(m.value)
            right_key = f"{payload['sport']}:{payload['league']}".encode()
            assert m.key != right_key
            validate_message(FEEDS[m.feed], right_key, m.value)
        if m.case == "future_event":
            payload = orjson.loads(m.value)
            assert datetime.fromisoformat(payload["event_time"]) >= NOW + timedelta(hours=2)
            recent = {**payload, "event_time": NOW.isoformat()}  # nothing else wrong with it
            validate_message(FEEDS[m.feed], m.key, orjson.dumps(recent))


def test_hostile_messages_never_share_an_id_or_a_game_with_another(messages):
    hostile = [m for m in messages if m.case not in ("valid", "exact_duplicate", "out_of_order")]
    assert len({m.event_id for m in hostile}) == len(hostile)
    valid_ids = {m.event_id for m in messages if m.case == "valid"}
    assert not valid_ids & {m.event_id for m in hostile}


def test_clean_baseline_is_all_valid():
    baseline = clean_messages(NOW, total=3_000)
    assert len(baseline) == 3_000
    for m in baseline:
        validate_message(FEEDS[m.feed], m.key, m.value)
