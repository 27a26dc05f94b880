"""Kafka chores outside the worker: what a user sees when the broker is not there."""

from __future__ import annotations

import asyncio
import socket

import pytest

from streamapp.errors import StackError
from streamapp.kafka_io import kafka_admin
from streamapp.settings import Settings


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_admin_client_of_an_absent_broker_names_the_fix():
    settings = Settings(broker=f"kafka://127.0.0.1:{closed_port()}")

    async def use() -> None:
        async with kafka_admin(settings):
            pytest.fail("an admin client of no broker was started")

    with pytest.raises(StackError, match="streamapp stack up") as raised:
        asyncio.run(use())
    assert settings.bootstrap_servers in str(raised.value)
