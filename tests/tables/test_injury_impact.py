"""An injury report's alerts and the team's state, on the real 2021 Lakers (tests/tables/
test_props.py): Davis OUT moves LeBron James's rebounds by -1.288462."""

from __future__ import annotations

from dataclasses import replace

from schemas import InjuryReport
from tables.injury_impact import assess
from tables.model_params import DEFAULT_PARAMS
from tables.props import opponent_factors, project
from tests.schemas.examples import INJURY
from tests.tables.test_props import DAVIS, LEBRON, lakers  # noqa: F401 (a fixture)

DAVIS_OUT = {**INJURY, "event_id": "davis-out", "player_id": DAVIS,
             "player_name": "Anthony Davis", "status": "OUT"}  # fmt: skip


def report(**fields) -> InjuryReport:
    return InjuryReport.model_validate({**DAVIS_OUT, **fields})


def test_a_teammate_moved_beyond_the_threshold_is_alerted_once(lakers):  # noqa: F811
    players, team = lakers
    params = replace(DEFAULT_PARAMS, prop_impact=1.0)
    found = assess(None, report(), team, players.get, params)
    [alert] = [a for a in found.alerts if LEBRON in a.event_id]
    assert alert.event_id == f"injury:davis-out:{LEBRON}"
    assert alert.selection == "under" and alert.market == "player_prop"
    assert "Anthony Davis OUT: LeBron James (2544) reb" in alert.detail
    assert alert.model_version == params.version
    healthy = project(players[LEBRON], team, {}, opponent_factors(team, "PHX"))["reb"]
    without_davis = found.state["projections"][LEBRON]["reb"]
    assert without_davis - healthy <= -1.0  # (-1.288462 before the opponent factor)
    assert f"reb {healthy:.1f} -> {without_davis:.1f} (vs PHX)" in alert.detail
    assert found.state["statuses"] == {DAVIS: "OUT"}
    assert found.state["reported"] == {DAVIS: "2021-05-20T18:00:00+00:00"}
    assert found.state["opponent"] == "PHX"
    # the same status again moves nothing; an older report sent again changes nothing
    assert assess(found.state, report(event_id="again"), team, players.get, params).state is None
    older = report(event_id="older", status="QUESTIONABLE", event_time="2021-05-20T12:00:00Z")
    stale = assess(found.state, older, team, players.get, params)
    assert (stale.alerts, stale.state) == ([], None)


def test_under_the_threshold_nothing_is_alerted_but_the_status_is_kept(lakers):  # noqa: F811
    players, team = lakers
    found = assess(None, report(), team, players.get, DEFAULT_PARAMS)  # 1.5: LeBron stays
    assert LEBRON not in {a.event_id.rsplit(":", 1)[1] for a in found.alerts}
    assert found.state["statuses"] == {DAVIS: "OUT"}


def test_before_any_box_score_the_status_is_kept_without_projections():
    found = assess(None, report(), None, lambda player_id: None, DEFAULT_PARAMS)
    assert found.alerts == []
    assert found.state == {"statuses": {DAVIS: "OUT"}, "projections": {},
                           "reported": {DAVIS: "2021-05-20T18:00:00+00:00"}}  # fmt: skip
