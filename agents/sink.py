"""Sinks: topics -> PostgreSQL in batches (size or time, whichever first).

The batch is acked only after ``write_records`` returned, i.e. after the rows are
committed; while PostgreSQL is down the write retries, so the consumer never commits past
an unwritten event. Upserts are idempotent, so a redelivered batch changes nothing.
"""

from __future__ import annotations

import faust

from agents.pipeline import Pipeline
from agents.runtime import Checkpoint, run_batches


def make_sink_agent(
    app: faust.App, pipeline: Pipeline, topic: faust.TopicT, table_name: str
) -> faust.types.AgentT:
    settings = pipeline.settings
    database = pipeline.database

    async def write(batch, checkpoint: Checkpoint) -> None:  # rows only: nothing to put
        await database.write_records(table_name, batch, checkpoint.turn)

    @app.agent(topic, name=f"sink-{table_name}")
    async def sink(stream):
        # a sink waits for its batch to fill: PostgreSQL takes fewer, larger writes
        await run_batches(
            stream, pipeline, write, settings.sink_batch_size, settings.sink_batch_seconds,
            fill=True,
        )  # fmt: skip

    return sink
