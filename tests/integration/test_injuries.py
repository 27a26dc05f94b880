"""An injury report on a real worker: the 2021 Lakers' playoff box scores replayed, then a
(synthetic: the shared data has no injury reports) Anthony Davis OUT report. The team's prop
projections change and an injury-impact alert names the teammates it moves."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest

from schemas import Alert, AlertKind, PlayerBoxScore
from streamapp.kafka_io import read_all
from streamapp.replay.catalog import timeline
from streamapp.replay.producer import replay
from streamapp.replay.sources import feed_event
from streamapp.summary import wait_until_drained
from tables.model_params import DEFAULT_PARAMS
from tables.player_form import record_line, record_team_game
from tables.props import largest_move, next_opponent, opponent_factors, project, roster
from tests.integration.oracle import get, key_path

pytestmark = pytest.mark.integration

DAVIS, LEBRON = "203076", "2544"


def injury(status: str, minute: int):
    return feed_event(
        "injuries",
        event_id=f"synthetic:davis:{status}",
        event_time=f"2021-06-10T12:{minute:02d}:00Z",
        sport="nba",
        league="NBA",
        team="LAL",
        player_id=DAVIS,
        player_name="Anthony Davis",
        status=status,
        reason="groin",
    )


def test_an_out_report_moves_teammates_projections_and_alerts(live_settings, worker, data_dir):
    settings = live_settings
    box_scores = timeline([data_dir / "nba-boxscores" / "playoffs.csv"])
    lakers = [e for e in box_scores if e.payload["team"] == "LAL"]

    async def scenario():
        await replay(settings, lakers, progress=False)
        await wait_until_drained(settings, timeout=120)
        # twice the same status: the second report changes nothing and alerts nothing
        await replay(settings, [injury("OUT", 0), injury("OUT", 5)], progress=False)
        await wait_until_drained(settings, timeout=60)
        return await read_all(settings, settings.topic("alerts"))

    records = asyncio.run(scenario())
    alerts = [Alert.model_validate_json(r.value) for r in records]
    assert alerts and all(a.alert_kind is AlertKind.INJURY_IMPACT for a in alerts)
    assert all(a.event_id.startswith("injury:synthetic:davis:OUT:") for a in alerts)
    # the teammates the same pure functions say move by more than the threshold
    players, team = {}, None
    for event in lakers:
        line = PlayerBoxScore.model_validate(event.payload)
        players[line.player_id] = record_line(players.get(line.player_id), line)
        team = record_team_game(team, line)
    factors = opponent_factors(team, next_opponent(team))
    moved = set()
    for player_id in roster(team):
        if player_id != DAVIS:
            before = project(players[player_id], team, {}, factors)
            after = project(players[player_id], team, {DAVIS: "OUT"}, factors)
            if abs(largest_move(before, after)[1]) >= DEFAULT_PARAMS.prop_impact:
                moved.add(player_id)
    assert moved and {a.event_id.rsplit(":", 1)[1] for a in alerts} == moved
    assert len(alerts) == len(moved)  # the repeated OUT report alerted nothing
    deadline = time.monotonic() + 30
    while True:
        state = get(settings.web_port, key_path("prop-projections", "nba:NBA|LAL"))["value"]
        if state["statuses"].get(DAVIS) == "OUT" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert state["statuses"] == {DAVIS: "OUT"}
    davis = state["projections"][DAVIS]
    assert davis == {"pts": 0.0, "reb": 0.0, "ast": 0.0, "fg3m": 0.0, "name": "Anthony Davis"}
    assert state["projections"][LEBRON]["pts"] > 10
    print(orjson.dumps([a.detail for a in alerts]).decode())
