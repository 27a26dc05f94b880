"""Writes the clean games topic to PostgreSQL's games table (see agents.sink)."""

import faust

from agents.pipeline import Pipeline
from agents.sink import make_sink_agent


def register(app: faust.App, pipeline: Pipeline) -> faust.types.AgentT:
    return make_sink_agent(app, pipeline, pipeline.topics.clean["games"], "games")
