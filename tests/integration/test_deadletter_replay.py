"""Parked by a setting, replayed after the fix: every event processed exactly once."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime

import orjson
import psycopg
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from schemas import FEEDS, DeadLetter
from schemas.batches import WATERMARK_HEADER, batch_items, millis, watermark_message, watermark_of
from streamapp.cli import parser
from streamapp.kafka_io import read_all, started_producer
from streamapp.replay.catalog import timeline
from streamapp.replay.producer import replay
from streamapp.summary import wait_until_drained
from streamapp.worker import spawn_worker
from tests.integration.conftest import stop_worker

pytestmark = pytest.mark.integration

VALID = 60  # real events, all before STRICT: parked, then replayed
STILL_BAD = 4  # real events with a NUL byte in their key: parked again on every replay
STRICT = datetime(2022, 1, 1, tzinfo=UTC)  # after the replayed season (2020/21)
# A watermark this far ahead of now (s) is parked by the strict worker, which allows
# STRICT_AHEAD, and passed on by the fixed one (900 s) however late the replay comes.
AHEAD, STRICT_AHEAD = 600, 60


async def send_watermark_ahead(settings) -> int:
    """A watermark of the odds feed of E0 a minute ahead of now; its instant (ms)."""
    through = millis(time.time() + AHEAD)
    message = watermark_message(through)
    producer = await started_producer(settings)
    try:
        await producer.send_and_wait(
            settings.topic(FEEDS["odds"].raw_topic), message.value, key=b"soccer:E0",
            headers=message.headers,
        )  # fmt: skip
    finally:
        await producer.stop()
    return through


def clean_watermarks(settings) -> list[int]:
    records = asyncio.run(read_all(settings, settings.topic(FEEDS["odds"].clean_topic)))
    return [w for r in records if (w := watermark_of(r.headers)) is not None]


async def send_with_bad_keys(settings, events) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers)
    await producer.start()
    try:
        for event in events:
            topic = settings.topic(FEEDS[event.feed].raw_topic)
            await producer.send_and_wait(topic, event.to_bytes(), key=event.key.encode() + b"\x00")
    finally:
        await producer.stop()


def clean_event_ids(settings) -> Counter:
    async def read() -> Counter:
        ids = Counter()
        for feed in FEEDS.values():
            for record in await read_all(settings, settings.topic(feed.clean_topic)):
                for value, _ in batch_items(record.value, record.headers, 0.0):
                    ids[orjson.loads(value)["event_id"]] += 1
        return ids

    return asyncio.run(read())


def letters_on_topic(settings) -> list[DeadLetter]:
    records = asyncio.run(read_all(settings, settings.topic("deadletter")))
    return [DeadLetter.model_validate_json(r.value) for r in records]


def stored_letters(settings) -> dict[str, tuple]:
    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute(
            'SELECT stage, source_topic, partition, "offset", item, key_bytes, replay_of '
            "FROM dead_letters"
        ).fetchall()
    # item -1 stores "a whole message" (the key cannot hold NULL); letter_id omits it then.
    return {"/".join(map(str, r[:4] if r[4] < 0 else r[:5])): (r[5], r[6]) for r in rows}


def duplicates_counted(settings) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{settings.web_port}/metrics") as response:
        text = response.read().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    return sum(
        s.value for s in families["streamapp_duplicates"].samples if s.name.endswith("_total")
    )


def replay_letters(settings, capsys, *options: str) -> str:
    """`streamapp deadletters replay OPTIONS` with the test's settings; its output."""
    args = parser().parse_args(["deadletters", "replay", "--no-progress", *options])
    args.run(args, settings)
    return capsys.readouterr().out


def test_parked_events_are_processed_once_after_the_fix_however_often_replayed(
    live_settings, data_dir, tmp_path, capsys
):
    fixed = live_settings
    strict = fixed.model_copy(
        update={"event_time_earliest": STRICT, "event_time_max_ahead_seconds": STRICT_AHEAD}
    )
    events = timeline([data_dir / "football-data" / "E0_2021.csv"], season_end=2021)
    valid, still_bad = events[:VALID], events[VALID : VALID + STILL_BAD]
    log_file = tmp_path / "worker.log"

    worker = spawn_worker(strict, log_file)
    try:
        asyncio.run(replay(strict, valid, progress=False))
        asyncio.run(send_with_bad_keys(strict, still_bad))
        through = asyncio.run(send_watermark_ahead(strict))
        asyncio.run(wait_until_drained(strict, timeout=300))
    finally:
        stop_worker(worker)
    parked = letters_on_topic(fixed)
    assert clean_event_ids(fixed) == Counter()
    # Every message parked by ingest; the valid events by the window (the bad keys may be
    # refused for either reason).
    bad_key = {d.letter_id for d in parked if d.key_bytes.endswith(b"\x00")}
    [ahead] = [d for d in parked if d.headers]  # the watermark: only its header
    assert (len(parked), len(bad_key)) == (VALID + STILL_BAD + 1, STILL_BAD)
    assert all(d.stage == f"ingest-{d.source_topic.rsplit('.', 1)[-1]}" for d in parked)
    assert all(
        d.error_type == "invalid_value" and STRICT.date().isoformat() in d.reason
        for d in parked
        if d.letter_id not in bad_key | {ahead.letter_id}
    )
    assert (ahead.error_type, ahead.payload) == ("invalid_value", b"")
    assert ahead.headers == [(WATERMARK_HEADER, str(through).encode())]
    assert through not in clean_watermarks(fixed)

    # The fix: a worker with the default window. Replay the original letters twice, once
    # read from the topic and once from PostgreSQL.
    worker = spawn_worker(fixed, log_file)
    originals_until = datetime.now(UTC).isoformat()
    try:
        first = replay_letters(fixed, capsys, "--until", originals_until)
        asyncio.run(wait_until_drained(fixed, timeout=300))
        after_first = clean_event_ids(fixed)
        second = replay_letters(fixed, capsys, "--from", "db", "--until", originals_until)
        asyncio.run(wait_until_drained(fixed, timeout=300))
        duplicates = duplicates_counted(fixed)
    except BaseException:
        print(log_file.read_text(errors="replace")[-5000:])
        raise
    finally:
        stop_worker(worker)

    total = VALID + STILL_BAD + 1
    assert f"selected {total}, re-sent {total}, skipped 0" in first
    assert f"selected {total}, re-sent {total}, skipped 0" in second

    # Every parked valid event reached its clean topic once, and the second replay added none.
    expected = {event.payload["event_id"] for event in valid}
    assert after_first == Counter(expected)
    assert clean_event_ids(fixed) == Counter(expected)
    assert duplicates == VALID
    # The watermark went back with its header (from the topic and from PostgreSQL): the
    # fixed worker passed it on both times, and parked it no more.
    assert clean_watermarks(fixed).count(through) == 2

    # The original letters are all kept; each still-bad message came back as a new letter
    # per replay, naming the letter it was re-sent from.
    letters = letters_on_topic(fixed)
    originals = {d.letter_id for d in parked}
    assert originals <= {d.letter_id for d in letters}
    again = [d for d in letters if d.letter_id not in originals]
    assert len(again) == 2 * STILL_BAD
    assert all(d.error_type == "wrong_key" and d.replay_of in originals for d in again)
    assert all(d.key_bytes.endswith(b"\x00") for d in again)

    # PostgreSQL holds the same letters, with the exact key bytes (NUL included).
    stored = stored_letters(fixed)
    assert set(stored) == {d.letter_id for d in letters}
    assert all(stored[d.letter_id] == (d.key_bytes, d.replay_of) for d in letters)
