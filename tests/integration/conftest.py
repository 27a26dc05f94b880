"""Integration tests run against the real embedded stack (`make test` starts it)."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from schemas.batches import event_batches
from schemas.feeds import FEEDS
from streamapp.kafka_io import ensure_topics, started_producer
from streamapp.replay.producer import raw_topics
from streamapp.settings import Settings
from streamapp.stack.manager import Stack
from streamapp.worker import spawn_worker

SNAPSHOT_TABLES = {
    # table -> columns compared (volatile ones, like when a dead letter was received, left out)
    "games": "*",
    "odds_quotes": "*",
    "player_boxscores": "*",
    "predictions": "*",
    "alerts": "*",
    "dead_letters": 'source_topic, partition, "offset", reason, error_type, key, payload',
}


INTEGRATION_DIR = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)  # before pytest's own hook deselects by -m
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test of this folder needs the stack: marked here, so that a module that forgets
    its ``pytestmark`` cannot make ``make test-unit`` start Kafka and PostgreSQL."""
    for item in items:
        if item.path.is_relative_to(INTEGRATION_DIR):
            item.add_marker(pytest.mark.integration)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def stack():
    """The embedded Kafka and PostgreSQL; started if not running (idempotent)."""
    Stack(Settings()).up()


def server_url(database: str) -> str:
    return Settings().effective_database_url.rsplit("/", 1)[0] + f"/{database}"


@pytest.fixture
def make_database(stack):
    """Creates empty databases on the stack's PostgreSQL server; drops them afterwards."""
    created = []

    def make() -> str:
        name = f"test_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return server_url(name)

    yield make
    with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
        for name in created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def live_settings(stack, settings, make_database):
    return settings.model_copy(update={"web_port": free_port(), "database_url": make_database()})


@pytest.fixture
def worker(live_settings, tmp_path):
    """A real worker process of a fresh app; its log is shown if the test fails."""
    log_file = tmp_path / "worker.log"
    process = spawn_worker(live_settings, log_file)
    yield process
    stop_worker(process)
    print(log_file.read_text(errors="replace")[-5000:])


def stop_worker(process: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM (faust shuts down cleanly), SIGKILL if that takes longer than ``timeout``."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def snapshot(url: str) -> dict[str, tuple[int, str]]:
    """Row count and a digest of the rows of every sink table."""
    result = {}
    with psycopg.connect(url) as conn:
        for table, columns in SNAPSHOT_TABLES.items():
            result[table] = conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), ''))"
                f" FROM (SELECT {columns} FROM {table}) r"
            ).fetchone()
    return result


def count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def metric_samples(port: int, name: str) -> list[tuple[dict[str, str], float]]:
    """(labels, value) of every sample called ``name`` on the worker's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def recovery_figures(port: int, patience: float = 60.0) -> tuple[float, float]:
    """The worker's last rebalance: seconds until ready and changelog records applied
    (reported once the worker is ready, which can be after its tables answer)."""
    deadline = time.monotonic() + patience
    while True:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            text = response.read().decode()
        families = {f.name: f for f in text_string_to_metric_families(text)}
        seconds = families["streamapp_last_recovery_seconds"].samples[0].value
        records = families["streamapp_last_recovery_records"].samples[0].value
        if seconds > 0:
            break
        assert time.monotonic() < deadline, "the worker never reported a finished recovery"
        time.sleep(0.5)
    print(f"last recovery: {seconds:.2f}s, {records:.0f} changelog records "
          f"({records / seconds:.0f} records/s)")  # fmt: skip
    return seconds, records


async def send_without_watermarks(settings, events) -> None:
    """The raw events, batched by league like a replay, and nothing that marks their end."""
    await ensure_topics(settings, raw_topics(settings))
    producer = await started_producer(settings, acks="all")
    try:
        by_key: dict[tuple[str, bytes], list] = {}
        for event in events:
            topic = settings.topic(FEEDS[event.feed].raw_topic)
            by_key.setdefault((topic, event.key.encode()), []).append(
                (event.to_bytes(), event.event_time.timestamp())
            )
        for (topic, key), batch in by_key.items():
            for message in event_batches(batch):
                await producer.send_and_wait(topic, message.value, key=key, headers=message.headers)
    finally:
        await producer.stop()
