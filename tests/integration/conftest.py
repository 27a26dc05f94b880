"""Integration tests run against the real embedded stack (`make test` starts it)."""

from __future__ import annotations

import socket
import subprocess

import pytest

from streamapp.settings import Settings
from streamapp.stack.manager import Stack
from streamapp.worker import spawn_worker


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def stack():
    """The embedded Kafka and PostgreSQL; started if not running (idempotent)."""
    Stack(Settings()).up()


@pytest.fixture
def live_settings(stack, settings):
    return settings.model_copy(update={"web_port": free_port()})


@pytest.fixture
def worker(live_settings, tmp_path):
    """A real worker process of a fresh app; its log is shown if the test fails."""
    log_file = tmp_path / "worker.log"
    process = spawn_worker(live_settings, log_file)
    yield process
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
    print(log_file.read_text(errors="replace")[-5000:])
