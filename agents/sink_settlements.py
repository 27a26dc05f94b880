"""Writes the settlements topic to PostgreSQL's settlements table (see agents.sink)."""

import faust

from agents.pipeline import Pipeline
from agents.sink import make_sink_agent


def register(app: faust.App, pipeline: Pipeline) -> faust.types.AgentT:
    return make_sink_agent(app, pipeline, pipeline.topics.settlements, "settlements")
