from __future__ import annotations

import asyncio

import orjson

from schemas import DeadLetter
from schemas.batches import TIMES_HEADER, WATERMARK_HEADER, event_batches, watermark_message
from tests.schemas.examples import GAME, QUOTE


def agent_of(app, name):
    return next(a for a in app.agents.values() if a.name.endswith(name))


async def test_valid_event_goes_to_the_clean_topic_keyed_by_league(app, sent, settings):
    ingest = agent_of(app, "ingest-odds")
    async with ingest.test_context() as agent:
        await agent.put(orjson.dumps(QUOTE), key=b"soccer:E0")
    [(key, value)] = sent[settings.topic("clean.odds")]
    assert key == b"soccer:E0"
    clean = orjson.loads(value)
    assert clean["price_american"] == 240 and clean["kind"] == "odds"
    assert sent[settings.topic("deadletter")] == []


async def test_invalid_events_go_to_the_dead_letter_topic_with_reason_and_offset(
    app, sent, settings
):
    ingest = agent_of(app, "ingest-games")
    bad = [
        b"{nope",
        orjson.dumps({**GAME, "home_score": -1}),
        orjson.dumps({**GAME, "sport": "curling"}),
    ]
    async with ingest.test_context() as agent:
        for payload in bad:
            await agent.put(payload, key=b"soccer:E0")
    letters = [DeadLetter.model_validate_json(v) for _, v in sent[settings.topic("deadletter")]]
    assert [letter.error_type for letter in letters] == [
        "malformed_json",
        "invalid_value",
        "invalid_value",
    ]
    assert "home_score" in letters[1].reason and letters[2].reason.startswith("sport")
    assert [letter.payload for letter in letters] == bad
    assert len({letter.offset for letter in letters}) == 3
    assert sent[settings.topic("clean.games")] == []


async def test_a_message_keyed_by_something_else_is_refused(app, sent, settings):
    ingest = agent_of(app, "ingest-games")
    async with ingest.test_context() as agent:
        await agent.put(orjson.dumps(GAME), key=b"soccer:SP1")
        await agent.put(orjson.dumps(GAME), key=None)
    letters = [DeadLetter.model_validate_json(v) for _, v in sent[settings.topic("deadletter")]]
    assert [letter.error_type for letter in letters] == ["wrong_key", "wrong_key"]
    assert "must be keyed by" in letters[0].reason


async def test_duplicates_once_and_out_of_order_to_dead_letters(app, sent, settings):
    ingest = agent_of(app, "ingest-odds")
    later = {**QUOTE, "event_id": "q2", "event_time": "2021-08-22T15:28:00Z", "price_decimal": 3.3}
    earlier = {**QUOTE, "event_id": "q0", "event_time": "2021-08-22T15:00:00Z"}
    key = b"soccer:E0"
    async with ingest.test_context() as agent:
        for payload in (QUOTE, QUOTE, later, QUOTE, earlier):
            await agent.put(orjson.dumps(payload), key=key)
    clean_ids = [orjson.loads(v)["event_id"] for _, v in sent[settings.topic("clean.odds")]]
    assert clean_ids == ["q1", "q2"]
    letters = [DeadLetter.model_validate_json(v) for _, v in sent[settings.topic("deadletter")]]
    assert [letter.error_type for letter in letters] == ["out_of_order"]
    assert app.pipeline.metrics.duplicates.labels("odds")._value.get() == 2


async def test_each_event_of_a_raw_batch_is_judged_and_parked_on_its_own(app, sent, settings):
    ingest = agent_of(app, "ingest-odds")
    later = {**QUOTE, "event_id": "q2", "event_time": "2021-08-22T15:28:00Z"}
    lines = [orjson.dumps(QUOTE), b"{nope", orjson.dumps(later)]
    [batch] = event_batches((line, 0.0) for line in lines)  # times: ingest reads its own
    async with ingest.test_context() as agent:
        await agent.put(batch.value, key=b"soccer:E0", headers=batch.headers)
        await agent.put(b"{}\n{}", key=b"soccer:E0", headers=[(TIMES_HEADER, b"1")])
    clean = [orjson.loads(v)["event_id"] for _, v in sent[settings.topic("clean.odds")]]
    assert clean == [QUOTE["event_id"], "q2"]
    letters = [DeadLetter.model_validate_json(v) for _, v in sent[settings.topic("deadletter")]]
    assert [(d.item, d.error_type, d.payload) for d in letters] == [
        (1, "malformed_json", b"{nope"),
        (None, "malformed_batch", b"{}\n{}"),
    ]
    assert "one event time per line" in letters[1].reason


async def test_a_raw_watermark_goes_on_to_the_clean_topic_after_the_events_before_it(
    app, sent, settings
):
    """A producer's watermark (it sent everything of the league up to an instant) is passed
    on once per batch and key, the latest, behind the clean events it follows; events in
    it do not count as events in."""
    ingest = agent_of(app, "ingest-odds")
    first, second = watermark_message(1_629_645_000_000), watermark_message(1_629_646_000_000)
    watermarks = sent[settings.topic("clean.odds") + " watermarks"]
    async with ingest.test_context() as agent:
        await agent.put(orjson.dumps(QUOTE), key=b"soccer:E0")
        await agent.put(first.value, key=b"soccer:E0", headers=first.headers)
        await agent.put(second.value, key=b"soccer:E0", headers=second.headers)
        await agent.put(first.value, key=b"nba:NBA", headers=first.headers)
        # before the event-time window: vacuous (no event it covers passes), not refused
        ancient = watermark_message(0)
        await agent.put(ancient.value, key=b"nfl:NFL", headers=ancient.headers)
        for _ in range(250):  # put does not wait for the agent
            if len(watermarks) == 3:
                break
            await asyncio.sleep(0.02)
    assert [k for k, _ in sent[settings.topic("clean.odds")]] == [b"soccer:E0"]
    assert sorted(watermarks) == [
        (b"nba:NBA", 1_629_645_000_000),
        (b"nfl:NFL", 0),
        (b"soccer:E0", 1_629_646_000_000),
    ]
    assert sent[settings.topic("deadletter")] == []
    clean_odds = settings.topic("clean.odds")
    assert [kind for topic, key, kind in sent["order"] if key == b"soccer:E0"] == [
        "events",
        "watermark",
    ]
    assert all(topic == clean_odds for topic, _, _ in sent["order"])
    events_in = app.pipeline.metrics.events_in.labels(settings.topic("raw.odds"))
    assert events_in._value.get() == 1


async def test_a_watermark_that_cannot_be_trusted_goes_to_the_dead_letter_topic(
    app, sent, settings
):
    ingest = agent_of(app, "ingest-games")
    mark = watermark_message(1_629_645_000_000)
    far_ahead = watermark_message(4_000_000_000_000)
    bad = [
        (b"", b"soccer:E0", [(WATERMARK_HEADER, b"next tuesday")]),
        (orjson.dumps(GAME), b"soccer:E0", mark.headers),
        (b"", b"soccer", mark.headers),
        (b"", None, mark.headers),
        (b"", b"curling:E0", mark.headers),
        (b"", b"soccer:E0", far_ahead.headers),
    ]
    async with ingest.test_context() as agent:
        for value, key, headers in bad:
            await agent.put(value, key=key, headers=headers)
    letters = [DeadLetter.model_validate_json(v) for _, v in sent[settings.topic("deadletter")]]
    assert [letter.error_type for letter in letters] == [
        "invalid_watermark",
        "invalid_watermark",
        "wrong_key",
        "wrong_key",
        "wrong_key",
        "invalid_value",
    ]
    assert "whole number of milliseconds" in letters[0].reason
    assert "carries no events" in letters[1].reason
    assert '"soccer:E0"' in letters[2].reason and "no key" in letters[3].reason
    assert "ahead of now" in letters[5].reason and "up to the last event" in letters[5].reason
    assert sent[settings.topic("clean.games")] == []
    assert sent[settings.topic("clean.games") + " watermarks"] == []
