from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.game import GameStatus
from schemas.odds import Market
from streamapp.connectors.exceptions import ResponseFormatError
from streamapp.connectors.odds_api import parse_odds, parse_scores
from tests.connectors.conftest import capture

NFL_AMERICAN = (
    "the-odds-api/odds_americanfootball_nfl_h2h-spreads-totals-h2h_lay_american"
    "_us-uk_2022-10-22.json"
)
NFL_DECIMAL = (
    "the-odds-api/odds_americanfootball_nfl_h2h-spreads-totals_decimal_draftkings_2022-09-27.json"
)
SERIE_A = "the-odds-api/odds_soccer_italy_serie_a_h2h-3way-h2h_lay_decimal_eu_2021-11-11.json"
MULTISPORT = "the-odds-api/odds_multisport_nba-nhl-mlb-epl-ucl_h2h_decimal_us_2025-03-10.json"
MIXED_INPLAY = (
    "the-odds-api/odds_upcoming_mixed-sports_inplay_h2h_american_us_2024-03-27T0134Z.json"
)
SOCCER_INPLAY = "the-odds-api/odds_upcoming_soccer-inplay_h2h-h2h_lay_decimal_eu_2023-04-23.json"
MMA = "the-odds-api/odds_mma_mixed_martial_arts_h2h_american_empty-bookmakers_2025-09-13.json"
SCORES = "the-odds-api/scores_americanfootball_nfl_completed-live-upcoming_2022-10-03.json"


def quotes_of(events, game_id, bookmaker, market):
    return {
        (q.selection, q.line): q
        for q in events
        if (q.game_id, q.bookmaker, q.market) == (game_id, bookmaker, market)
    }


def test_american_h2h_spreads_totals_of_one_book_matched_by_name():
    events = parse_odds(capture(NFL_AMERICAN), "american").events
    game = "nfl-20221023-cin-atl"  # Falcons @ Bengals, 2022-10-23T17:00:00Z
    moneyline = quotes_of(events, game, "pointsbetus", Market.MONEYLINE)
    # The outcomes list the Falcons (away) first: matched by name, not position.
    assert moneyline[("home", None)].price_american == -300
    assert moneyline[("away", None)].price_american == 240
    spread = quotes_of(events, game, "pointsbetus", Market.SPREAD)
    assert spread[("home", -6.5)].price_american == -107
    assert spread[("away", 6.5)].price_american == -107
    total = quotes_of(events, game, "pointsbetus", Market.TOTAL)
    assert total[("over", 47.5)].price_american == -105
    assert total[("under", 47.5)].price_american == -110


def test_market_time_falls_back_to_the_bookmakers_last_update_in_2022():
    events = parse_odds(capture(NFL_AMERICAN), "american").events
    moneyline = quotes_of(events, "nfl-20221023-cin-atl", "pointsbetus", Market.MONEYLINE)
    quote = moneyline[("home", None)]
    assert quote.event_time == datetime(2022, 10, 22, 15, 50, 12, tzinfo=UTC)


def test_h2h_lay_is_not_read_as_a_second_moneyline():
    events = parse_odds(capture(NFL_AMERICAN), "american").events
    betfair = quotes_of(events, "nfl-20221023-cin-atl", "betfair", Market.MONEYLINE)
    assert sorted(betfair) == [("away", None), ("home", None)]  # back prices only
    assert all(q.market in (Market.MONEYLINE, Market.SPREAD, Market.TOTAL) for q in events)


def test_decimal_spreads_and_totals_with_signed_points():
    events = parse_odds(capture(NFL_DECIMAL), "decimal").events
    game = "nfl-20220929-cin-mia"  # Dolphins @ Bengals, Thursday night 2022-09-30T00:15Z
    assert (
        quotes_of(events, game, "draftkings", Market.MONEYLINE)[("home", None)].price_decimal == 1.5
    )
    spread = quotes_of(events, game, "draftkings", Market.SPREAD)
    assert spread[("home", -4.0)].price_decimal == 1.91
    assert spread[("away", 4.0)].price_decimal == 1.91
    assert ("over", 47.0) in quotes_of(events, game, "draftkings", Market.TOTAL)


def test_soccer_h2h_is_three_way_with_draw_and_integer_decimal_prices():
    events = parse_odds(capture(SERIE_A), "decimal").events
    game = "I1-2021-22-atalanta-spezia"
    pinnacle = quotes_of(events, game, "pinnacle", Market.MONEYLINE)
    assert {s: q.price_decimal for (s, _), q in pinnacle.items()} == {
        "home": 1.3,
        "away": 8.39,
        "draw": 5.98,
    }
    # williamhill quotes Spezia at the JSON integer 10: a decimal price, not American +10.
    williamhill = quotes_of(events, game, "williamhill", Market.MONEYLINE)
    assert williamhill[("away", None)].price_decimal == 10.0
    assert williamhill[("away", None)].price_american == 900
    assert quotes_of(events, game, "unibet", Market.MONEYLINE)[("draw", None)].price_decimal == 6.0


def test_a_decided_price_of_one_is_skipped_with_its_reason():
    parsed = parse_odds(capture(MULTISPORT), "decimal")
    # DraftKings, in play: Brooklyn Nets 1.0 (no payout), Lakers 41.0.
    lakers_game = [q for q in parsed.events if q.game_id == "nba-20250310-bkn-lal" and
                   q.bookmaker == "draftkings"]  # fmt: skip
    assert [(q.selection, q.price_decimal) for q in lakers_game] == [("away", 41.0)]
    assert any(
        "'price': 1.0" in s.reason and "bkn-lal draftkings" in s.item for s in parsed.skipped
    )


def test_other_sports_and_unknown_teams_are_skipped_and_the_rest_kept():
    parsed = parse_odds(capture(MULTISPORT), "decimal")
    reasons = [s.reason for s in parsed.skipped]
    assert "sport key 'soccer_uefa_champs_league' is not followed" in reasons
    assert "oddsapi: unknown team 'Ipswich Town' in E0" in reasons
    [quote] = [q for q in parsed.events if q.game_id == "E0-2024-25-man-city-brighton" and
               q.bookmaker == "draftkings" and q.selection == "draw"]  # fmt: skip
    assert quote.sport.value == "soccer"


def test_in_play_events_keep_their_non_round_start_in_the_game_id_date():
    events = parse_odds(capture(MIXED_INPLAY), "american").events
    # Canadiens @ Avalanche, commence_time 2024-03-27T01:08:34Z = 21:08 ET on the 26th.
    game = quotes_of(events, "nhl-20240326-col-mtl", "unibet_us", Market.MONEYLINE)
    assert (game[("home", None)].price_american, game[("away", None)].price_american) == (-385, 275)


def test_empty_bookmakers_give_no_quotes():
    parsed = parse_odds(capture(MMA), "american")
    assert parsed.events == []
    assert {s.reason for s in parsed.skipped} == {
        "sport key 'mma_mixed_martial_arts' is not followed"
    }


def test_in_play_soccer_three_way_from_a_mixed_response():
    events = parse_odds(capture(SOCCER_INPLAY), "decimal").events
    selections = {
        q.selection for q in events if q.market is Market.MONEYLINE and q.sport.value == "soccer"
    }
    assert selections == {"home", "draw", "away"}


def test_player_props_become_player_prop_quotes():
    # No full props capture exists (PROVENANCE): the documented event-odds shape.
    body = b"""[{"id": "e1", "sport_key": "basketball_nba", "commence_time": "2025-01-07T01:00:00Z",
      "home_team": "Minnesota Timberwolves", "away_team": "Los Angeles Clippers",
      "bookmakers": [{"key": "fanduel", "last_update": "2025-01-06T20:00:00Z", "markets": [
        {"key": "player_points", "last_update": "2025-01-06T19:59:00Z", "outcomes": [
          {"name": "Over", "description": "Anthony Edwards", "price": 1.87, "point": 26.5},
          {"name": "Under", "description": "Anthony Edwards", "price": 1.95, "point": 26.5}
        ]}]}]}]"""
    over, under = parse_odds(body, "decimal").events
    assert (over.market, over.player, over.stat, over.line, over.selection) == (
        Market.PLAYER_PROP, "Anthony Edwards", "points", 26.5, "over")  # fmt: skip
    assert under.price_decimal == 1.95
    assert over.event_time == datetime(2025, 1, 6, 19, 59, tzinfo=UTC)


def test_scores_are_strings_keyed_by_team_name():
    events = {
        e.game_id: e
        for e in parse_scores(capture(SCORES), datetime(2022, 10, 3, 3, tzinfo=UTC)).events
    }
    final = events["nfl-20221002-no-min"]  # London game, start 13:28:40Z
    assert (final.status, final.home_score, final.away_score) == (GameStatus.FINAL, 25, 28)
    live = events["nfl-20221002-tb-kc"]  # KC @ TB, completed false with scores
    assert (live.status, live.home_score, live.away_score) == (GameStatus.IN_PROGRESS, 17, 31)
    upcoming = events["nfl-20221003-sf-lar"]  # scores null, last_update null
    assert (upcoming.status, upcoming.home_score) == (GameStatus.SCHEDULED, None)
    assert upcoming.event_time == datetime(2022, 10, 3, 3, tzinfo=UTC)
    assert final.event_time == datetime(2022, 10, 3, 2, 26, 27, tzinfo=UTC)


@pytest.mark.parametrize("body", [b'{"message": "quota"}', b"[{", b""])
def test_an_unparseable_response_raises_response_format_error(body):
    with pytest.raises(ResponseFormatError):
        parse_odds(body, "decimal")
