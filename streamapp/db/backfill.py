"""`streamapp backfill`: historical files straight into PostgreSQL, resumable.

One job per file (named by source, file name and content hash). Events are read in the
file's own order; each batch's rows and the job's position are committed in one
transaction, so a run killed at any point resumes exactly after its last committed batch,
and the upserts make any overlap harmless.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from tqdm import tqdm

from schemas import FEEDS, DeadLetter
from schemas.feeds import InvalidEvent, parse_feed_event
from streamapp.db.migrate import migrate
from streamapp.db.sinks import FEED_SINKS, SINK_TABLES
from streamapp.errors import StreamappError
from streamapp.replay.catalog import read_file, source_of
from streamapp.replay.sources import FeedEvent
from streamapp.settings import Settings

log = logging.getLogger(__name__)
BATCH = 2000


@dataclass
class JobResult:
    job: str
    status: str
    processed: int
    failed: int
    seconds: float


def job_name(path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return f"{source_of(path)}:{path.name}:{digest}"


def rows_by_table(
    events: list[FeedEvent], job: str, first_position: int
) -> tuple[dict[str, list[tuple]], int]:
    """Rows for each sink table, and how many events were invalid (kept as dead letters)."""
    rows: dict[str, list[tuple]] = defaultdict(list)
    failed = 0
    for position, event in enumerate(events, start=first_position):
        payload = event.to_bytes()
        try:
            parsed = parse_feed_event(FEEDS[event.feed], payload)
        except InvalidEvent as invalid:
            failed += 1
            letter = DeadLetter.for_message(
                reason=invalid.reason,
                error_type=invalid.error_type,
                topic=f"backfill:{job}",
                partition=0,
                offset=position,
                key=event.key.encode(),
                payload=payload,
                received_at=datetime.now(UTC),
                stage="backfill",
            )
            rows["dead_letters"].append(SINK_TABLES["dead_letters"].row(letter))
            continue
        table = FEED_SINKS[event.feed]
        rows[table].append(SINK_TABLES[table].row(parsed))
    return rows, failed


def _last_run(conn, job: str):
    return conn.execute(
        "SELECT run_id, status, position FROM ingestion_runs WHERE job = %s"
        " ORDER BY started_at DESC LIMIT 1",
        (job,),
    ).fetchone()


def backfill_file(conn: psycopg.Connection, path: Path, force: bool = False) -> JobResult:
    job = job_name(path)
    started = time.monotonic()
    locked = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (job,)).fetchone()[0]
    if not locked:
        raise StreamappError(f"another backfill of {path.name} is running; wait for it to end")
    try:
        return _run_job(conn, path, job, started, force)
    finally:
        conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (job,))


def _run_job(conn, path: Path, job: str, started: float, force: bool) -> JobResult:
    last = _last_run(conn, job)
    if last and last[1] == "succeeded" and not force:
        log.info("%s already loaded (run %s); --force loads it again", path.name, last[0])
        return JobResult(job, "skipped", 0, 0, 0.0)
    if last and last[1] == "running":
        # Nothing else runs this job now: that run was killed.
        conn.execute(
            "UPDATE ingestion_runs SET status = 'interrupted' WHERE run_id = %s", (last[0],)
        )
    resume = last is not None and last[1] != "succeeded"
    position = last[2] if resume else 0
    run_id = uuid.uuid4().hex
    conn.execute(
        "INSERT INTO ingestion_runs (run_id, source, job, status, position, resumed_from)"
        " VALUES (%s, %s, %s, 'running', %s, %s)",
        (run_id, source_of(path), job, position, last[0] if resume else None),
    )
    events = list(read_file(path))
    processed = failed = 0
    try:
        with tqdm(total=len(events), initial=position, unit="ev", desc=path.name) as bar:
            while position < len(events):
                chunk = events[position : position + BATCH]
                rows, bad = rows_by_table(chunk, job, position)
                with conn.transaction():
                    for table, table_rows in rows.items():
                        with conn.cursor() as cursor:
                            cursor.executemany(SINK_TABLES[table].sql, table_rows)
                    position += len(chunk)
                    processed += len(chunk) - bad
                    failed += bad
                    conn.execute(
                        "UPDATE ingestion_runs SET position = %s, rows_processed = %s,"
                        " rows_failed = %s WHERE run_id = %s",
                        (position, processed, failed, run_id),
                    )
                bar.update(len(chunk))
    except BaseException as error:
        conn.execute(
            "UPDATE ingestion_runs SET status = 'failed', error = %s, finished_at = now(),"
            " duration_s = %s WHERE run_id = %s",
            (repr(error)[:2000], time.monotonic() - started, run_id),
        )
        raise
    seconds = time.monotonic() - started
    conn.execute(
        "UPDATE ingestion_runs SET status = 'succeeded', finished_at = now(), duration_s = %s"
        " WHERE run_id = %s",
        (seconds, run_id),
    )
    return JobResult(job, "succeeded", processed, failed, seconds)


def backfill(settings: Settings, paths: list[Path], force: bool = False) -> list[JobResult]:
    url = settings.effective_database_url
    migrate(url)
    with psycopg.connect(url, autocommit=True) as conn:
        return [backfill_file(conn, path, force) for path in paths]
