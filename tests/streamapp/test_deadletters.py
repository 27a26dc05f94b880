"""Dead letters without a broker: the model, its PostgreSQL row, selection, decoding, replay."""

from __future__ import annotations

import asyncio
import base64
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import orjson
import psycopg
import pytest

from schemas.batches import TIMES_HEADER, WATERMARK_HEADER
from schemas.deadletter import REPLAY_HEADER, DeadLetter, legacy_stage, printable
from streamapp.db.queries import dead_letter_of_row
from streamapp.db.sinks import SINK_TABLES
from streamapp.db.writer import Database
from streamapp.deadletters import (
    DeadLetterError,
    Selection,
    decode_payload,
    feed_of,
    list_lines,
    parse_time,
    plan_replay,
    replay_lines,
    show_letter,
)
from streamapp.settings import Settings

SETTINGS = Settings(topic_prefix="sports")
WHEN = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
ONE_MB = b"x" * (1024 * 1024)
NASTY_KEYS = [b"soccer:E0\x00", b"\x00", b"\xff\xfe\x00bad", b"ok\x1b[31mred\x7f", b""]


def letter(
    topic="sports.raw.odds",
    offset=7,
    *,
    stage=None,
    key=b"soccer:E0",
    payload=b'{"event_id": "e1"}',
    reason="event_time: too early",
    error_type="invalid_value",
    received_at=WHEN,
    partition=2,
) -> DeadLetter:
    return DeadLetter.for_message(
        reason=reason,
        error_type=error_type,
        topic=topic,
        partition=partition,
        offset=offset,
        key=key,
        payload=payload,
        received_at=received_at,
        stage=stage,
    )


def row_texts(row: tuple) -> list[str]:
    return [value for value in row if isinstance(value, str)]


# --- the model -------------------------------------------------------------------------


def test_stage_is_given_or_derived_from_where_the_letter_came_from():
    assert letter(stage="book-odds").stage == "book-odds"
    assert letter().stage == "ingest-odds"
    assert letter("sports.clean.games", stage=None, error_type="internal").stage == "predict-games"
    assert letter("sports.clean.injuries", error_type="internal").stage == "assess-injuries"
    assert legacy_stage("x.clean.odds", "sink_rejected", "sink odds_quotes: boom") == (
        "sink-odds_quotes"
    )
    assert legacy_stage("backfill:fd:E0.csv:1", "invalid_value", "x") == "backfill"
    assert legacy_stage("sports.control", "ValueError", "x") == "follow-model-versions"


def test_letters_of_one_message_from_two_stages_have_different_ids():
    sink = letter("sports.clean.odds", stage="sink-odds_quotes", error_type="sink_rejected")
    predict = letter("sports.clean.odds", stage="predict-games", error_type="internal")
    assert sink.letter_id == "sink-odds_quotes/sports.clean.odds/2/7"
    assert sink.letter_id != predict.letter_id


def test_a_letter_written_before_stages_still_reads():
    old = {
        "reason": "sink odds_quotes: value too long",
        "error_type": "sink_rejected",
        "source_topic": "sports.clean.odds",
        "partition": 0,
        "offset": 3,
        "key": "soccer:E0",
        "payload_b64": base64.b64encode(b"{}").decode(),
        "received_at": WHEN.isoformat(),
    }
    parsed = DeadLetter.model_validate_json(orjson.dumps(old))
    assert parsed.stage == "sink-odds_quotes"
    assert parsed.key_bytes == b"soccer:E0"  # only the text was kept then


@pytest.mark.parametrize("key", NASTY_KEYS)
def test_the_exact_key_bytes_survive_the_topic(key):
    again = DeadLetter.model_validate_json(letter(key=key).to_json())
    assert again.key_bytes == key
    assert "\x00" not in again.key
    assert again.key.isprintable()


def test_no_key_stays_no_key():
    parked = letter(key=None)
    assert (parked.key, parked.key_b64, parked.key_bytes) == (None, None, None)


@pytest.mark.parametrize(
    "headers", [[(REPLAY_HEADER, b"ingest-odds/t/0/1")], {REPLAY_HEADER: b"ingest-odds/t/0/1"}]
)
def test_a_replayed_message_names_its_original_letter(headers):
    message = SimpleNamespace(
        topic="sports.raw.odds", partition=1, offset=99, key=b"k", value=b"v", headers=headers
    )
    parked = DeadLetter.of(message, "still bad", "wrong_key", stage="ingest-odds")
    assert parked.replay_of == "ingest-odds/t/0/1"
    assert parked.stage == "ingest-odds"
    plain = SimpleNamespace(topic="sports.raw.odds", partition=1, offset=9, key=None, value=b"")
    assert DeadLetter.of(plain, "bad", "malformed_json").replay_of is None


@pytest.mark.parametrize("as_mapping", [False, True])
def test_a_whole_message_keeps_its_headers_for_the_replay_and_an_event_of_a_batch_none(
    as_mapping,
):
    headers = [(WATERMARK_HEADER, b"1700000000000"), (REPLAY_HEADER, b"ingest-odds/t/0/1")]
    watermark = SimpleNamespace(
        topic="sports.raw.odds", partition=1, offset=99, key=b"soccer:E0", value=b"",
        headers=dict(headers) if as_mapping else headers,
    )  # fmt: skip
    parked = DeadLetter.of(watermark, "ahead of now", "invalid_value", stage="ingest-odds")
    assert parked.headers == [(WATERMARK_HEADER, b"1700000000000")]  # not the replay's own
    assert DeadLetter.model_validate_json(parked.to_json()) == parked
    event = DeadLetter.of(
        watermark, "bad", "invalid_value", stage="ingest-odds", item=0, payload=b"{}"
    )
    assert event.headers == []


def test_header_names_are_kept_as_printable_text():
    message = SimpleNamespace(
        topic="sports.raw.odds", partition=1, offset=5, key=b"k", value=b"v",
        headers=[(b"from-bytes", b"1"), ("nul\x00name", b"2")],
    )  # fmt: skip
    parked = DeadLetter.of(message, "bad", "malformed_json", stage="ingest-odds")
    assert parked.headers == [("from-bytes", b"1"), ("nul\\x00name", b"2")]
    assert hash(parked)  # a letter stays hashable


# --- the PostgreSQL row ----------------------------------------------------------------


@pytest.mark.parametrize("key", NASTY_KEYS)
@pytest.mark.parametrize(
    "payload", [b"\x00\x01\xff not json", b"\xc3\x28", ONE_MB, b"", "é\u2028".encode()]
)
def test_the_row_holds_no_nul_in_text_and_the_exact_bytes(key, payload):
    parked = letter(key=key, payload=payload, reason="bad\x00reason\r\n\x1b\udcff")
    table = SINK_TABLES["dead_letters"]
    row = table.row_of(parked.to_json())
    assert len(row) == table.sql.count("%s")
    for text in row_texts(row):
        assert "\x00" not in text
        text.encode("utf-8")  # no lone surrogate: psycopg must be able to send it
    columns = dict(
        zip(["stage", "topic", "partition", "offset", "item", "reason"], row, strict=False)
    )
    assert columns == {
        "stage": "ingest-odds",
        "topic": "sports.raw.odds",
        "partition": 2,
        "offset": 7,
        "item": -1,  # the whole message
        "reason": "bad\\x00reason\\r\\n\\x1b\\udcff",
    }
    assert row[8] == key  # key_bytes
    assert row[9] == payload


def test_printable_escapes_only_what_must_be():
    assert printable("soccer:E0|Arsenal é ü 日本") == "soccer:E0|Arsenal é ü 日本"
    assert printable("a\x00b\tc\u2028") == "a\\x00b\\tc\\u2028"


def test_the_upsert_keys_on_the_stage_and_the_source():
    sql = SINK_TABLES["dead_letters"].sql
    assert sql.endswith('ON CONFLICT (stage, source_topic, partition, "offset", item) DO NOTHING')


def test_a_stored_row_reads_back_as_the_same_letter():
    parked = letter(key=b"\xff\x00k", payload=b"\x00payload").model_copy(
        update={"headers_b64": ((TIMES_HEADER, base64.b64encode(b"1,2\x00").decode()),)}
    )
    row = SINK_TABLES["dead_letters"].row(parked)
    again = dead_letter_of_row(row)
    assert again == parked
    assert again.key_bytes == b"\xff\x00k"
    assert again.headers == [(TIMES_HEADER, b"1,2\x00")]
    from_postgresql = dead_letter_of_row((*row[:-1], orjson.loads(row[-1])))  # jsonb decoded
    assert from_postgresql == parked


class RecordingConnection:
    """Enough of a psycopg connection for the writer's one-by-one path; refuses the rows
    ``refuse`` picks, as PostgreSQL would."""

    def __init__(self, refuse=lambda row: None) -> None:
        self.executed: list[tuple[str, tuple]] = []
        self.refuse = refuse

    @asynccontextmanager
    async def transaction(self):
        yield

    async def execute(self, sql: str, row: tuple) -> None:
        error = self.refuse(row)
        if error:
            raise error
        self.executed.append((sql, row))


def database() -> Database:
    """A Database without a pool: enough for the paths given a connection."""
    db = Database.__new__(Database)
    db.metrics = SimpleNamespace(
        sink_rejected=SimpleNamespace(labels=lambda *_: SimpleNamespace(inc=lambda: None))
    )
    return db


def consumed(topic: str, partition: int, offset: int, key: bytes, value: bytes, index=None):
    """One event of a consumed message (agents.runtime.Record's shape)."""
    message = SimpleNamespace(
        topic=topic, partition=partition, offset=offset, key=key, value=value, headers=[]
    )
    return SimpleNamespace(message=message, value=value, index=index)


def test_a_sink_rejection_is_kept_with_its_stage_and_a_nul_key():
    source = consumed("sports.clean.odds", 1, 5, b"soccer:E0\x00", b"{}")
    conn = RecordingConnection()
    asyncio.run(
        database()._record_rejected(SINK_TABLES["odds_quotes"], [(source, "sink x: bad")], conn)
    )
    [(sql, row)] = conn.executed
    assert sql == SINK_TABLES["dead_letters"].sql
    assert row[:7] == (
        "sink-odds_quotes",
        "sports.clean.odds",
        1,
        5,
        -1,
        "sink x: bad",
        "sink_rejected",
    )
    assert row[7] == "soccer:E0\\x00"
    assert row[8] == b"soccer:E0\x00"


def test_a_sink_rejection_of_one_event_of_a_batch_keeps_that_event_and_its_place():
    batch = b'{"event_id":"a"}\n{"event_id":"b"}'
    source = consumed("sports.clean.odds", 1, 5, b"soccer:E0", b'{"event_id":"b"}', index=1)
    source.message.value = batch
    conn = RecordingConnection()
    asyncio.run(
        database()._record_rejected(SINK_TABLES["odds_quotes"], [(source, "sink x: bad")], conn)
    )
    [(_, row)] = conn.executed
    kept = dead_letter_of_row(row)
    assert (kept.item, kept.payload) == (1, b'{"event_id":"b"}')
    assert kept.letter_id == "sink-odds_quotes/sports.clean.odds/1/5/1"


def test_a_dead_letter_postgresql_refuses_is_kept_whole_in_a_letter_it_accepts():
    table = SINK_TABLES["dead_letters"]
    forged = letter(partition=2**40)  # beyond PostgreSQL's integer
    good = letter(offset=8)
    sources = [
        consumed("sports.deadletter", 0, n, b"k\x00", v)
        for n, v in enumerate([forged.to_json(), good.to_json()])
    ]
    conn = RecordingConnection(
        lambda row: (
            psycopg.errors.NumericValueOutOfRange("integer out of range")
            if row[2] == 2**40
            else None
        )
    )
    rows = [table.row_of(source.value) for source in sources]
    asyncio.run(database()._write_one_by_one(conn, table, rows, sources))
    stored = [dead_letter_of_row(row) for _, row in conn.executed]
    assert [d.letter_id for d in stored] == [
        good.letter_id,
        "sink-dead_letters/sports.deadletter/0/0",
    ]
    kept = stored[1]
    assert (kept.error_type, kept.reason) == (
        "sink_rejected",
        "sink dead_letters: integer out of range",
    )
    assert DeadLetter.model_validate_json(kept.payload) == forged


# --- selection -------------------------------------------------------------------------


def test_filters_combine_and_each_may_repeat():
    letters = [
        letter("sports.raw.odds", 1, reason="event_time: before 2022"),
        letter("sports.raw.games", 2, error_type="wrong_key", reason="message has key 'x'"),
        letter("sports.clean.odds", 3, stage="book-odds", error_type="internal", reason="bug"),
        letter(
            "sports.predictions",
            4,
            stage="sink-predictions",
            error_type="sink_rejected",
            reason="sink predictions: too long",
        ),
        letter("sports.raw.odds", 5, received_at=WHEN + timedelta(hours=2)),
    ]

    def offsets(**filters) -> list[int]:
        return [d.offset for d in letters if Selection(**filters).matches(d)]

    assert offsets() == [1, 2, 3, 4, 5]
    assert offsets(feeds=frozenset({"odds"})) == [1, 3, 5]
    assert offsets(feeds=frozenset({"odds", "games"}), error_types=frozenset({"wrong_key"})) == [2]
    assert offsets(stages=frozenset({"book-odds", "sink-predictions"})) == [3, 4]
    assert offsets(reason="EVENT_TIME") == [1, 5]
    assert offsets(since=WHEN + timedelta(hours=1)) == [5]
    assert offsets(until=WHEN + timedelta(hours=1)) == [1, 2, 3, 4]
    assert offsets(
        named=frozenset({"sports.raw.games:2:2", "book-odds/sports.clean.odds/2/3"})
    ) == [
        2,
        3,
    ]


def test_feed_of_a_topic():
    assert feed_of("run-1.raw.odds") == "odds"
    assert feed_of("a.b.clean.boxscores") == "boxscores"
    assert feed_of("sports.predictions") is None
    assert feed_of("sports.raw.unknown") is None


def test_times_are_iso_or_ages_and_utc_unless_zoned():
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    assert parse_time("2026-12-01") == datetime(2026, 12, 1, tzinfo=UTC)
    assert parse_time("2026-12-01T10:00+01:00") == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert parse_time("2h", now) == datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    assert parse_time("3d", now) == datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    with pytest.raises(DeadLetterError, match="ISO date"):
        parse_time("yesterday")


# --- showing ---------------------------------------------------------------------------


def test_json_is_pretty_printed():
    kind, text = decode_payload(b'{"event_id":"e1","odds":[1.5,2]}')
    assert kind == "32 bytes, JSON"
    assert text.splitlines()[:2] == ["{", '  "event_id": "e1",']


def test_bytes_that_are_not_utf8_are_a_hex_dump():
    kind, text = decode_payload(b"\x00\xffabc")
    assert kind == "5 bytes, not UTF-8, hex"
    assert text == "00000000  00 ff 61 62 63" + " " * 33 + "  |..abc|"


def test_text_that_is_not_json_is_escaped():
    kind, text = decode_payload(b'{"team": "a\x00b"\n\x1b')
    assert kind.endswith("UTF-8 text, not JSON")
    assert text == '{"team": "a\\x00b"\n\\x1b'


def test_deep_nesting_falls_back_to_text():
    kind, text = decode_payload(b"[" * 100_000 + b"]" * 100_000)
    assert "not JSON" in kind
    assert len(text) == 200_000


def test_a_long_payload_is_cut_where_asked():
    kind, text = decode_payload(ONE_MB, max_bytes=100)
    assert kind == "1,048,576 bytes, UTF-8 text; the first 100 shown (--max-bytes 0 shows all)"
    assert text == "x" * 100
    kind, text = decode_payload(b"\xff" * 1000, max_bytes=32)
    assert len(text.splitlines()) == 2
    assert decode_payload(b"") == ("empty", "")


def test_show_names_the_letter_and_the_exact_key():
    shown = show_letter(letter(key=b"soccer:E0\x00\xff", payload=b'{"a": 1}'))
    assert "letter      ingest-odds/sports.raw.odds/2/7" in shown
    assert "key         soccer:E0\\x00\\xff  (bytes: 73 6f 63" in shown
    assert shown.endswith('{\n  "a": 1\n}')


def test_a_letter_cut_to_size_leaves_its_headers_out_and_says_so():
    parked = letter(payload=b"x" * 100).model_copy(
        update={"headers_b64": ((TIMES_HEADER, base64.b64encode(b"1" * 50).decode()),)}
    )
    cut = parked.cut_to(10)
    assert (cut.payload, cut.headers) == (b"x" * 10, [])
    assert "its 1 headers left out" in cut.reason


def test_show_gives_a_parked_watermark_its_header():
    parked = letter(payload=b"").model_copy(
        update={"headers_b64": ((WATERMARK_HEADER, base64.b64encode(b"1700000000000").decode()),)}
    )
    assert "header      complete-through-ms: 1700000000000" in show_letter(parked)


def test_the_list_has_a_line_per_letter_and_counts_by_error_type():
    letters = [
        letter(offset=1),
        letter(offset=2),
        letter(offset=3, error_type="wrong_key", reason="x" * 500),
    ]
    lines = list_lines(letters, width=100)
    assert lines[0].split() == ["received_at", "stage", "source", "error_type", "reason"]
    assert lines[1].split()[:5] == [
        "2026-12-02",
        "09:30:00",
        "ingest-odds",
        "sports.raw.odds:2:1",
        "invalid_value",
    ]
    assert all(len(line) <= 100 for line in lines)
    assert lines[-3:] == ["3 dead letter(s)", "        2  invalid_value", "        1  wrong_key"]


# --- replay plans ----------------------------------------------------------------------


def test_ingest_letters_go_back_to_their_raw_topic_in_source_order():
    letters = [
        letter("sports.raw.odds", 9),
        letter("sports.raw.odds", 3),
        letter("sports.raw.games", 4),
        letter("sports.clean.odds", 5, stage="book-odds", error_type="internal"),
        letter("backfill:fd:E0.csv:1", 1),
        letter("connect:odds-api:basketball_nba:odds", 1, error_type="malformed_response"),
        letter("other.raw.odds", 1),
        letter("sports.control", 1, error_type="ValueError"),
        letter("sports.predictions", 1, stage="sink-predictions", error_type="sink_rejected"),
    ]
    plan = plan_replay(letters, SETTINGS)
    assert [(d.source_topic, d.offset, topic) for d, topic in plan.sends] == [
        ("sports.raw.games", 4, "sports.raw.games"),
        ("sports.raw.odds", 3, "sports.raw.odds"),
        ("sports.raw.odds", 9, "sports.raw.odds"),
    ]
    why = {d.source_topic: reason for d, reason in plan.skipped}
    assert "duplicate" in why["sports.clean.odds"]
    assert "streamapp backfill --force" in why["backfill:fd:E0.csv:1"]
    assert "restart `streamapp connect`" in why["connect:odds-api:basketball_nba:odds"]
    assert "STREAMAPP_TOPIC_PREFIX=sports" in why["other.raw.odds"]
    assert "streamapp model publish" in why["sports.control"]
    assert "not a raw feed" in why["sports.predictions"]
    lines = replay_lines(plan, len(letters), None)
    assert lines[0].startswith(
        "would re-send ingest-games/sports.raw.games/2/4 -> sports.raw.games"
    )
    assert "selected 9, would re-send 3, skipped 6" in lines
