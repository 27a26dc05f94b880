"""`streamapp deadletters list|show|replay`: find dead letters, read them, re-send them after a fix.

**Where letters are read.** By default from the dead-letter topic, from its beginning to the
end offsets it had when the command started: the topic holds every letter the agents
parked, also when the sinks are off. ``--from db`` reads PostgreSQL's ``dead_letters``
instead: faster on a long history, and the only place that also holds the rows a sink
refused (``sink-<table>`` stages) and the letters of ``streamapp backfill``.

**Selection.** Every filter given must match (a repeated filter matches any of its values):
``--feed`` (the feed of the source topic, raw or clean), ``--error-type``, ``--stage``,
``--reason`` (a substring, any case) and ``--since``/``--until`` on the time the letter was
parked (ISO date or time, UTC unless a zone is given, or an age such as ``2h``, ``3d``).
Letters can also be named: ``topic:partition:offset`` (every stage's letter of that
message) or the letter id ``stage/topic/partition/offset`` that ``show`` prints.

**What replay re-sends.** A letter parked by ingest (its source is a raw topic of this app)
goes back to that raw topic with its original key and bytes, in the order of its source
offsets, with the header ``streamapp-replay-of: stage/topic/partition/offset``. A letter
whose source is a clean topic (a later agent, or a sink, failed on an event ingest had
accepted) is skipped: ingest has that event id already and would drop the copy as a
duplicate, so its raw feed is no way back. Letters from backfill jobs and the control topic
are skipped too, each with the command that does re-send them.

**Idempotence.** Ingest drops an event id it has already accepted (tables.feed_order), so
replaying the same selection twice processes each event once: the second replay counts
duplicates (``streamapp_duplicates``) and adds nothing to the clean topics. A replayed
message that fails again becomes a new dead letter (new raw offset, ``replay_of`` naming
the original); the original letters are never removed. A dedupe remembers the last few ids
of each ordering key (game, bookmaker and selection...): a letter replayed after newer
events of the same key were accepted is parked again as ``out_of_order``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError
from pydantic import ValidationError
from tqdm import tqdm

from schemas.deadletter import REPLAY_HEADER, DeadLetter, printable, printable_bytes
from schemas.feeds import FEEDS
from streamapp.db.queries import DEAD_LETTERS, dead_letter_of_row
from streamapp.db.writer import first_line
from streamapp.errors import StreamappError
from streamapp.kafka_io import started_producer, unreachable
from streamapp.settings import Settings

log = logging.getLogger(__name__)
READ_IDLE_SECONDS = 30.0  # no progress this long while reading the topic is an error
_AGE = re.compile(r"^(\d+)([smhd])$")
_AGE_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class DeadLetterError(StreamappError):
    """Dead letters cannot be read, selected or replayed as asked."""


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """An ISO date or time (UTC unless it names a zone), or an age before now: 90s, 15m, 2h, 3d."""
    age = _AGE.match(text.strip())
    if age:
        return (now or datetime.now(UTC)) - timedelta(**{_AGE_UNITS[age[2]]: int(age[1])})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise DeadLetterError(
            f"{text!r} is not a time: give an ISO date or time (2026-12-02, "
            "2026-12-02T09:30, 2026-12-02T09:30+01:00) or an age (90s, 15m, 2h, 3d)"
        ) from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def feed_of(topic: str) -> str | None:
    """The feed of a raw or clean topic ('sports.raw.odds' -> 'odds'), else None."""
    parts = topic.rsplit(".", 2)
    if len(parts) >= 2 and parts[-2] in ("raw", "clean") and parts[-1] in FEEDS:
        return parts[-1]
    return None


@dataclass(frozen=True)
class Selection:
    """Which letters a command works on; an empty filter matches everything."""

    feeds: frozenset[str] = frozenset()
    error_types: frozenset[str] = frozenset()
    stages: frozenset[str] = frozenset()
    reason: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    # topic:partition:offset (any stage) or stage/topic/partition/offset
    named: frozenset[str] = frozenset()

    def matches(self, letter: DeadLetter) -> bool:
        received = letter.received_at
        if received.tzinfo is None:
            received = received.replace(tzinfo=UTC)
        source = f"{letter.source_topic}:{letter.partition}:{letter.offset}"
        return (
            (not self.feeds or feed_of(letter.source_topic) in self.feeds)
            and (not self.error_types or letter.error_type in self.error_types)
            and (not self.stages or letter.stage in self.stages)
            and (not self.reason or self.reason.casefold() in letter.reason.casefold())
            and (self.since is None or received >= self.since)
            and (self.until is None or received < self.until)
            and (not self.named or bool({source, letter.letter_id} & self.named))
        )

    def describe(self) -> str:
        parts = []
        for label, values in (
            ("feed", self.feeds),
            ("error type", self.error_types),
            ("stage", self.stages),
            ("named", self.named),
        ):
            if values:
                parts.append(f"{label} {', '.join(sorted(values))}")
        if self.reason:
            parts.append(f"reason containing {self.reason!r}")
        if self.since:
            parts.append(f"parked from {self.since.isoformat()}")
        if self.until:
            parts.append(f"parked before {self.until.isoformat()}")
        return "; ".join(parts) or "no filter"


@dataclass
class Letters:
    """The letters a command read, and what it could not read."""

    source: str
    read: int
    selected: list[DeadLetter]
    unreadable: int = 0


# --- reading ---------------------------------------------------------------------------


async def _started_consumer(settings: Settings) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        enable_auto_commit=False,
        isolation_level="read_committed",
        max_partition_fetch_bytes=settings.max_message_bytes,
        fetch_max_bytes=settings.max_message_bytes,
    )
    try:
        await consumer.start()
    except KafkaConnectionError as error:
        await consumer.stop()
        raise unreachable(settings, error) from error
    return consumer


async def read_topic(settings: Settings, selection: Selection) -> Letters:
    """The selected letters of the dead-letter topic, from its beginning to its end offsets
    at the start of the read."""
    name = settings.topic("deadletter")
    consumer = await _started_consumer(settings)
    try:
        # As kafka_io does: partitions_for_topic reads the client's cached metadata.
        await consumer._client.force_metadata_update()
        known = consumer.partitions_for_topic(name)
        if not known:
            raise DeadLetterError(
                f"the dead-letter topic {name} does not exist on {settings.bootstrap_servers}: "
                "nothing was parked under this prefix yet, or STREAMAPP_TOPIC_PREFIX is not "
                "the one the workers use"
            )
        partitions = [TopicPartition(name, p) for p in sorted(known)]
        begin = await consumer.beginning_offsets(partitions)
        end = await consumer.end_offsets(partitions)
        pending = {tp: end[tp] for tp in partitions if end[tp] > begin[tp]}
        letters = Letters(f"topic {name}", 0, [])
        if not pending:
            return letters
        consumer.assign(list(pending))
        for tp in pending:
            consumer.seek(tp, begin[tp])
        idle_since = asyncio.get_running_loop().time()
        while pending:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= pending.get(tp, -1):
                        continue  # arrived after the read started
                    letters.read += 1
                    try:
                        letter = DeadLetter.model_validate_json(record.value or b"")
                    except ValidationError:
                        letters.unreadable += 1
                        log.warning(
                            "%s:%d:%d is not a dead letter", name, tp.partition, record.offset
                        )
                        continue
                    if selection.matches(letter):
                        letters.selected.append(letter)
            # The position also passes transaction markers, which are never records.
            progressed = bool(batch)
            for tp in list(pending):
                if await consumer.position(tp) >= pending[tp]:
                    del pending[tp]
                    progressed = True
            now = asyncio.get_running_loop().time()
            if progressed:
                idle_since = now
            elif now - idle_since > READ_IDLE_SECONDS:
                raise DeadLetterError(
                    f"reading {name} stopped at {letters.read:,} letters "
                    f"({READ_IDLE_SECONDS:.0f}s without progress): check the broker "
                    "(`streamapp stack status`)"
                )
        return letters
    except KafkaError as error:
        raise DeadLetterError(f"reading {name} failed: {error!r}; check the broker") from error
    finally:
        await consumer.stop()


def read_database(settings: Settings, selection: Selection) -> Letters:
    """The selected letters of PostgreSQL's dead_letters table."""
    url = settings.effective_database_url
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            rows = conn.execute(
                DEAD_LETTERS,
                {
                    "since": selection.since,
                    "until": selection.until,
                    "error_types": sorted(selection.error_types) or None,
                    "stages": sorted(selection.stages) or None,
                },
            ).fetchall()
    except psycopg.OperationalError as error:
        raise DeadLetterError(
            f"PostgreSQL is not reachable ({first_line(error)}); start it with "
            "`streamapp stack up` or set DATABASE_URL"
        ) from error
    except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn) as error:
        raise DeadLetterError(
            f"the database has no up-to-date dead_letters table ({first_line(error)}); "
            "run `streamapp db migrate`"
        ) from error
    letters = [dead_letter_of_row(row) for row in rows]
    return Letters(
        "PostgreSQL dead_letters", len(letters), [d for d in letters if selection.matches(d)]
    )


def read_letters(settings: Settings, selection: Selection, source: str) -> Letters:
    if source == "db":
        letters = read_database(settings, selection)
    else:
        letters = asyncio.run(read_topic(settings, selection))
    letters.selected.sort(key=lambda d: (d.received_at, d.letter_id))
    return letters


# --- showing ---------------------------------------------------------------------------


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def list_lines(letters: list[DeadLetter], width: int = 120) -> list[str]:
    """One line per letter, then the counts by error type."""
    rows = [
        (
            d.received_at.strftime("%Y-%m-%d %H:%M:%S"),
            d.stage,
            f"{d.source_topic}:{d.partition}:{d.offset}",
            d.error_type,
            printable(d.reason),
        )
        for d in letters
    ]
    headers = ("received_at", "stage", "source", "error_type", "reason")
    widths = [max([len(headers[i]), *(len(r[i]) for r in rows)]) for i in range(4)]
    reason_width = max(20, width - sum(widths) - 8)

    def line(row) -> str:
        cells = [cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)]
        return "  ".join([*cells, shorten(row[4], reason_width)]).rstrip()

    lines = [line(headers), *(line(r) for r in rows), ""]
    by_type = Counter(d.error_type for d in letters)
    lines.append(f"{len(letters):,} dead letter(s)")
    lines += [f"  {n:>7,}  {error_type}" for error_type, n in by_type.most_common()]
    return lines


def hex_dump(data: bytes) -> str:
    lines = []
    for start in range(0, len(data), 16):
        chunk = data[start : start + 16]
        ascii_ = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        lines.append(f"{start:08x}  {chunk.hex(' '):<47}  |{ascii_}|")
    return "\n".join(lines)


def decode_payload(data: bytes, max_bytes: int = 0) -> tuple[str, str]:
    """(what the bytes are, their text): pretty JSON, escaped UTF-8 text, or a hex dump.
    ``max_bytes`` > 0 shows only about that many bytes of a longer payload."""
    if not data:
        return "empty", ""
    cut = 0 < max_bytes < len(data)
    more = f"; the first {max_bytes:,} shown (--max-bytes 0 shows all)" if cut else ""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return f"{len(data):,} bytes, not UTF-8, hex{more}", hex_dump(
            data[:max_bytes] if cut else data
        )
    if not cut:
        try:
            pretty = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except (ValueError, RecursionError):
            pass  # not JSON (or nested beyond what json handles): shown as text
        else:
            return f"{len(data):,} bytes, JSON", printable_lines(pretty)
        more = ", not JSON"
    return f"{len(data):,} bytes, UTF-8 text{more}", printable_lines(
        text[:max_bytes] if cut else text
    )


def printable_lines(text: str) -> str:
    return "\n".join(printable(line) for line in text.split("\n"))


def show_letter(letter: DeadLetter, max_bytes: int = 0) -> str:
    key = letter.key_bytes
    if key is None:
        shown_key = "(none)"
    else:
        shown_key = printable_bytes(key)
        if key != shown_key.encode():
            shown_key += f"  (bytes: {key.hex(' ')})"
    kind, text = decode_payload(letter.payload, max_bytes)
    lines = [
        f"letter      {letter.letter_id}",
        f"received    {letter.received_at.isoformat()}",
        f"stage       {letter.stage}",
        f"source      {letter.source_topic}:{letter.partition}:{letter.offset}",
        f"error type  {letter.error_type}",
        f"reason      {printable(letter.reason)}",
        f"key         {shown_key}",
    ]
    if letter.replay_of:
        lines.append(f"replay of   {letter.replay_of}")
    for name, value in letter.headers:
        lines.append(f"header      {printable(name)}: {shorten(printable_bytes(value), 100)}")
    lines.append(f"payload     {kind}")
    if text:
        lines.append(text)
    return "\n".join(lines)


# --- replaying -------------------------------------------------------------------------


class NotReplayable(Exception):
    """Why a letter has no way back through a raw topic."""


def replay_topic(letter: DeadLetter, settings: Settings) -> str:
    """The raw topic a letter is re-sent to; NotReplayable says why it cannot be."""
    topic = letter.source_topic
    if topic in {settings.topic(feed.raw_topic) for feed in FEEDS.values()}:
        return topic
    if topic in {settings.topic(feed.clean_topic) for feed in FEEDS.values()}:
        raise NotReplayable(
            f"parked after ingest ({letter.stage}): ingest already accepted the event, so its "
            "raw feed would drop it as a duplicate"
        )
    if topic.startswith("backfill:"):
        raise NotReplayable(
            "from a backfill job: run `streamapp backfill --force FILE` after the fix"
        )
    if topic.startswith("connect:"):
        raise NotReplayable(
            "a provider's response a connector could not read: it is polled again, fix the "
            "parser (or the alias table) and restart `streamapp connect`"
        )
    if topic == settings.topic("control"):
        raise NotReplayable(
            "a model-control message: publish it again with `streamapp model publish`"
        )
    if feed_of(topic) is not None:
        raise NotReplayable(
            f"from {topic}, not a topic of this app "
            f"(STREAMAPP_TOPIC_PREFIX={settings.topic_prefix})"
        )
    raise NotReplayable(f"from {topic}, which is not a raw feed")


@dataclass
class ReplayPlan:
    """Letters to re-send (in source order) and those skipped, with why."""

    sends: list[tuple[DeadLetter, str]] = field(default_factory=list)
    skipped: list[tuple[DeadLetter, str]] = field(default_factory=list)


def plan_replay(letters: list[DeadLetter], settings: Settings) -> ReplayPlan:
    """Ingest's order per partition is kept: letters go back in their source offsets' order
    (an older event after a newer one of the same game would be parked as out of order)."""
    plan = ReplayPlan()
    for letter in sorted(letters, key=lambda d: (d.source_topic, d.partition, d.offset, d.stage)):
        try:
            plan.sends.append((letter, replay_topic(letter, settings)))
        except NotReplayable as why:
            plan.skipped.append((letter, str(why)))
    return plan


@dataclass
class ReplayReport:
    sent: int = 0
    failed: list[tuple[DeadLetter, str]] = field(default_factory=list)


async def resend(settings: Settings, plan: ReplayPlan, progress: bool = True) -> ReplayReport:
    """Re-send the plan's letters with their original key, bytes and headers; returns once the
    broker has acknowledged each (or refused it)."""
    producer = await started_producer(
        settings,
        acks="all",
        enable_idempotence=True,  # retries keep each partition's order (see plan_replay)
        max_request_size=settings.max_message_bytes,
    )
    report = ReplayReport()
    try:
        existing = (await producer.client.fetch_all_metadata()).topics()
        missing = sorted({topic for _, topic in plan.sends} - existing)
        if missing:
            raise DeadLetterError(
                f"topic(s) {', '.join(missing)} do not exist on {settings.bootstrap_servers}; "
                "start a worker (it creates its topics) or check STREAMAPP_TOPIC_PREFIX"
            )
        bar = tqdm(total=len(plan.sends), unit="msg", desc="replay", disable=not progress)
        deliveries = []
        for letter, topic in plan.sends:
            headers = [*letter.headers, (REPLAY_HEADER, letter.letter_id.encode())]
            try:
                delivery = await producer.send(
                    topic, letter.payload, key=letter.key_bytes, headers=headers
                )
            except KafkaError as error:
                report.failed.append((letter, repr(error)))
                bar.update()
                continue
            delivery.add_done_callback(lambda _: bar.update())
            deliveries.append((letter, delivery))
        for letter, delivery in deliveries:
            try:
                await delivery
                report.sent += 1
            except KafkaError as error:
                report.failed.append((letter, repr(error)))
        bar.close()
    finally:
        await producer.stop()
    return report


def replay_lines(plan: ReplayPlan, selected: int, report: ReplayReport | None) -> list[str]:
    """The counts a replay prints (``report`` None: a dry run)."""
    lines = []
    if report is None:
        lines += [
            f"would re-send {letter.letter_id} -> {topic}  key "
            f"{printable_bytes(letter.key_bytes) if letter.key_bytes is not None else '(none)'}"
            f"  {len(letter.payload):,} bytes"
            for letter, topic in plan.sends
        ]
    resent = f"would re-send {len(plan.sends):,}" if report is None else f"re-sent {report.sent:,}"
    lines.append(f"selected {selected:,}, {resent}, skipped {len(plan.skipped):,}")
    for why, n in Counter(why for _, why in plan.skipped).most_common():
        lines.append(f"  skipped {n:,}: {why}")
    if report is not None:
        for letter, error in report.failed:
            lines.append(f"  not sent {letter.letter_id}: {error}")
    return lines


# --- the command -----------------------------------------------------------------------


def selection_of(args) -> Selection:
    return Selection(
        feeds=frozenset(args.feed or ()),
        error_types=frozenset(args.error_type or ()),
        stages=frozenset(args.stage or ()),
        reason=args.reason,
        since=parse_time(args.since) if args.since else None,
        until=parse_time(args.until) if args.until else None,
        named=frozenset(args.letters or ()),
    )


def run(args, settings: Settings) -> None:
    selection = selection_of(args)
    letters = read_letters(settings, selection, args.source)
    selected = letters.selected[: args.limit] if args.limit else letters.selected
    if letters.unreadable:
        print(f"({letters.unreadable:,} message(s) on the topic are not dead letters: left out)")
    found = {
        ref
        for d in letters.selected
        for ref in (d.letter_id, f"{d.source_topic}:{d.partition}:{d.offset}")
    }
    if selection.named - found:
        print(f"(not found: {', '.join(sorted(selection.named - found))})")
    if not selected:
        message = (
            f"no dead letter matches ({selection.describe()}) among the {letters.read:,} read "
            f"from {letters.source}"
        )
        if args.action == "list":
            print(message)
            return
        raise DeadLetterError(
            f"{message}; see what there is with `streamapp deadletters list`"
            + ("" if args.source == "db" else ", or try --from db")
        )
    if args.action == "list":
        width = shutil.get_terminal_size((120, 24)).columns
        print("\n".join(list_lines(selected, width)))
    elif args.action == "show":
        print("\n\n".join(show_letter(letter, args.max_bytes) for letter in selected))
    else:
        plan = plan_replay(selected, settings)
        if not plan.sends:
            print("\n".join(replay_lines(plan, len(selected), ReplayReport())))
            raise DeadLetterError(
                "none of the selected letters can be replayed through a raw topic (reasons above)"
            )
        report = None if args.dry_run else asyncio.run(resend(settings, plan, args.progress))
        print("\n".join(replay_lines(plan, len(selected), report)))
        if report is not None and report.failed:
            raise DeadLetterError(
                f"{len(report.failed):,} letter(s) could not be re-sent (above); nothing is "
                "lost: run the same replay again, ingest drops what already arrived as "
                "duplicates"
            )
