"""Every worker follows the control topic: model versions published, activated, rolled back.

Not a faust agent: an agent's partitions go to one worker, and every worker must see every
control message. Each worker reads the whole topic with its own consumer (no group) at
start and keeps reading; the predict-games agent waits until that first read is done, so
all workers start from the same version. A message that cannot be applied is logged and
dead-lettered (the database keeps one copy per topic position).
"""

from __future__ import annotations

import asyncio
import logging

import faust
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from agents.pipeline import Pipeline
from schemas.deadletter import DeadLetter
from tables.model_params import ModelParams

log = logging.getLogger(__name__)
POLL_MS = 1000


def register(app: faust.App, pipeline: Pipeline) -> None:
    settings, registry, metrics = pipeline.settings, pipeline.registry, pipeline.metrics
    control = pipeline.topics.control

    async def dead_letter(message, error: Exception) -> None:
        letter = DeadLetter.of(
            message, str(error), type(error).__name__, stage="follow-model-versions"
        )
        await pipeline.topics.deadletter.send(key=message.key, value=letter.to_json())
        metrics.dead_letters.labels("control", letter.error_type).inc()

    async def apply(message) -> None:
        try:
            log.info("model versions: %s", registry.apply(orjson.loads(message.value)))
        except ValueError as error:  # bad JSON, unknown action or version, bad parameters
            log.error("control message at offset %d not applied: %s", message.offset, error)
            await dead_letter(message, error)
        for version in registry.versions:
            metrics.model_version.labels(version).set(version == registry.active.version)

    async def publish_configured_version() -> None:
        """The version in STREAMAPP_MODEL_PARAMS_FILE, published once (if new)."""
        if settings.model_params_file is None:
            return
        params = ModelParams.from_dict(orjson.loads(settings.model_params_file.read_bytes()))
        if params.version not in registry.versions:
            message = {"action": "publish", "params": params.to_dict(), "activate": True}
            await control.send(key=b"control", value=orjson.dumps(message))

    @app.task
    async def follow_model_versions() -> None:
        await control.maybe_declare()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers,
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        await consumer.start()
        try:
            partition = TopicPartition(control.get_topic_name(), 0)
            consumer.assign([partition])
            await consumer.seek_to_beginning(partition)
            end = (await consumer.end_offsets([partition]))[partition]
            while await consumer.position(partition) < end:
                for messages in (await consumer.getmany(timeout_ms=POLL_MS)).values():
                    for message in messages:
                        await apply(message)
            await publish_configured_version()
            pipeline.registry_loaded.set()
            log.info("model versions loaded: active %s", registry.active.version)
            while True:
                for messages in (await consumer.getmany(timeout_ms=POLL_MS)).values():
                    for message in messages:
                        await apply(message)
        except asyncio.CancelledError:
            raise
        finally:
            await consumer.stop()
