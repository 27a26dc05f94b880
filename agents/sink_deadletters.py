"""Writes the deadletter topic to PostgreSQL's dead_letters table (see agents.sink)."""

import faust

from agents.pipeline import Pipeline
from agents.sink import make_sink_agent


def register(app: faust.App, pipeline: Pipeline) -> faust.types.AgentT:
    return make_sink_agent(app, pipeline, pipeline.topics.deadletter, "dead_letters")
