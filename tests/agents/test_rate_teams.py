from __future__ import annotations

import asyncio

import orjson

from schemas import Prediction
from tests.agents.test_ingest import agent_of
from tests.schemas.examples import GAME

FIXTURE = {
    **{k: v for k, v in GAME.items() if not k.endswith("_score")},
    "event_id": "fixture",
    "status": "scheduled",
    "event_time": "2021-08-15T15:30:00Z",
}


async def processed(app, condition, timeout: float = 5.0) -> None:
    """Wait until the agent has applied what was put: it awaits the broker between events."""
    table = app.pipeline.tables.league_ratings
    for _ in range(int(timeout / 0.01)):
        if condition(table.get("soccer:E0") or {}):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the agent did not process the events")


async def test_a_fixture_gets_a_prediction_and_results_update_ratings(app, sent, settings):
    rate = agent_of(app, "rate-teams")
    other = {
        **FIXTURE,
        "event_id": "f2",
        "game_id": "g2",
        "home_team": "Chelsea",
        "away_team": "Spurs",
    }
    async with rate.test_context() as agent:
        await agent.put(orjson.dumps(FIXTURE), key=b"soccer:E0")
        await agent.put(orjson.dumps(other), key=b"soccer:E0")
        await agent.put(orjson.dumps(GAME), key=b"soccer:E0")  # Arsenal 0-2 Chelsea
        await processed(app, lambda state: "Chelsea" in state.get("ratings", {}))
    predictions = [
        Prediction.model_validate_json(v) for _, v in sent[settings.topic("predictions")]
    ]
    assert [p.game_id for p in predictions] == [GAME["game_id"], "g2", "g2"]
    before, after = predictions[1], predictions[2]
    assert after.p_home > before.p_home  # Chelsea won, so Chelsea's next game looks better
    assert after.inputs["home_rating"] > 1505
    state = app.pipeline.tables.league_ratings["soccer:E0"]
    assert state["ratings"]["Chelsea"] > state["ratings"]["Arsenal"]
    assert list(state["upcoming"]) == ["g2"]
