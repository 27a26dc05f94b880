"""The assess-injuries agent on the in-memory store: the statuses it projects from."""

from __future__ import annotations

from tables.keys import table_key
from tests.agents.test_ingest import agent_of
from tests.agents.test_predict_games import Feeds, until
from tests.schemas.examples import INJURY


async def test_a_report_sent_again_after_a_newer_one_leaves_the_newer_status(app, settings):
    """At-least-once upstream: after a restart ingest may send a player's QUESTIONABLE
    again behind the OUT that followed it. The team's statuses keep OUT (applied, the copy
    would flip it back and project, and alert, from a status already overtaken)."""
    projections = app.pipeline.tables.prop_projections
    questionable = {**INJURY, "event_id": "q", "status": "QUESTIONABLE"}
    out = {**INJURY, "event_id": "o", "status": "OUT", "event_time": "2021-05-20T20:00:00Z"}
    marker = {**INJURY, "event_id": "m", "player_id": "1", "event_time": "2021-05-20T21:00:00Z"}
    key = table_key(f"{INJURY['sport']}:{INJURY['league']}", INJURY["team"])
    async with agent_of(app, "assess-injuries").test_context() as agent:
        feeds = Feeds(agent, settings)
        for report in (questionable, out, questionable, marker):
            await feeds.put("injuries", report)
        # the marker, another player's report, comes last: once it is in, so is the copy
        await until(lambda: "1" in projections.get(key, {}).get("statuses", {}))
    statuses = projections[key]["statuses"]
    assert statuses[INJURY["player_id"]] == "OUT"
    assert projections[key]["reported"][INJURY["player_id"]] == "2021-05-20T20:00:00+00:00"
