"""Hostile input on the real broker and PostgreSQL (issue 14): 12,000 generated raw messages
over every feed end clean or dead-lettered exactly once, and nothing restarts or is lost.

The generator (tests/fuzzing.py) knows each message's expected outcome; the test matches
the outcomes by source offset (dead letters) or event id (clean events), compares the topics
with PostgreSQL, reads the worker's log and /ready, and samples the group's committed raw
offsets while the worker runs: a commit may never pass a message whose outcome is not yet
visible. ``-s`` prints the figures.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from schemas.batches import batch_items
from schemas.feeds import FEEDS
from streamapp.kafka_io import kafka_admin
from streamapp.settings import Settings
from streamapp.worker import spawn_worker
from tests.fuzzing import Expect, FuzzMessage, clean_messages, fuzz_messages
from tests.integration.conftest import free_port, server_url, stop_worker

pytestmark = pytest.mark.integration

TOTAL = 12_000
RSS_MARGIN_MB = 50
READY_PATIENCE = 120  # seconds for a fresh worker to be ready
STALL_PATIENCE = 45  # seconds without any progress of the group's lag: the worker is stuck
DRAIN_TIMEOUT = 240
SAMPLE_SECONDS = 2.0
SETTLE_POLLS = 3
# What faust (mode) logs when an agent's actor dies and is replaced.
CRASH_MARKERS = ("Crashed reason=", "Restarting dead", "Max restarts exceeded")
FEED_TABLES = {"games": "games", "odds": "odds_quotes", "boxscores": "player_boxscores"}


@dataclass(frozen=True)
class Sent:
    message: FuzzMessage
    topic: str
    partition: int
    offset: int

    @property
    def source(self) -> tuple[str, int, int]:
        return self.topic, self.partition, self.offset


@dataclass
class Outcomes:
    """What the worker said about raw messages so far: dead letters by source offset, clean
    events by id."""

    letters: dict[tuple[str, int, int], list] = field(default_factory=lambda: defaultdict(list))
    clean: dict[str, list] = field(default_factory=lambda: defaultdict(list))
    other_letters: Counter = field(default_factory=Counter)  # of later stages, by error type


@dataclass
class Run:
    settings: Settings
    sent: list[Sent]
    outcomes: Outcomes
    drained: bool
    produce_seconds: float
    drain_seconds: float
    rss_start_mb: float
    rss_end_mb: float
    hwm_end_mb: float
    alive: bool
    log: str
    ready_final: tuple[int, str]
    ready_seen: Counter
    commit_samples: int
    commit_violations: list[str]
    committed: dict[TopicPartition, int]
    end_offsets: dict[TopicPartition, int]
    duplicates_metric: dict[str, float]
    dead_letters_metric: Counter
    lag: dict[str, int] = field(default_factory=dict)  # uncommitted messages at the end
    pg_letters: list[tuple] = field(default_factory=list)
    pg_stage_column: bool = False
    pg_rows: dict[str, set] = field(default_factory=dict)


def raw_topics(settings: Settings) -> list[str]:
    return [settings.topic(feed.raw_topic) for feed in FEEDS.values()]


def clean_topics(settings: Settings) -> list[str]:
    return [settings.topic(feed.clean_topic) for feed in FEEDS.values()]


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
    except OSError as error:
        return 0, repr(error)


def metric_totals(port: int, name: str) -> list[tuple[dict, float]]:
    _, text = get(f"http://127.0.0.1:{port}/metrics")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    family = families.get(name)
    samples = family.samples if family else []
    return [(s.labels, s.value) for s in samples if s.name.endswith("_total")]


class Watcher:
    """Reads the dead-letter and clean topics as they grow, and samples the consumer
    group's committed raw offsets against what is visible."""

    def __init__(self, settings: Settings, sent: list[Sent]) -> None:
        self.settings = settings
        self.sent = sent
        self.outcomes = Outcomes()
        self.raw = set(raw_topics(settings))
        self.samples = 0
        self.violations: list[str] = []
        self.ready_seen: Counter = Counter()
        self.admin_scope = contextlib.AsyncExitStack()  # keeps the admin client until stop

    async def start(self) -> None:
        names = [self.settings.topic("deadletter"), *clean_topics(self.settings)]
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap_servers,
            enable_auto_commit=False,
            isolation_level="read_committed",
            max_partition_fetch_bytes=self.settings.max_message_bytes,
            fetch_max_bytes=4 * self.settings.max_message_bytes,
        )
        await self.consumer.start()
        # The worker declares its output topics at start; wait for them.
        deadline = time.monotonic() + READY_PATIENCE
        while True:
            await self.consumer._client.force_metadata_update()
            parts = {n: self.consumer.partitions_for_topic(n) for n in names}
            if all(parts.values()):
                break
            assert time.monotonic() < deadline, f"output topics never appeared: {parts}"
            await asyncio.sleep(1)
        self.partitions = [TopicPartition(n, p) for n, ps in parts.items() for p in sorted(ps)]
        self.consumer.assign(self.partitions)
        await self.consumer.seek_to_beginning(*self.partitions)
        self.admin = await self.admin_scope.enter_async_context(kafka_admin(self.settings))

    async def stop(self) -> None:
        await self.consumer.stop()
        await self.admin_scope.aclose()

    async def catch_up(self) -> None:
        """Read both topics up to their current end."""
        end = await self.consumer.end_offsets(self.partitions)
        deadline_tp = {tp: last for tp, last in end.items()}
        while deadline_tp:
            batch = await self.consumer.getmany(timeout_ms=500, max_records=5_000)
            for records in batch.values():
                for record in records:
                    self._take(record)
            for tp in list(deadline_tp):
                if await self.consumer.position(tp) >= deadline_tp[tp]:
                    del deadline_tp[tp]

    def _take(self, record) -> None:
        if record.topic == self.settings.topic("deadletter"):
            letter = orjson.loads(record.value)
            source = (letter["source_topic"], letter["partition"], letter["offset"])
            if letter["source_topic"] in self.raw:
                self.outcomes.letters[source].append((record.key, letter))
            else:
                self.outcomes.other_letters[letter["error_type"]] += 1
        else:
            for value, _ in batch_items(record.value, record.headers, record.timestamp / 1000):
                event = orjson.loads(value)
                self.outcomes.clean[event["event_id"]].append((record.topic, record.key, event))

    async def lag_by_topic(self, names: list[str]) -> Counter:
        """Messages of ``names`` the group has not committed (all of a partition without a
        commit)."""
        offsets = await self.admin.list_consumer_group_offsets(self.settings.app_id)
        partitions = [
            TopicPartition(n, p) for n in names for p in self.consumer.partitions_for_topic(n) or ()
        ]
        end = await self.consumer.end_offsets(partitions)
        lag = Counter()
        for tp, last in end.items():
            lag[tp.topic] += last - (offsets[tp].offset if tp in offsets else 0)
        return lag

    async def committed(self) -> dict[TopicPartition, int]:
        offsets = await self.admin.list_consumer_group_offsets(self.settings.app_id)
        return {tp: meta.offset for tp, meta in offsets.items() if tp.topic in self.raw}

    def visible(self, item: Sent) -> bool:
        m = item.message
        if m.expect is Expect.DUPLICATE:  # dropped silently: done once its original is
            return m.event_id in self.outcomes.clean
        return item.source in self.outcomes.letters or (
            m.expect in (Expect.CLEAN, Expect.EITHER) and m.event_id in self.outcomes.clean
        )

    async def sample(self) -> dict[TopicPartition, int]:
        """Committed offsets first, outputs after: whatever was committed must by then have
        its outcome on the broker (outputs are acknowledged before the offset)."""
        committed = await self.committed()
        await self.catch_up()
        self.samples += 1
        by_partition = defaultdict(list)
        for item in self.sent:
            by_partition[TopicPartition(item.topic, item.partition)].append(item)
        for tp, offset in committed.items():
            for item in sorted(by_partition[tp], key=lambda s: s.offset):
                if item.offset >= offset:
                    break
                if not self.visible(item):
                    self.violations.append(
                        f"{tp.topic}[{tp.partition}] committed {offset} but offset "
                        f"{item.offset} ({item.message.case}, {item.message.expect.value}) has "
                        "no outcome"
                    )
                    break
        status, _ = await asyncio.to_thread(get, f"http://127.0.0.1:{self.settings.web_port}/ready")
        self.ready_seen[status] += 1
        return committed

    async def watch(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.sample()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SAMPLE_SECONDS)


async def produce(settings: Settings, messages: list[FuzzMessage]) -> list[Sent]:
    """Send in order (one league key keeps one partition's order); note where each landed."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        max_request_size=settings.max_message_bytes,
        linger_ms=20,
    )
    await producer.start()
    try:
        futures = [
            await producer.send(settings.topic(FEEDS[m.feed].raw_topic), m.value, key=m.key)
            for m in messages
        ]
        results = await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return [Sent(m, r.topic, r.partition, r.offset) for m, r in zip(messages, results, strict=True)]


async def wait_for_worker(settings: Settings, watcher: Watcher) -> bool:
    """True once the group has committed every raw message and every message the sinks read
    (dead letters, clean games/odds/box scores) for a few polls; False when that lag stops
    moving or time runs out."""
    names = [*raw_topics(settings), settings.topic("deadletter")]
    names += [settings.topic(FEEDS[feed].clean_topic) for feed in FEED_TABLES]
    started = time.monotonic()
    last, last_change, steady = None, time.monotonic(), 0
    while time.monotonic() - started < DRAIN_TIMEOUT:
        lag = sum((await watcher.lag_by_topic(names)).values())
        if lag != last:
            last, last_change = lag, time.monotonic()
        steady = steady + 1 if lag == 0 else 0
        if steady >= SETTLE_POLLS:
            return True
        if time.monotonic() - last_change > STALL_PATIENCE:
            print(f"the group's lag stayed at {lag} for {STALL_PATIENCE}s: stuck")
            return False
        await asyncio.sleep(SAMPLE_SECONDS)
    print(f"not drained after {DRAIN_TIMEOUT}s (lag {last})")
    return False


def create_database() -> tuple[str, str]:
    name = f"test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, server_url(name)


def drop_database(name: str) -> None:
    with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def read_postgres(run: Run) -> None:
    raw = raw_topics(run.settings)
    with psycopg.connect(run.settings.database_url) as conn:
        columns = {
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_name = 'dead_letters'"
            )
        }
        run.pg_stage_column = "stage" in columns
        run.pg_letters = conn.execute(
            'SELECT source_topic, partition, "offset", payload, error_type FROM dead_letters'
            " WHERE source_topic = ANY(%s)",
            (raw,),
        ).fetchall()
        run.pg_rows = {
            "games": set(conn.execute("SELECT game_id, home_team, away_team FROM games")),
            "odds": {r[0] for r in conn.execute("SELECT event_id FROM odds_quotes")},
            "boxscores": set(conn.execute("SELECT game_id, player_id FROM player_boxscores")),
        }


def run_worker_with(messages: list[FuzzMessage], tmp: Path) -> Run:
    """A fresh worker (own app id, topics, state, database) fed ``messages``."""
    tag = uuid.uuid4().hex[:8]
    db_name, db_url = create_database()
    settings = Settings(
        app_id=f"fuzz-{tag}",
        topic_prefix=f"fuzz-{tag}",
        state_dir=tmp / "state",
        window_cleanup_seconds=3600,
        web_port=free_port(),
        database_url=db_url,
    )
    log_file = tmp / "worker.log"
    process = spawn_worker(settings, log_file)
    try:
        run = asyncio.run(scenario(settings, process, messages))
        run.log = log_file.read_text(errors="replace")
        read_postgres(run)
        return run
    finally:
        stop_worker(process)
        drop_database(db_name)


async def scenario(
    settings: Settings, process: subprocess.Popen, messages: list[FuzzMessage]
) -> Run:
    base = f"http://127.0.0.1:{settings.web_port}"
    deadline = time.monotonic() + READY_PATIENCE
    while (await asyncio.to_thread(get, f"{base}/ready"))[0] != 200:
        assert process.poll() is None, "the worker exited at start"
        assert time.monotonic() < deadline, "the worker was never ready"
        await asyncio.sleep(1)
    rss_start, _ = memory_mb(process.pid)
    sent: list[Sent] = []
    watcher = Watcher(settings, sent)
    await watcher.start()
    stop = asyncio.Event()
    watching = asyncio.create_task(watcher.watch(stop))
    try:
        started = time.monotonic()
        sent += await produce(settings, messages)
        produced = time.monotonic()
        drained = await wait_for_worker(settings, watcher)
        drain_seconds = time.monotonic() - produced
    finally:
        stop.set()
        await watching
    committed = await watcher.sample()  # the last sample also reads every outcome
    # Every agent's input committed: the ones no sink waits for too (availability, form...).
    consumed = [*raw_topics(settings), *clean_topics(settings), settings.topic("deadletter")]
    lag = await watcher.lag_by_topic(consumed)
    raw_partitions = {TopicPartition(s.topic, s.partition) for s in sent}
    end = await watcher.consumer.end_offsets(list(raw_partitions))
    await watcher.stop()
    alive = process.poll() is None
    rss_end, hwm_end = memory_mb(process.pid) if alive else (0.0, 0.0)
    duplicates = {
        labels["feed"]: value
        for labels, value in metric_totals(settings.web_port, "streamapp_duplicates")
    }
    dead_letters = Counter()
    for labels, value in metric_totals(settings.web_port, "streamapp_dead_letters"):
        dead_letters[labels.get("error_type", "?")] += value
    return Run(
        settings=settings,
        sent=sent,
        outcomes=watcher.outcomes,
        drained=drained,
        produce_seconds=produced - started,
        drain_seconds=drain_seconds,
        rss_start_mb=rss_start,
        rss_end_mb=rss_end,
        hwm_end_mb=hwm_end,
        alive=alive,
        log="",
        ready_final=await asyncio.to_thread(get, f"{base}/ready"),
        ready_seen=watcher.ready_seen,
        commit_samples=watcher.samples,
        commit_violations=watcher.violations,
        committed=committed,
        end_offsets=end,
        duplicates_metric=duplicates,
        dead_letters_metric=dead_letters,
        lag={t: n for t, n in lag.items() if n},
    )


class Problems:
    """Failures grouped by what went wrong and which case, with a few examples each."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.examples: dict[tuple, list[str]] = defaultdict(list)

    def add(self, what: str, case: str, example: str = "") -> None:
        self.counts[(what, case)] += 1
        if example and len(self.examples[(what, case)]) < 2:
            self.examples[(what, case)].append(example[:300])

    def __bool__(self) -> bool:
        return bool(self.counts)

    def render(self) -> str:
        lines = []
        for (what, case), n in sorted(self.counts.items()):
            lines.append(f"{n:>6} x {what} [{case}]")
            lines += [f"           e.g. {e}" for e in self.examples[(what, case)]]
        return "\n".join(lines)


def printable(key: bytes | None) -> bool:
    """A key a dead letter should show as is (others may be shown escaped)."""
    try:
        return key is not None and key.decode().isprintable()
    except UnicodeDecodeError:
        return False


def check_outcomes(run: Run, problems: Problems) -> Counter:
    """(a) every message's outcome, matched by source offset or event id; returns figures."""
    outcomes = run.outcomes
    figures: Counter = Counter()
    sources = {s.source: s for s in run.sent}
    ids = Counter(s.message.event_id for s in run.sent if s.message.expect is not Expect.DUPLICATE)
    for item in run.sent:
        m = item.message
        letters = outcomes.letters.get(item.source, [])
        clean = outcomes.clean.get(m.event_id, []) if ids[m.event_id] == 1 else []
        where = f"{item.topic}[{item.partition}]@{item.offset} key={m.key!r} value={m.value!r}"
        for record_key, letter in letters:
            figures[f"dead-lettered {letter['error_type']}"] += 1
            figures[f"  {m.case.split(':')[0]} -> {letter['error_type']}"] += 1
            if base64.b64decode(letter["payload_b64"]) != (m.value or b""):
                problems.add("dead letter payload differs from the original bytes", m.case, where)
            if record_key != m.key:
                problems.add("dead letter's Kafka key differs from the raw key", m.case, where)
            if printable(m.key) and letter.get("key") != m.key.decode():
                problems.add("dead letter's key field differs", m.case, f"{letter.get('key')!r}")
            if letter["error_type"] == "internal":
                problems.add(
                    "parked as internal (our bug, not the input's)",
                    m.case,
                    f"{letter['reason']} | {where}",
                )
        n_dead, n_clean = len(letters), len(clean)
        if m.expect is Expect.CLEAN:
            figures["clean"] += n_clean == 1
            if (n_dead, n_clean) != (0, 1):
                problems.add(f"valid event: {n_clean} clean, {n_dead} dead letters", m.case, where)
        elif m.expect is Expect.DUPLICATE:
            figures["duplicates (expected)"] += 1
            if n_dead:
                problems.add("exact duplicate dead-lettered", m.case, where)
        elif m.expect is Expect.DEAD:
            wrong_type = letters and letters[0][1]["error_type"] not in m.error_types
            if n_dead != 1 or n_clean:
                problems.add(f"{n_dead} dead letters, {n_clean} clean (want 1, 0)", m.case, where)
            elif wrong_type and letters[0][1]["error_type"] != "internal":
                problems.add(
                    f"error type {letters[0][1]['error_type']}",
                    m.case,
                    f"want {sorted(m.error_types)}: {letters[0][1]['reason']}",
                )
        else:
            figures[f"either -> {'clean' if n_clean else 'dead'}"] += 1
            if (n_dead, n_clean) not in ((1, 0), (0, 1)):
                problems.add(f"{n_dead} dead letters, {n_clean} clean (want one)", m.case, where)
    for source in outcomes.letters:
        if source not in sources:
            problems.add("dead letter for an offset never sent", "?", str(source))
    for event_id, records in outcomes.clean.items():
        if event_id not in ids:
            problems.add("clean event never sent", "?", event_id)
        elif len(records) > 1:
            problems.add(f"event id {len(records)} times on the clean topics", "?", event_id)
    return figures


def check_postgres(run: Run, problems: Problems) -> None:
    """(b) PostgreSQL holds what the topics hold."""
    topic_letters = {s: ls for s, ls in run.outcomes.letters.items() if ls}
    stored = Counter((t, p, o) for t, p, o, _, _ in run.pg_letters)
    sent = {s.source: s.message for s in run.sent}
    for source in topic_letters.keys() - stored.keys():
        problems.add(
            "dead letter on the topic, not in PostgreSQL",
            sent[source].case if source in sent else "?",
            str(source),
        )
    for source in stored.keys() - topic_letters.keys():
        problems.add("dead letter in PostgreSQL, not on the topic", "?", str(source))
    for source, n in stored.items():
        if n > 1:
            problems.add(f"{n} PostgreSQL dead letters for one raw offset", "?", str(source))
    for t, p, o, payload, _ in run.pg_letters:
        original = sent.get((t, p, o))
        if original and bytes(payload) != (original.value or b""):
            problems.add("PostgreSQL dead letter payload differs", original.case, f"{t}[{p}]@{o}")
    clean = defaultdict(list)
    for records in run.outcomes.clean.values():
        for topic, _, event in records:
            clean[topic.rsplit(".", 1)[-1]].append(event)
    expected = {
        "games": {(e["game_id"], e["home_team"], e["away_team"]) for e in clean["games"]},
        "odds": {e["event_id"] for e in clean["odds"]},
        "boxscores": {(e["game_id"], e["player_id"]) for e in clean["boxscores"]},
    }
    for feed, rows in expected.items():
        for missing in list(rows - run.pg_rows[feed])[:3]:
            problems.add(f"clean {feed} not in {FEED_TABLES[feed]}", feed, str(missing))
        for extra in list(run.pg_rows[feed] - rows)[:3]:
            problems.add(f"{FEED_TABLES[feed]} row without its clean event", feed, str(extra))
        if rows != run.pg_rows[feed]:
            problems.add(
                f"{FEED_TABLES[feed]}: {len(run.pg_rows[feed])} rows, clean topic {len(rows)}", feed
            )


def check_worker(run: Run, problems: Problems) -> Counter:
    """(c) no crash, no restart, ready at the end; (d) commits; duplicates counted."""
    crashes = Counter()
    for line in run.log.splitlines():
        for marker in CRASH_MARKERS:
            if marker in line:
                crashes[marker] += 1
                problems.add(f"worker log: {marker!r}", "worker", line)
    if not run.alive:
        problems.add("worker process exited", "worker")
    if run.ready_final[0] != 200:
        problems.add(
            f"/ready answered {run.ready_final[0]} at the end", "worker", run.ready_final[1]
        )
    if not run.drained:
        problems.add("the worker never caught up (raw/clean/dead-letter lag not 0)", "worker")
    for topic, n in run.lag.items():
        problems.add(f"{n} messages of {topic} not committed at the end", "commit")
    for violation in run.commit_violations:
        problems.add("committed offset passed an unprocessed message", "commit", violation)
    for tp, last in sorted(run.end_offsets.items()):
        if run.committed.get(tp) != last:
            problems.add(
                "committed offset != end offset",
                "commit",
                f"{tp.topic}[{tp.partition}] committed {run.committed.get(tp)}, end {last}",
            )
    expected_duplicates = Counter(
        s.message.feed for s in run.sent if s.message.expect is Expect.DUPLICATE
    )
    for feed in FEEDS:
        counted = run.duplicates_metric.get(feed, 0)
        if counted != expected_duplicates[feed]:
            problems.add(
                f"streamapp_duplicates_total {counted:g}, sent {expected_duplicates[feed]}", feed
            )
    return crashes


def print_figures(title: str, run: Run, figures: Counter, crashes: Counter) -> None:
    print(f"\n=== {title} ===")
    print(
        f"sent {len(run.sent):,} messages: "
        + ", ".join(
            f"{feed} {n:,}" for feed, n in Counter(s.message.feed for s in run.sent).items()
        )
    )
    print(
        "expected: "
        + ", ".join(
            f"{e.value} {n:,}" for e, n in Counter(s.message.expect for s in run.sent).items()
        )
    )
    print(
        f"produced in {run.produce_seconds:.1f}s; worker "
        f"{'drained' if run.drained else 'NOT drained'} "
        f"{run.drain_seconds:.1f}s after the last send"
    )
    print(
        f"worker RSS {run.rss_start_mb:.0f} MB ready -> {run.rss_end_mb:.0f} MB after the run "
        f"(VmHWM {run.hwm_end_mb:.0f} MB)"
    )
    print(
        f"duplicates metric {dict(run.duplicates_metric)}; dead letters metric "
        f"{dict(run.dead_letters_metric)}; "
        f"later-stage dead letters {dict(run.outcomes.other_letters)}"
    )
    print(
        f"/ready during the run {dict(run.ready_seen)}, at the end {run.ready_final[0]}; "
        f"{run.commit_samples} commit samples, {len(run.commit_violations)} violations; "
        f"crash lines in the log {dict(crashes)}; uncommitted at the end {run.lag}"
    )
    print(
        f"PostgreSQL: {len(run.pg_letters):,} raw dead letters (stage column: "
        f"{run.pg_stage_column}), "
        + ", ".join(f"{FEED_TABLES[f]} {len(r):,}" for f, r in run.pg_rows.items())
    )
    for name, n in sorted(figures.items(), key=lambda kv: (kv[0].startswith("  "), kv[0])):
        print(f"  {n:>6,}  {name}")


@pytest.fixture(scope="module")
def hostile_run(stack, tmp_path_factory) -> Run:
    messages = fuzz_messages(datetime.now(UTC), total=TOTAL)
    return run_worker_with(messages, tmp_path_factory.mktemp("fuzz-hostile"))


def test_every_hostile_message_ends_once_and_nothing_restarts_or_is_lost(hostile_run):
    run = hostile_run
    problems = Problems()
    figures = check_outcomes(run, problems)
    check_postgres(run, problems)
    crashes = check_worker(run, problems)
    print_figures("hostile run", run, figures, crashes)
    if problems:
        print("\n" + problems.render())
        print("\nworker log (tail):\n" + run.log[-3000:])
    assert not problems, f"{sum(problems.counts.values())} problems:\n{problems.render()}"


def test_memory_after_a_hostile_run_within_50_mb_of_a_clean_run(
    hostile_run, stack, tmp_path_factory
):
    messages = clean_messages(datetime.now(UTC), total=len(hostile_run.sent))
    clean = run_worker_with(messages, tmp_path_factory.mktemp("fuzz-clean"))
    problems = Problems()
    figures = check_outcomes(clean, problems)
    print_figures("clean run (baseline)", clean, figures, Counter())
    growth = hostile_run.rss_end_mb - clean.rss_end_mb
    print(
        f"RSS after the hostile run {hostile_run.rss_end_mb:.0f} MB, after the clean run "
        f"{clean.rss_end_mb:.0f} MB: {growth:+.0f} MB"
    )
    assert clean.drained and not problems, problems.render()
    assert hostile_run.alive, "the hostile run's worker died: no RSS to compare"
    assert growth <= RSS_MARGIN_MB
