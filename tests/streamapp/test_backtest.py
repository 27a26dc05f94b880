import pytest

from streamapp.backtest import Backtest, report
from tables.margins import multiplicative
from tables.model_params import DEFAULT_PARAMS
from tests.schemas.examples import GAME, QUOTE


def row(league: str, season: str, home_score: int, away_score: int) -> dict:
    """A scored soccer game whose every forecast is 0.5 / 0.3 / 0.2."""
    forecast = {f"{prefix}_{name}": p for prefix in ("p", "m", "mc", "pin_open", "pin_close")
                for name, p in (("home", 0.5), ("draw", 0.3), ("away", 0.2))}  # fmt: skip
    return {"date": f"20{season[:2]}-09-01", "sport": "soccer", "league": league,
            "season": season, "game_type": "regular_season", "home_score": home_score,
            "away_score": away_score, **forecast}  # fmt: skip


def test_the_report_scores_each_league_and_season_beside_the_lines_on_the_same_games():
    backtest = Backtest(DEFAULT_PARAMS, 0.0)
    backtest.rows = [row("E0", "22-23", 2, 0), row("E0", "23-24", 1, 1), row("D1", "22-23", 0, 3)]
    groups = report(backtest)["groups"]
    # Three-way Brier by hand: a home win (0.5^2 + 0.3^2 + 0.2^2) = 0.38, a draw
    # (0.5^2 + 0.7^2 + 0.2^2) = 0.78, an away win (0.5^2 + 0.3^2 + 0.8^2) = 0.98.
    assert round(groups["season:soccer:E0:22-23"]["model-only"]["brier"], 10) == 0.38
    assert round(groups["season:soccer:E0:23-24"]["pinnacle@close"]["brier"], 10) == 0.78
    assert round(groups["season:soccer:D1:22-23"]["market-aware@open"]["brier"], 10) == 0.98
    assert round(groups["league:soccer:E0"]["pinnacle@open"]["brier"], 10) == 0.58
    assert groups["league:soccer:E0"]["same_games"]["pinnacle@open"]["n"] == 2
    assert round(groups["sport:soccer"]["market-aware@close"]["brier"], 10) == round(2.14 / 3, 10)


def test_the_backtest_forecasts_an_instants_quotes_once_as_the_agent_does():
    """bet365's and then Pinnacle's opening prices at one instant: the first market-aware
    forecast is made with both (it follows the sharp book), not with bet365's alone."""
    fixture = {**GAME, "event_id": "fixture", "event_time": "2021-08-01T00:00:00Z",
               "status": "scheduled"}  # fmt: skip
    for key in ("home_score", "away_score"):
        fixture.pop(key)
    events = [("games", fixture)]
    for bookmaker, prices in (("bet365", (1.8, 3.6, 5.0)), ("pinnacle", (2.2, 3.3, 3.6))):
        events += [
            ("odds", {**QUOTE, "event_id": f"{bookmaker}:{selection}", "bookmaker": bookmaker,
                      "selection": selection, "price_decimal": price,
                      "event_time": "2021-08-20T12:00:00Z"})
            for selection, price in zip(("home", "draw", "away"), prices, strict=True)
        ]  # fmt: skip
    backtest = Backtest(DEFAULT_PARAMS, 0.0)
    for feed, payload in [*events, ("games", GAME)]:
        backtest.apply(feed, payload)
    assert not backtest.rows  # the final is held until the league's next event, or the end
    backtest.finish()
    [row] = backtest.rows
    fair = multiplicative([2.2, 3.3, 3.6])
    assert [row["m_home"], row["m_draw"], row["m_away"]] == pytest.approx(fair)
    assert (row["home_score"], row["away_score"]) == (0, 2)
