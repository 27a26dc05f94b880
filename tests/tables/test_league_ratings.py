from __future__ import annotations

from datetime import timedelta

import orjson
import pytest

from schemas import GameEvent, OddsQuote, Sport
from schemas.base import EVENT_ID_MAX_LENGTH, GAME_ID_MAX_LENGTH, OUTPUT_ID_MAX_LENGTH
from tables.elo import MEAN_RATING, regressed, updated_ratings
from tables.exceptions import FailedAfterOutputs
from tables.forecast import poisson_outcomes
from tables.league_ratings import (
    MARKET_AWARE,
    MODEL_ONLY,
    GameBooks,
    LeagueRatings,
    market_of,
    more_of_instant,
    quoted_lines,
    with_home_advantage,
)
from tables.margins import multiplicative
from tables.model_params import DEFAULT_PARAMS, ModelParams
from tables.simulation import simulated_tally
from tests.schemas.examples import GAME, QUOTE

PARAMS = DEFAULT_PARAMS
SOCCER = PARAMS.sports[Sport.SOCCER]
START = "2021-08-08T15:00:00Z"


def event(home: str, away: str, status: str, when: str, season="2021-22", score=None, gid=None):
    payload = {
        **GAME,
        "event_id": f"{home}-{away}:{status}",
        "game_id": gid or f"{home}-{away}",
        "home_team": home,
        "away_team": away,
        "status": status,
        "event_time": when,
        "start_time": START if status == "scheduled" else when,
        "season": season,
    }
    if score is None:
        payload.pop("home_score"), payload.pop("away_score")
    else:
        payload["home_score"], payload["away_score"] = score
    return GameEvent.model_validate(payload)


def quote(game: str, bookmaker: str, selection: str, price: float, when: str, **extra):
    return OddsQuote.model_validate(
        {
            **QUOTE,
            "event_id": f"{game}:{bookmaker}:{selection}:{when}",
            "game_id": game,
            "bookmaker": bookmaker,
            "selection": selection,
            "price_decimal": price,
            "event_time": when,
            **extra,
        }
    )


def market(state, game, bookmaker, prices, when):
    """A bookmaker's whole 1X2 market, quote by quote; the outputs of the last quote."""
    outputs = None
    for selection, price in zip(("home", "draw", "away"), prices, strict=True):
        outputs = state.observe(quote(game, bookmaker, selection, price, when), PARAMS, 0.005)
    return outputs


def test_a_fixture_is_predicted_and_a_result_moves_only_its_teams_games():
    state = LeagueRatings(Sport.SOCCER, "E0")
    first = state.observe(event("A", "B", "scheduled", "2021-08-01T00:00:00Z"), PARAMS, 0.005)
    [prediction] = first.predictions
    assert prediction.model == MODEL_ONLY and prediction.model_version == "v1"
    assert prediction.p_home > prediction.p_away  # home advantage between equal teams
    state.observe(event("C", "A", "scheduled", "2021-08-02T00:00:00Z"), PARAMS, 0.005)
    state.observe(event("D", "E", "scheduled", "2021-08-02T00:00:00Z"), PARAMS, 0.005)
    out = state.observe(event("A", "B", "final", "2021-08-08T17:00:00Z", score=(3, 0)), PARAMS, 0)
    assert {p.game_id for p in out.predictions} == {"C-A"}  # only games of A or B
    assert "A-B" not in state.upcoming
    home, away = updated_ratings(Sport.SOCCER, MEAN_RATING, MEAN_RATING, 3, 0, SOCCER)
    assert state.ratings == {"A": home, "B": away}


def test_a_repeated_final_counts_once():
    state = LeagueRatings(Sport.SOCCER, "E0")
    final = event("A", "B", "final", "2021-08-08T17:00:00Z", score=(1, 0))
    state.observe(final, PARAMS, 0.005)
    after_one = dict(state.ratings)
    assert not state.observe(final, PARAMS, 0.005)
    assert state.ratings == after_one


def test_small_moves_are_not_re_emitted_but_a_new_version_is():
    state = LeagueRatings(Sport.SOCCER, "E0")
    state.observe(event("A", "B", "scheduled", "2021-08-01T00:00:00Z"), PARAMS, 0.005)
    # another game's fixture leaves A-B's model-only probabilities as they were
    quiet = event("C", "D", "scheduled", "2021-08-02T00:00:00Z")
    assert [p.game_id for p in state.observe(quiet, PARAMS, 0.005).predictions] == ["C-D"]
    market(state, "A-B", "pinnacle", (2.0, 3.5, 4.0), "2021-08-06T15:00:00Z")
    same = market(state, "A-B", "pinnacle", (2.0, 3.5, 4.0), "2021-08-06T16:00:00Z")
    assert not same.predictions  # the same prices an hour later: nothing moved
    v2 = ModelParams.from_dict({"version": "v2"})
    for selection, price in (("home", 2.0), ("draw", 3.5), ("away", 4.0)):
        update = quote("A-B", "pinnacle", selection, price, "2021-08-06T17:00:00Z")
        outputs = state.observe(update, v2, 0.005)
    again = {p.model: p.model_version for p in outputs.predictions}
    assert again == {MODEL_ONLY: "v2", MARKET_AWARE: "v2"}


def test_a_fixture_delivered_again_after_later_events_changes_nothing():
    """At-least-once upstream: a fixture sent again after a restart, once its game's
    prices and another game's result were applied, must not republish the game's
    prediction with what came since (the offline run sees it once; seen in the SIGKILL
    test: the game's next prediction, at its closing price, was then never made)."""
    state = LeagueRatings(Sport.SOCCER, "E0")
    fixture = event("A", "B", "scheduled", "2021-08-01T00:00:00Z")
    state.observe(fixture, PARAMS, 0.005)
    market(state, "A-B", "pinnacle", (2.0, 3.5, 4.0), "2021-08-06T15:00:00Z")
    state.observe(event("C", "D", "scheduled", "2021-08-01T01:00:00Z"), PARAMS, 0.005)
    result = event("C", "D", "final", "2021-08-07T17:00:00Z", score=(6, 3))
    # a high-scoring game elsewhere moves the league's goal means, not A-B's prediction yet
    assert "A-B" not in {p.game_id for p in state.observe(result, PARAMS, 0.005).predictions}
    before = orjson.dumps(state.to_dict())
    assert not state.observe(fixture, PARAMS, 0.0)  # (min change 0: any news is said)
    assert orjson.dumps(state.to_dict()) == before
    kickoff = fixture.start_time + timedelta(hours=3)
    moved = fixture.model_copy(update={"start_time": kickoff})
    # a changed kickoff is news: the game is predicted again
    assert {p.game_id for p in state.observe(moved, PARAMS, 0.0).predictions} == {"A-B"}


def test_new_season_regresses_ratings():
    state = LeagueRatings(Sport.SOCCER, "E0")
    final = event("A", "B", "final", "2021-05-01T17:00:00Z", season="2020-21", score=(4, 0))
    state.observe(final, PARAMS, 0.005)
    strong = state.ratings["A"]
    state.observe(event("B", "A", "scheduled", "2021-08-01T00:00:00Z"), PARAMS, 0.005)
    assert state.season == "2021-22"
    assert state.ratings["A"] == pytest.approx(regressed(strong, SOCCER))


def test_state_survives_a_json_round_trip():
    state = LeagueRatings(Sport.SOCCER, "E0")
    state.observe(event("A", "B", "scheduled", "2021-08-01T00:00:00Z"), PARAMS, 0.005)
    market(state, "A-B", "pinnacle", (2.0, 3.5, 4.0), "2021-08-06T15:00:00Z")
    state.observe(event("C", "D", "final", "2021-08-01T03:00:00Z", score=(1, 1)), PARAMS, 0.005)
    again = LeagueRatings.from_dict(orjson.loads(orjson.dumps(state.to_dict())))
    assert again.to_dict() == state.to_dict()


def nba_game(home: str, away: str, status: str, start: str, score=None):
    payload = {
        **GAME,
        "event_id": f"{home}-{away}-{start}:{status}",
        "sport": "nba",
        "league": "NBA",
        "game_id": f"{home}-{away}-{start}",
        "home_team": home,
        "away_team": away,
        "status": status,
        "event_time": start,
        "start_time": start,
        "season": "2021-22",
        "game_type": "regular_season",
    }
    if score is None:
        payload.pop("home_score"), payload.pop("away_score")
    else:
        payload["home_score"], payload["away_score"] = score
    return GameEvent.model_validate(payload)


def test_nba_rest_follows_each_teams_last_two_games():
    nba = PARAMS.sports[Sport.NBA]
    state = LeagueRatings(Sport.NBA, "NBA")
    for start, home, away in (
        ("2021-11-01T00:00:00Z", "BOS", "NY"),
        ("2021-11-03T00:00:00Z", "NY", "MIA"),
        ("2021-11-04T00:00:00Z", "MIA", "BOS"),
    ):
        state.observe(nba_game(home, away, "final", start, score=(100, 90)), PARAMS, 0.0)
    day = 24 * 3600 * 1000
    nov_1 = 1635724800000  # 2021-11-01T00:00:00Z
    assert state.last_played == {"BOS": nov_1 + 3 * day, "NY": nov_1 + 2 * day,
                                 "MIA": nov_1 + 3 * day}  # fmt: skip
    assert state.previous_played == {"BOS": nov_1, "NY": nov_1, "MIA": nov_1 + 2 * day}
    # 5 November: NY (rested: last game 3 November) hosts MIA, on a back-to-back and its
    # third game in four nights (3, 4, 5 November): 30 + 8 Elo points for the home side.
    out = state.observe(nba_game("NY", "MIA", "scheduled", "2021-11-05T00:00:00Z"), PARAMS, 0.0)
    [prediction] = out.predictions
    assert prediction.inputs["rest_adjustment"] == nba.rest_penalty + nba.three_in_four_penalty
    again = LeagueRatings.from_dict(orjson.loads(orjson.dumps(state.to_dict())))
    assert again.to_dict() == state.to_dict()
    assert again.previous_played == state.previous_played


def test_a_soccer_league_keeps_no_previous_games():
    state = LeagueRatings(Sport.SOCCER, "E0")
    state.observe(event("A", "B", "final", "2021-08-08T17:00:00Z", score=(1, 0)), PARAMS, 0.0)
    state.observe(event("B", "A", "final", "2021-08-15T17:00:00Z", score=(1, 0), gid="x"),
                  PARAMS, 0.0)  # fmt: skip
    assert state.previous_played == {}


def test_market_aware_waits_for_a_whole_market_and_follows_the_sharp_book():
    state = LeagueRatings(Sport.SOCCER, "E0")
    state.observe(event("A", "B", "scheduled", "2021-08-01T00:00:00Z"), PARAMS, 0.005)
    partial = state.observe(
        quote("A-B", "pinnacle", "home", 2.0, "2021-08-06T15:00:00Z"), PARAMS, 0
    )
    assert not partial.predictions  # home alone: the rest of the update is still arriving
    out = market(state, "A-B", "pinnacle", (2.0, 3.5, 4.0), "2021-08-06T15:00:00Z")
    [aware] = [p for p in out.predictions if p.model == MARKET_AWARE]
    fair = multiplicative([2.0, 3.5, 4.0])
    assert SOCCER.market_weight == 1.0  # the weight fitted on past seasons
    assert [aware.p_home, aware.p_draw, aware.p_away] == pytest.approx(fair)
    assert aware.inputs["market_home"] == pytest.approx(fair[0])


def one_instant(when: str) -> list[OddsQuote]:
    """Pinnacle's and bet365's 1X2 on A-B and Pinnacle's on C-D, all at ``when``, then a
    player prop of C-D (no market of the model's) last."""
    quotes = []
    for game, bookmaker, prices in (("A-B", "pinnacle", (2.0, 3.6, 4.2)),
                                    ("A-B", "bet365", (2.3, 3.3, 3.8)),
                                    ("C-D", "pinnacle", (1.8, 3.8, 4.6))):  # fmt: skip
        quotes += [
            quote(game, bookmaker, selection, price, when)
            for selection, price in zip(("home", "draw", "away"), prices, strict=True)
        ]
    prop = quote("C-D", "bet365", "over", 1.9, when, market="player_prop", line=0.5,
                 player="p1", stat="goals")  # fmt: skip
    return [*quotes, prop]


def two_fixtures() -> LeagueRatings:
    state = LeagueRatings(Sport.SOCCER, "E0")
    for home, away in (("A", "B"), ("C", "D")):
        state.observe(event(home, away, "scheduled", "2021-08-01T00:00:00Z"), PARAMS, 0.005)
    return state


def test_the_quotes_of_one_instant_are_forecast_once_each_game_after_the_last():
    """One poll of several bookmakers is one move of the market: each game is forecast
    once its last quote of the instant is in, with every price of the instant, whatever
    game or market the instant's last quote is about."""
    quotes = one_instant("2021-08-06T15:00:00Z")
    state = two_fixtures()
    outputs = [
        state.observe(q, PARAMS, 0.005, instant_continues=more_of_instant(q, following))
        for q, following in zip(quotes, [*quotes[1:], None], strict=True)
    ]
    assert not any(outputs[:-1])
    out = outputs[-1]
    assert [(p.game_id, p.model) for p in out.predictions] == [
        ("A-B", MARKET_AWARE), ("C-D", MARKET_AWARE)
    ]  # fmt: skip
    # each game's outputs come from the game's own last quote that completed a market
    when = "2021-08-06T15:00:00Z"
    assert [p.event_id for p in out.predictions] == [
        f"A-B:{MARKET_AWARE}:{PARAMS.version}:A-B:bet365:away:{when}",
        f"C-D:{MARKET_AWARE}:{PARAMS.version}:C-D:pinnacle:away:{when}",
    ]
    [alert] = out.alerts
    assert (alert.game_id, alert.bookmaker, alert.selection) == ("A-B", "bet365", "home")
    # the same as quote by quote at the instant's end: a forecast after each bookmaker
    one_by_one = two_fixtures()
    each = [one_by_one.observe(q, PARAMS, 0.005) for q in quotes]
    assert sum(len(o.predictions) for o in each) == 2  # bet365 moves no sharp consensus
    assert [o.to_json() for o in out.predictions] == [
        o.to_json().replace(b"A-B:pinnacle:away", b"A-B:bet365:away", 1) if o.game_id == "A-B"
        else o.to_json()
        for e in each for o in e.predictions
    ]  # fmt: skip
    assert [a.to_json() for e in each for a in e.alerts] == [alert.to_json()]
    # the same state, but for the id of the last prediction kept for A-B
    assert orjson.dumps(one_by_one.to_dict()).replace(
        b"A-B:pinnacle:away", b"A-B:bet365:away"
    ) == orjson.dumps(state.to_dict())


def test_a_later_event_forecasts_an_instant_whose_last_quote_never_came():
    """Told that more of an instant follows, the fold waits; if what follows is a game
    event or a quote of a later instant (the last quote was parked), the instant's games
    are forecast first, with that event's outputs."""
    quotes = one_instant("2021-08-06T15:00:00Z")[:3]  # Pinnacle's A-B market
    for later in (event("E", "F", "scheduled", "2021-08-06T15:00:01Z"),
                  quote("C-D", "pinnacle", "home", 1.8, "2021-08-06T15:00:01Z")):  # fmt: skip
        state = two_fixtures()
        for q in quotes:
            assert not state.observe(q, PARAMS, 0.005, instant_continues=True)
        out = state.observe(later, PARAMS, 0.005)
        [aware] = [p for p in out.predictions if p.game_id == "A-B"]
        assert aware.model == MARKET_AWARE and aware.event_id.endswith(
            "A-B:pinnacle:away:" + "2021-08-06T15:00:00Z"
        )


def test_a_forecast_that_raises_leaves_nothing_due_for_the_next_event(monkeypatch):
    """The instant's last quote raises in its forecast (and is parked); the league's next
    event applies as usual, without that instant's forecast raising again first."""
    *first, last = one_instant("2021-08-06T15:00:00Z")[:3]  # Pinnacle's A-B market
    state = two_fixtures()
    for q in first:
        state.observe(q, PARAMS, 0.005, instant_continues=True)
    forecast = LeagueRatings._forecast

    def broken(*args, **kwargs):
        raise FloatingPointError("a bug")

    monkeypatch.setattr(LeagueRatings, "_forecast", broken)
    with pytest.raises(FloatingPointError):
        state.observe(last, PARAMS, 0.005)
    monkeypatch.setattr(LeagueRatings, "_forecast", forecast)
    out = state.observe(
        event("C", "D", "final", "2021-08-08T17:00:00Z", score=(1, 0)), PARAMS, 0.005
    )
    assert [s.game_id for s in out.settlements] == ["C-D"] and not out.predictions
    assert state.ratings["C"] > MEAN_RATING


def test_an_event_that_raises_after_a_pending_instant_was_forecast_hands_over_its_outputs(
    monkeypatch,
):
    """The instant's last quote never came; the next event forecasts the instant first,
    then raises itself: the forecast's state is kept, so its outputs come with the error."""
    state = two_fixtures()
    for q in one_instant("2021-08-06T15:00:00Z")[:3]:  # Pinnacle's A-B market
        state.observe(q, PARAMS, 0.005, instant_continues=True)

    def broken(*args, **kwargs):
        raise FloatingPointError("a bug")

    monkeypatch.setattr(LeagueRatings, "_observe_game", broken)
    with pytest.raises(FailedAfterOutputs) as failed:
        state.observe(event("E", "F", "scheduled", "2021-08-06T15:00:01Z"), PARAMS, 0.005)
    [aware] = failed.value.outputs.predictions
    assert aware.game_id == "A-B" and aware.model == MARKET_AWARE
    assert isinstance(failed.value.__cause__, FloatingPointError)


def test_a_final_that_raises_in_a_later_forecast_hands_over_the_earlier_outputs(monkeypatch):
    """A final settles its game and forecasts its teams' next games; the second forecast
    raises: the settlement and the first forecast are kept, and come with the error."""
    state = LeagueRatings(Sport.SOCCER, "E0")
    for home, away in (("A", "B"), ("A", "C"), ("B", "D")):
        state.observe(event(home, away, "scheduled", "2021-08-01T00:00:00Z"), PARAMS, 0.005)
    forecast, calls = LeagueRatings._forecast, []

    def second_raises(self, *args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:
            raise FloatingPointError("a bug")
        return forecast(self, *args, **kwargs)

    monkeypatch.setattr(LeagueRatings, "_forecast", second_raises)
    with pytest.raises(FailedAfterOutputs) as failed:
        state.observe(event("A", "B", "final", "2021-08-08T17:00:00Z", score=(1, 0)), PARAMS, 0.005)
    made = failed.value.outputs
    assert [s.game_id for s in made.settlements] == ["A-B"]
    assert [p.game_id for p in made.predictions] == [calls[0]]
    assert isinstance(failed.value.__cause__, FloatingPointError)


def test_an_event_that_raises_before_any_output_raises_its_own_error(monkeypatch):
    def broken(*args, **kwargs):
        raise FloatingPointError("a bug")

    monkeypatch.setattr(LeagueRatings, "_observe_game", broken)
    with pytest.raises(FloatingPointError):
        two_fixtures()


def test_more_of_an_instant_is_a_quote_at_the_same_time():
    first, second = one_instant("2021-08-06T15:00:00Z")[:2]
    assert more_of_instant(first, second)
    assert not more_of_instant(first, None)
    assert not more_of_instant(first, quote("A-B", "bet365", "home", 2.3, "2021-08-06T15:00:01Z"))
    assert not more_of_instant(first, event("A", "B", "scheduled", "2021-08-06T15:00:00Z"))
    assert not more_of_instant(event("A", "B", "scheduled", "2021-08-06T15:00:00Z"), second)


def test_a_price_above_the_fair_one_makes_one_value_alert_with_a_kelly_stake():
    state = LeagueRatings(Sport.SOCCER, "E0")
    state.observe(event("A", "B", "scheduled", "2021-08-01T00:00:00Z"), PARAMS, 0.005)
    market(state, "A-B", "pinnacle", (2.0, 3.6, 4.2), "2021-08-06T15:00:00Z")
    out = market(state, "A-B", "bet365", (2.3, 3.3, 3.8), "2021-08-06T15:00:00Z")
    [alert] = out.alerts
    fair_home = multiplicative([2.0, 3.6, 4.2])[0]
    assert (alert.selection, alert.bookmaker, alert.price_decimal) == ("home", "bet365", 2.3)
    assert alert.edge == pytest.approx(fair_home * 2.3 - 1)
    full_kelly = (fair_home * 2.3 - 1) / 1.3
    assert alert.stake_fraction == pytest.approx(min(PARAMS.kelly_cap, full_kelly / 8))
    assert alert.event_id.startswith("value:A-B:moneyline||home:")
    # the same situation again within the cooldown: no second alert
    assert not market(state, "A-B", "bet365", (2.3, 3.3, 3.8), "2021-08-06T16:00:00Z").alerts


def test_no_value_alert_at_the_closing_price():
    # the same prices as above, but 30 minutes before the 15:00 start: the closing line
    assert PARAMS.alert_min_minutes_before_start == 60.0
    state = LeagueRatings(Sport.SOCCER, "E0")
    state.observe(event("A", "B", "scheduled", "2021-08-01T00:00:00Z"), PARAMS, 0.005)
    market(state, "A-B", "pinnacle", (2.0, 3.6, 4.2), "2021-08-08T14:30:00Z")
    assert not market(state, "A-B", "bet365", (2.3, 3.3, 3.8), "2021-08-08T14:30:00Z").alerts
    # 61 minutes before: allowed
    state = LeagueRatings(Sport.SOCCER, "E0")
    state.observe(event("A", "B", "scheduled", "2021-08-01T00:00:00Z"), PARAMS, 0.005)
    market(state, "A-B", "pinnacle", (2.0, 3.6, 4.2), "2021-08-08T13:59:00Z")
    [alert] = market(state, "A-B", "bet365", (2.3, 3.3, 3.8), "2021-08-08T13:59:00Z").alerts
    assert alert.selection == "home"


def test_stale_prices_make_no_alert():
    state = LeagueRatings(Sport.SOCCER, "E0")
    state.observe(event("A", "B", "scheduled", "2021-08-01T00:00:00Z"), PARAMS, 0.005)
    market(state, "A-B", "bet365", (2.3, 3.3, 3.8), "2021-08-06T15:00:00Z")
    # Pinnacle moves two days later; bet365's price from two days ago may be long gone.
    out = market(state, "A-B", "pinnacle", (2.0, 3.6, 4.2), "2021-08-08T14:55:00Z")
    assert not out.alerts


def test_a_final_settles_predictions_and_alerts_against_the_closing_line():
    state = LeagueRatings(Sport.SOCCER, "E0")
    state.observe(event("A", "B", "scheduled", "2021-08-01T00:00:00Z"), PARAMS, 0.005)
    market(state, "A-B", "pinnacle", (2.0, 3.6, 4.2), "2021-08-06T15:00:00Z")
    [alert] = market(state, "A-B", "bet365", (2.3, 3.3, 3.8), "2021-08-06T15:00:00Z").alerts
    market(state, "A-B", "pinnacle", (1.9, 3.7, 4.6), "2021-08-08T14:55:00Z")
    market(state, "A-B", "bet365", (2.0, 3.5, 4.0), "2021-08-08T14:55:00Z")
    final = event("A", "B", "final", "2021-08-08T16:55:00Z", score=(2, 1))
    out = state.observe(final, PARAMS, 0.005)
    settled = {(s.settled.value, s.model): s for s in out.settlements}
    last_model = state.performance["v1|model-only"]
    assert last_model["n"] == 1
    model = settled[("prediction", MODEL_ONLY)]
    assert model.brier == pytest.approx(last_model["brier"])
    [bet] = [s for s in out.settlements if s.ref_id == alert.event_id]
    assert bet.profit == pytest.approx(1.3)  # home won at 2.3
    assert bet.clv_same_book == pytest.approx(2.3 / 2.0 - 1)
    assert bet.clv == pytest.approx(2.3 * multiplicative([1.9, 3.7, 4.6])[0] - 1)
    alerts = [s for s in out.settlements if s.settled.value == "alert"]
    assert state.performance["v1|market-aware"]["alerts"] == len(alerts)


def test_quarter_line_totals_and_spreads_get_simulated_probabilities():
    state = LeagueRatings(Sport.SOCCER, "E0")
    state.observe(event("A", "B", "scheduled", "2021-08-01T00:00:00Z"), PARAMS, 0.005)
    when = "2021-08-06T15:00:00Z"
    for selection, line in (("over", 2.5), ("under", 2.5)):
        q = quote("A-B", "pinnacle", selection, 1.95, when, market="total", line=line)
        state.observe(q, PARAMS, 0.005)
    for selection, line in (("home", -0.25), ("away", 0.25)):
        q = quote("A-B", "pinnacle", selection, 1.95, when, market="spread", line=line)
        out = state.observe(q, PARAMS, 0.005)
    lines = state.upcoming["A-B"]["lines"]["probabilities"]
    assert set(lines) == {"total|2.5|over", "total|2.5|under", "spread|-0.25|home",
                          "spread|0.25|away"}  # fmt: skip
    assert lines["total|2.5|over"] + lines["total|2.5|under"] == pytest.approx(1)
    [aware] = [p for p in out.predictions if p.model == MARKET_AWARE] or [None]
    assert aware is None  # no 1X2 market yet: nothing market-aware to say about the winner


def test_a_team_promoted_into_an_established_league_starts_among_the_weakest():
    state = LeagueRatings(Sport.SOCCER, "E0")
    state.finished.extend(f"old-{i}" for i in range(300))
    state.ratings = {f"T{i}": 1400.0 + 10 * i for i in range(20)}
    state.last_played = {f"T{i}": 0 for i in range(20)}
    state.observe(event("New", "T19", "scheduled", "2021-08-01T00:00:00Z"), PARAMS, 0.005)
    assert state.ratings["New"] == pytest.approx(1410.0)  # mean of the three weakest


def test_a_fixture_delivered_again_after_its_result_is_ignored():
    state = LeagueRatings(Sport.SOCCER, "E0")
    fixture = event("A", "B", "scheduled", "2021-08-01T00:00:00Z")
    state.observe(fixture, PARAMS, 0.005)
    state.observe(event("A", "B", "final", "2021-08-08T17:00:00Z", score=(2, 0)), PARAMS, 0.005)
    assert not state.observe(fixture, PARAMS, 0.005) and state.upcoming == {}


def test_a_quote_delivered_again_changes_nothing():
    state = LeagueRatings(Sport.SOCCER, "E0")
    state.observe(event("A", "B", "scheduled", "2021-08-01T00:00:00Z"), PARAMS, 0.005)
    market(state, "A-B", "pinnacle", (2.0, 3.6, 4.2), "2021-08-06T15:00:00Z")
    before = orjson.dumps(state.to_dict())
    again = quote("A-B", "pinnacle", "away", 4.2, "2021-08-06T15:00:00Z")
    assert not state.observe(again, PARAMS, 0.0)
    assert orjson.dumps(state.to_dict()) == before


def test_a_result_that_would_make_the_model_non_finite_is_refused_and_changes_nothing():
    state = LeagueRatings(Sport.SOCCER, "E0")
    state.observe(event("A", "B", "scheduled", "2021-08-01T00:00:00Z"), PARAMS, 0.005)
    before = orjson.dumps(state.to_dict())
    final = event("A", "B", "final", "2021-08-08T17:00:00Z", score=(2, 1))
    # Validation refuses such values; a model must stay finite even if one slipped through.
    broken = final.model_copy(
        update={"stats": {"home_shots_on_target": float("inf"), "away_shots_on_target": 3.0}}
    )
    with pytest.raises(ValueError, match="non-finite; it is not applied"):
        state.observe(broken, PARAMS, 0.005)
    assert orjson.dumps(state.to_dict()) == before
    state.observe(final, PARAMS, 0.005)  # the real result still applies afterwards
    assert state.ratings["A"] > MEAN_RATING > state.ratings["B"]


def test_the_longest_ids_a_feed_may_send_still_make_valid_outputs():
    def longest(valid):
        padded = valid.event_id.ljust(EVENT_ID_MAX_LENGTH, "x")
        return type(valid).model_validate({**valid.model_dump(), "event_id": padded})

    params = ModelParams.from_dict({"version": "v" * 32})  # Prediction.model_version's limit
    game = "g" * GAME_ID_MAX_LENGTH
    state = LeagueRatings(Sport.SOCCER, "E0")
    fixture = event("A", "B", "scheduled", "2021-08-01T00:00:00Z", gid=game)
    assert state.observe(longest(fixture), params, 0.005).predictions
    alerts = []
    for bookmaker, prices in (("pinnacle", (2.0, 3.6, 4.2)), ("bet365", (2.3, 3.3, 3.8))):
        for selection, price in zip(("home", "draw", "away"), prices, strict=True):
            offer = quote(game, bookmaker, selection, price, "2021-08-06T15:00:00Z")
            alerts += state.observe(longest(offer), params, 0.005).alerts
    assert alerts
    final = event("A", "B", "final", "2021-08-08T16:55:00Z", score=(2, 1), gid=game)
    settlements = state.observe(longest(final), params, 0.005).settlements
    assert {s.settled.value for s in settlements} == {"prediction", "alert"}
    assert max(len(s.event_id) for s in settlements) <= OUTPUT_ID_MAX_LENGTH


# -- what is worked out once and reused ----------------------------------------------------


def test_a_price_key_names_its_whole_market_from_either_side():
    home = market_of(Sport.SOCCER, "spread|-0.25|home")
    away = market_of(Sport.SOCCER, "spread|0.25|away")
    assert home.keys == ("spread|-0.25|home", "spread|0.25|away") and home.selections[0] == "home"
    assert away.key_set == home.key_set and away.selections == ("away", "home")
    assert market_of(Sport.NBA, "moneyline||away").keys == ("moneyline||home", "moneyline||away")
    # A level handicap's other side is "-0", as the line probabilities name it.
    assert market_of(Sport.SOCCER, "spread|0|home").keys == ("spread|0|home", "spread|-0|away")
    assert market_of(Sport.SOCCER, "total|2.5|under").line_of == {"under": 2.5, "over": 2.5}


def test_quoted_lines_are_the_home_spreads_and_the_totals():
    keys = ("moneyline||home", "spread|-0.5|home", "spread|0.5|away", "total|2.5|over",
            "spread|-0.25|home", "total|2.5|under")  # fmt: skip
    assert quoted_lines(keys) == ([-0.5, -0.25], [2.5])


def test_a_learnt_home_advantage_keeps_the_sign_of_a_zero():
    nba = PARAMS.sports[Sport.NBA]
    negative = with_home_advantage(nba, (-0.0).hex()).home_advantage
    positive = with_home_advantage(nba, (0.0).hex()).home_advantage
    assert str(negative) == "-0.0" and str(positive) == "0.0"


def test_a_bookmakers_market_is_its_newest_update_and_fresh_books_are_recent():
    prices = {"total|2.5|over": {"pinnacle": [1.9, 100], "bet365": [1.8, 300]},
              "total|2.5|under": {"pinnacle": [1.95, 100], "bet365": [2.0, 200]}}  # fmt: skip
    books = GameBooks(prices)
    total = market_of(Sport.SOCCER, "total|2.5|over")
    # bet365's under is older than its over: the rest of that update is still arriving
    assert books.of(total) == {"pinnacle": {"over": 1.9, "under": 1.95}, "bet365": {"over": 1.8}}
    assert books.of(total, since=150) == {"bet365": {"over": 1.8}}
    # a bookmaker's market is complete when ``of`` gives it whole
    assert books.complete(total, "pinnacle") and not books.complete(total, "bet365")
    assert not books.complete(total, "william hill")  # no price at all
    prices["total|2.5|under"]["bet365"] = [2.05, 300]  # the rest of bet365's update
    assert GameBooks(prices).complete(total, "bet365")


def test_a_changed_price_makes_only_its_own_market_read_again():
    prices = {"total|2.5|over": {"pinnacle": [1.9, 100]},
              "total|2.5|under": {"pinnacle": [1.95, 100]},
              "spread|-0.5|home": {"pinnacle": [2.0, 100]},
              "spread|0.5|away": {"pinnacle": [1.85, 100]}}  # fmt: skip
    books = GameBooks(prices)
    total, spread = (
        market_of(Sport.SOCCER, "total|2.5|over"),
        market_of(Sport.SOCCER, "spread|-0.5|home"),
    )
    total_before, spread_before = books.of(total), books.of(spread)
    spread_read = books.snapshots[spread.key_set]
    fair_before = books.consensus(total, ())

    prices["total|2.5|over"]["pinnacle"] = [2.1, 200]
    prices["total|2.5|under"]["pinnacle"] = [1.75, 200]
    books.changed("total|2.5|over")
    books.changed("total|2.5|under")
    assert total.key_set not in books.snapshots
    assert books.snapshots[spread.key_set] is spread_read  # kept: none of its prices moved
    assert books.next_event().of(spread) == spread_before
    assert books.of(total) == {"pinnacle": {"over": 2.1, "under": 1.75}}
    assert books.of(total) != total_before
    assert (
        books.consensus(total, ())
        == pytest.approx(multiplicative([2.1, 1.75]))
        != pytest.approx(fair_before)
    )


def test_a_league_kept_across_quotes_gives_what_one_rebuilt_for_every_event_gives():
    events = [event("A", "B", "scheduled", "2021-08-01T00:00:00Z")]
    for when, books in (("2021-08-06T15:00:00Z", (2.0, 3.6, 4.2)),
                        ("2021-08-06T16:00:00Z", (2.1, 3.5, 4.0)),
                        ("2021-08-07T15:00:00Z", (2.3, 3.3, 3.8))):  # fmt: skip
        for bookmaker, shift in (("pinnacle", 0.0), ("bet365", 0.1)):
            events += [quote("A-B", bookmaker, s, p + shift, when)
                       for s, p in zip(("home", "draw", "away"), books, strict=True)]  # fmt: skip
        for selection, line, price in (("home", -0.25, 1.9), ("away", 0.25, 2.0),
                                       ("over", 2.5, 1.8), ("under", 2.5, 2.05)):  # fmt: skip
            market_name = "total" if selection in ("over", "under") else "spread"
            events.append(quote("A-B", "pinnacle", selection, price, when,
                                market=market_name, line=line))  # fmt: skip
    events.append(event("A", "B", "final", "2021-08-08T17:00:00Z", score=(2, 1)))

    def outputs(rebuilt_every_event: bool) -> tuple[list[bytes], bytes]:
        state, sent = LeagueRatings(Sport.SOCCER, "E0"), []
        for one in events:
            if rebuilt_every_event:  # as a worker that stores the league after every event
                state = LeagueRatings.from_dict(orjson.loads(orjson.dumps(state.to_dict())))
            out = state.observe(one, PARAMS, 0)
            sent += [o.to_json() for o in (*out.predictions, *out.alerts, *out.settlements)]
        return sent, orjson.dumps(state.to_dict())

    kept = outputs(rebuilt_every_event=False)
    assert len(kept[0]) > 10  # predictions after most quotes, then the settlements
    assert kept == outputs(rebuilt_every_event=True)


def test_forecasts_do_not_depend_on_what_earlier_forecasts_left_in_the_caches():
    def season():
        state = LeagueRatings(Sport.SOCCER, "E0")
        outputs = [state.observe(event("A", "B", "scheduled", "2021-08-01T00:00:00Z"), PARAMS, 0)]
        for when, books in (("2021-08-06T15:00:00Z", (2.0, 3.6, 4.2)),
                            ("2021-08-07T15:00:00Z", (2.3, 3.3, 3.8))):  # fmt: skip
            outputs.append(market(state, "A-B", "pinnacle", books, when))
            for selection, line in (("home", -0.25), ("away", 0.25)):
                q = quote("A-B", "pinnacle", selection, 1.95, when, market="spread", line=line)
                outputs.append(state.observe(q, PARAMS, 0))
        outputs.append(state.observe(event("A", "B", "final", "2021-08-08T17:00:00Z",
                                           score=(2, 1)), PARAMS, 0))  # fmt: skip
        sent = [o.to_json() for out in outputs
                for o in (*out.predictions, *out.alerts, *out.settlements)]  # fmt: skip
        return sent, orjson.dumps(state.to_dict())

    for cached in (poisson_outcomes, simulated_tally, market_of, quoted_lines):
        cached.cache_clear()
    assert season() == season()  # the second run finds everything cached


def test_corners_and_all_shots_get_strengths_of_their_own():
    state = LeagueRatings(Sport.SOCCER, "E0")
    final = event("A", "B", "final", "2021-08-08T17:00:00Z", score=(1, 0))
    stats = {"home_corners": 11.0, "away_corners": 0.0, "home_shots": 27.0, "away_shots": 11.0}
    state.observe(final.model_copy(update={"stats": stats}), PARAMS, 0.005)
    # corners: averages 5.5/4.5, step 0.04: A's attack 0.96 + 0.04 x 11 / 5.5 = 1.04, its
    # defence 0.96 + 0.04 x 0 / 4.5 = 0.96; the league's home average 0.99 x 5.5 + 0.01 x 11
    corners = state.count_strengths["corners"]
    assert corners["A"] == pytest.approx({"attack": 1.04, "defence": 0.96})
    assert corners["B"] == pytest.approx({"attack": 0.96, "defence": 1.04})
    assert state.count_averages["corners"] == pytest.approx({"home": 5.555, "away": 4.455})
    # all shots: averages 13.5/11.0: A's attack 0.96 + 0.04 x 27 / 13.5 = 1.04, B's 1.0
    assert state.count_strengths["all_shots"]["A"]["attack"] == pytest.approx(1.04)
    assert state.count_strengths["all_shots"]["B"]["attack"] == pytest.approx(1.0)
    again = LeagueRatings.from_dict(orjson.loads(orjson.dumps(state.to_dict())))
    assert again.to_dict() == state.to_dict()


def test_the_long_memory_elo_moves_by_its_own_step_and_keeps_its_ratings_across_seasons():
    state = LeagueRatings(Sport.SOCCER, "E0")
    final = event("A", "B", "final", "2021-05-01T17:00:00Z", season="2020-21", score=(1, 0))
    state.observe(final, PARAMS, 0.005)
    # expected 1 / (1 + 10^(-65/400)) = 0.592466; one goal: 2.2 / (0.065 + 2.2) = 0.971302;
    # shift 5 x 0.971302 x (1 - 0.592466) = 1.979193
    assert state.slow_ratings["A"] == pytest.approx(MEAN_RATING + 1.979193, abs=1e-6)
    assert state.slow_ratings["B"] == pytest.approx(MEAN_RATING - 1.979193, abs=1e-6)
    slow = dict(state.slow_ratings)
    state.observe(event("B", "A", "scheduled", "2021-08-01T00:00:00Z"), PARAMS, 0.005)
    assert state.season == "2021-22" and state.slow_ratings == slow  # not regressed
