"""A worker killed with SIGKILL, or the broker restarted, in the middle of a replay: the
final tables and the predictions equal the same functions applied offline — nothing lost,
nothing doubled (at-least-once delivery into idempotent state)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import urllib.parse
from pathlib import Path

import orjson
import pytest

from streamapp.kafka_io import read_all
from streamapp.replay.producer import replay
from streamapp.stack.kafka import EmbeddedKafka
from streamapp.summary import wait_until_drained
from streamapp.worker import spawn_worker
from tests.integration.conftest import count, free_port, recovery_figures, stop_worker
from tests.integration.test_state_tables import (
    get,
    offline_state,
    season_events,
    stored,
)

pytestmark = [pytest.mark.integration, pytest.mark.failover]


def assert_state_equals_offline(settings, events) -> None:
    expected = offline_state(events)
    port = settings.web_port
    emitted = {
        name: [orjson.loads(r.value)["event_id"] for r in asyncio.run(read_all(settings, name))]
        for name in (settings.topic(t) for t in ("predictions", "alerts", "settlements"))
    }
    predictions, alerts, settled = emitted.values()
    offline = len(expected["predictions"])
    print(f"{len(predictions)} prediction messages, {len(set(predictions))} distinct, {offline} "
          f"offline; {len(alerts)} alert messages, {len(set(alerts))} distinct, "
          f"{len(expected['alerts'])} offline; {len(set(settled))} settlements")  # fmt: skip
    # None lost, none invented; a redelivered event re-sends the same ids (at-least-once),
    # which the database and any consumer collapse.
    missing = sorted(set(expected["predictions"]) - set(predictions))
    extra = sorted(set(predictions) - set(expected["predictions"]))
    print(f"missing {len(missing)} {missing[:3]}; extra {len(extra)} {extra[:3]}")
    assert set(predictions) == set(expected["predictions"])
    assert set(alerts) == expected["alerts"]
    assert set(settled) == set(expected["settlements"])
    for key, value in expected["league-ratings"].items():
        live = stored(port, "league-ratings", key)
        assert [item[5] for item in live.pop("merge")["pending"]] == expected["waiting"][key]
        assert live == value, key
    for league in expected["league-ratings"]:
        prefix = urllib.parse.quote(league + "|")
        form = get(port, f"/tables/team-form?limit=1000&prefix={prefix}")
        assert {i["key"]: i["value"] for i in form["items"]} == {
            k: v for k, v in expected["team-form"].items() if k.startswith(league + "|")
        }
    for key in list(expected["odds-book"])[::40]:
        assert stored(port, "odds-book", key) == expected["odds-book"][key], key
    url = settings.database_url
    assert count(url, "predictions") == len(set(predictions))  # none doubled at rest
    assert count(url, "alerts") == len(set(alerts))
    assert count(url, "settlements") == len(set(settled))


def test_sigkill_of_one_of_two_workers_mid_replay_loses_and_doubles_nothing(
    live_settings, tmp_path, data_dir
):
    survivor_settings = live_settings
    victim_settings = survivor_settings.model_copy(
        update={"web_port": free_port(), "state_dir": Path(str(survivor_settings.state_dir) + "-v")}
    )
    survivor = spawn_worker(survivor_settings, tmp_path / "survivor.log")
    victim = spawn_worker(victim_settings, tmp_path / "victim.log")
    events = season_events(data_dir, "E0", "SP1", "D1", "I1")
    try:

        async def scenario():
            sending = asyncio.create_task(replay(survivor_settings, events, progress=False))
            await asyncio.sleep(12)  # both workers are busy by now
            os.kill(victim.pid, signal.SIGKILL)
            killed_at = time.monotonic()
            await sending
            await wait_until_drained(survivor_settings, timeout=400)
            return time.monotonic() - killed_at

        took_over = asyncio.run(scenario())
        print(f"survivor done {took_over:.1f}s after the kill")
        recovery_figures(survivor_settings.web_port)  # a standby had most of the changelogs
        assert_state_equals_offline(survivor_settings, events)
    finally:
        for worker in (survivor, victim):
            stop_worker(worker)


def test_broker_restart_mid_replay_loses_and_doubles_nothing(live_settings, tmp_path, data_dir):
    settings = live_settings
    worker = spawn_worker(settings, tmp_path / "worker.log")
    kafka = EmbeddedKafka(settings)
    events = season_events(data_dir, "E0", "SP1")
    try:

        async def scenario():
            await replay(settings, events[: len(events) // 2], progress=False)
            await asyncio.sleep(3)  # the worker is processing
            await asyncio.to_thread(kafka.down)
            await asyncio.sleep(5)
            await asyncio.to_thread(kafka.up)
            await replay(settings, events[len(events) // 2 :], progress=False)
            await wait_until_drained(settings, timeout=400)

        asyncio.run(scenario())
        assert worker.poll() is None, "the worker died with the broker"
        recovery_figures(settings.web_port)
        assert_state_equals_offline(settings, events)
    finally:
        stop_worker(worker)
