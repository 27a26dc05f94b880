"""The injuries feed's ingest agent (see agents.ingest)."""

import faust

from agents.ingest import make_ingest_agent
from agents.pipeline import Pipeline


def register(app: faust.App, pipeline: Pipeline) -> faust.types.AgentT:
    return make_ingest_agent(app, pipeline, "injuries")
