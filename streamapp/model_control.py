"""`streamapp model ...`: publish, activate and roll back model versions on the control
topic, and show the registry every worker rebuilds from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson

from streamapp.errors import StreamappError
from streamapp.kafka_io import ensure_topics, read_all, started_producer
from streamapp.settings import Settings
from tables.model_params import ModelParams
from tables.model_registry import ControlError, ModelRegistry


async def current_registry(settings: Settings) -> ModelRegistry:
    """The registry as the workers hold it: every control message applied in order."""
    registry = ModelRegistry()
    for record in await read_all(settings, settings.topic("control")):
        try:
            registry.apply(orjson.loads(record.value))
        except ValueError:
            continue  # workers dead-letter it; it changed nothing
    return registry


def control_message(action: str, argument: str | None) -> dict[str, Any]:
    if action == "publish":
        document = json.loads(Path(argument or "").read_text())
        params = ModelParams.from_dict(document)  # refuse a bad version before sending it
        return {"action": "publish", "params": params.to_dict(), "activate": True}
    if action == "activate":
        return {"action": "activate", "version": argument}
    return {"action": "rollback"}


async def send_control(settings: Settings, action: str, argument: str | None) -> dict[str, Any]:
    """Check the message against the current registry, send it, return the new state."""
    message = control_message(action, argument)
    registry = await current_registry(settings)
    try:
        outcome = registry.apply(message)
    except ControlError as error:
        raise StreamappError(str(error)) from error
    await ensure_topics(settings, [settings.topic("control")], partitions=1)
    producer = await started_producer(settings, acks="all")
    try:
        await producer.send_and_wait(settings.topic("control"), orjson.dumps(message), b"control")
    finally:
        await producer.stop()
    return {"done": outcome, **registry.describe()}
