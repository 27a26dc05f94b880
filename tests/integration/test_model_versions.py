"""Model versions swapped live on a running worker through the control topic, and rolled
back, without a restart; a bad control message is dead-lettered, not fatal."""

from __future__ import annotations

import asyncio
import json
import time

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from schemas import Prediction
from streamapp.errors import StreamappError
from streamapp.kafka_io import read_all, read_events
from streamapp.model_control import send_control
from streamapp.replay.catalog import timeline
from streamapp.replay.producer import replay
from streamapp.summary import wait_until_drained
from tests.integration.oracle import get

pytestmark = pytest.mark.integration


def wait_for_active(port: int, version: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        models = get(port, "/models")
        if models["active"] == version or time.monotonic() > deadline:
            return models
        time.sleep(0.5)


def test_publish_activate_and_roll_back_live(live_settings, worker, data_dir, tmp_path):
    settings = live_settings
    events = [e for e in timeline([data_dir / "football-data" / "E0_2021.csv"])]
    half = len(events) // 2
    v2 = tmp_path / "v2.json"
    v2.write_text(json.dumps({"version": "v2", "sports": {"soccer": {"elo_weight": 0.6}}}))

    async def scenario():
        await replay(settings, events[:half], progress=False, complete=False)
        await wait_until_drained(settings, timeout=180)
        published = await send_control(settings, "publish", str(v2))
        models = await asyncio.to_thread(wait_for_active, settings.web_port, "v2")
        await replay(settings, events[half:], progress=False)
        await wait_until_drained(settings, timeout=180)
        # a control message no worker can apply: dead-lettered, the worker keeps going
        producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers)
        await producer.start()
        await producer.send_and_wait(settings.topic("control"), b'{"action": "explode"}')
        await producer.stop()
        rolled = await send_control(settings, "rollback", None)
        back = await asyncio.to_thread(wait_for_active, settings.web_port, "v1")
        with pytest.raises(StreamappError, match="unknown model version"):
            await send_control(settings, "activate", "v9")
        predictions = await read_events(settings, settings.topic("predictions"))
        letters = await read_all(settings, settings.topic("deadletter"))
        return published, models, rolled, back, predictions, letters

    published, models, rolled, back, records, letters = asyncio.run(scenario())
    assert published["active"] == "v2" and models["active"] == "v2"
    assert models["params"]["sports"]["soccer"]["elo_weight"] == 0.6
    assert rolled["active"] == "v1" and back["history"] == ["v1"]
    predictions = [Prediction.model_validate_json(e) for e in records]
    versions = [p.model_version for p in predictions]
    first_v2 = versions.index("v2")
    # before the swap only v1; after it v2, and every upcoming game re-predicted under v2
    assert set(versions[:first_v2]) == {"v1"} and versions.count("v2") > 100
    assert any(orjson.loads(r.value)["source_topic"] == settings.topic("control") for r in letters)
