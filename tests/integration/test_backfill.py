"""A backfill killed halfway and restarted ends with the same rows as an uninterrupted one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest

from tests.integration.conftest import snapshot

pytestmark = pytest.mark.integration


def backfill_command(files) -> list[str]:
    return [sys.executable, "-m", "streamapp.cli", "backfill", *map(str, files)]


def run_backfill(url: str, files) -> subprocess.CompletedProcess:
    return subprocess.run(
        backfill_command(files), env={**os.environ, "DATABASE_URL": url},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def position(url: str) -> int:
    try:
        with psycopg.connect(url) as conn:
            return conn.execute("SELECT coalesce(sum(position), 0) FROM ingestion_runs").fetchone()[
                0
            ]
    except psycopg.errors.UndefinedTable:
        return 0


def running_jobs(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT count(*) FROM ingestion_runs WHERE status = 'running'"
        ).fetchone()[0]


def killed_midway(url: str, files, kill_at: int) -> bool:
    """Starts a backfill and kills it with SIGKILL once ``kill_at`` events are committed.

    False when the kill interrupted nothing: the backfill had ended first (``send_signal``
    then sends nothing and the exit code is 0), or it was past its last job.
    """
    process = subprocess.Popen(
        backfill_command(files), env={**os.environ, "DATABASE_URL": url},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while position(url) < kill_at and process.poll() is None:
        assert time.monotonic() < deadline, "the backfill made no progress"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    return process.returncode == -signal.SIGKILL and running_jobs(url) > 0


def test_backfill_killed_halfway_resumes_to_the_same_rows(make_database, data_dir):
    files = sorted((data_dir / "football-data").glob("*.csv"))[:12]
    files.append(data_dir / "moneylines" / "nba.csv")
    # A slow start (a loaded machine) or a fast finish can let the backfill end before the
    # kill: then start again on a fresh database and kill earlier.
    for kill_at in (60_000, 30_000, 10_000):
        interrupted = make_database()
        if killed_midway(interrupted, files, kill_at):
            break
    else:
        pytest.fail("the backfill finished before every kill")
    clean = make_database()
    killed_at = position(interrupted)

    resumed = run_backfill(interrupted, files)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    whole = run_backfill(clean, files)
    assert whole.returncode == 0, whole.stderr[-3000:]

    assert snapshot(interrupted) == snapshot(clean)
    with psycopg.connect(interrupted) as conn:
        runs = conn.execute(
            "SELECT status, position, resumed_from IS NOT NULL FROM ingestion_runs"
            " WHERE status <> 'succeeded' OR resumed_from IS NOT NULL"
        ).fetchall()
        total = conn.execute(
            "SELECT sum(position) FROM ingestion_runs WHERE status = 'succeeded'"
        ).fetchone()[0]
    assert "interrupted" in {status for status, _, _ in runs}
    assert any(resumed_flag for _, _, resumed_flag in runs)
    print(f"killed at {killed_at:,} events; resumed to {total:,}")

    # Loading the same files again changes nothing and is recorded as skipped.
    again = run_backfill(clean, files)
    assert again.returncode == 0 and again.stdout.count("skipped") == len(files)
