"""Versioned SQL migrations (streamapp/db/migrations/NNNN_name.sql), applied in order, once.

Each migration runs in its own transaction under an advisory lock, so workers starting
together apply it once; a changed migration file that was already applied is an error.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from importlib import resources

import psycopg

from streamapp.errors import StreamappError

log = logging.getLogger(__name__)
LOCK_ID = 7_406_921  # any constant shared by every streamapp migrator


class MigrationError(StreamappError):
    """The database schema cannot be brought up to date."""


class DatabaseUnavailable(StreamappError):
    """PostgreSQL cannot be reached."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]


def migrations() -> list[Migration]:
    found = []
    for entry in resources.files("streamapp.db.migrations").iterdir():
        if entry.name.endswith(".sql"):
            version, _, name = entry.name.removesuffix(".sql").partition("_")
            found.append(Migration(int(version), name, entry.read_text()))
    return sorted(found, key=lambda m: m.version)


def migrate(url: str) -> list[Migration]:
    """Apply pending migrations; return those applied now."""
    applied_now = []
    try:
        conn = psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError as error:
        raise DatabaseUnavailable(
            f"PostgreSQL is not reachable ({error}); start it with `streamapp stack up` "
            "or set DATABASE_URL."
        ) from error
    with conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_ID,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = dict(conn.execute("SELECT version, checksum FROM schema_migrations").fetchall())
            for migration in migrations():
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        raise MigrationError(
                            f"migration {migration.version} ({migration.name}) changed after it "
                            "was applied; add a new migration instead of editing an old one."
                        )
                    continue
                with conn.transaction():
                    conn.execute(migration.sql)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum)"
                        " VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                log.info("applied migration %04d %s", migration.version, migration.name)
                applied_now.append(migration)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_ID,))
    return applied_now
