from __future__ import annotations

import csv

import orjson
import pytest

from streamapp.connectors.exceptions import UnknownTeam
from streamapp.connectors.teams import TEAM_ALIASES, resolve_team
from streamapp.settings import Settings
from tests.connectors.conftest import capture

DATA = Settings().data_dir
LATEST_SOCCER = ["football-data/{}_2122.csv", "evaluation/football-data/{}_2324.csv"]
LATEST_US = {"moneylines": "_2021", "evaluation/moneylines": "_2024"}


def history_teams(league: str) -> set[str]:
    """Every team of the league's latest seasons in the shared data."""
    names: set[str] = set()
    if league in ("NBA", "NFL", "NHL"):
        for folder, season in LATEST_US.items():
            with open(DATA / folder / f"{league.lower()}.csv", newline="") as handle:
                for row in csv.DictReader(handle):
                    if row["tournament"].endswith(season):
                        names |= {row["team_1"], row["team_2"]}
        return names
    for pattern in LATEST_SOCCER:
        with open(DATA / pattern.format(league), newline="", encoding="utf-8-sig") as handle:
            names |= {row["HomeTeam"] for row in csv.DictReader(handle) if row.get("HomeTeam")}
    return names


@pytest.mark.parametrize("league", sorted(TEAM_ALIASES))
def test_every_team_of_the_latest_seasons_is_in_the_table(league):
    assert history_teams(league) <= set(TEAM_ALIASES[league])


@pytest.mark.parametrize(
    ("league", "espn", "odds_api", "history"),
    [  # each pair as captured (FORMAT-NOTES, and the captures' team lists)
        ("NBA", "LA Clippers", "Los Angeles Clippers", "LAC"),
        ("E0", "Brighton & Hove Albion", "Brighton and Hove Albion", "Brighton"),
        ("E0", "AFC Bournemouth", "Bournemouth", "Bournemouth"),
        ("E0", "Manchester City", "Manchester City", "Man City"),
        ("E0", "Wolverhampton Wanderers", "Wolverhampton Wanderers", "Wolves"),
        ("D1", "Bayer Leverkusen", "Bayer Leverkusen", "Leverkusen"),
        ("I1", "AC Milan", "AC Milan", "Milan"),
        ("NFL", "Washington Commanders", "Washington Commanders", "WSH"),
    ],
)
def test_both_providers_names_resolve_to_the_history_name(league, espn, odds_api, history):
    assert resolve_team("espn", league, espn) == history
    assert resolve_team("oddsapi", league, odds_api) == history


def test_a_json_escaped_accent_resolves_once_decoded():
    events = orjson.loads(
        capture(
            "the-odds-api/odds_upcoming_mixed-sports_inplay_h2h_american_us_2024-03-27T0134Z.json"
        )
    )
    [away] = [e["away_team"] for e in events if e["home_team"] == "Colorado Avalanche"]
    assert away == "Montréal Canadiens"
    assert resolve_team("oddsapi", "NHL", away) == "MTL"


def test_espn_names_with_an_umlaut_and_odd_spellings_resolve():
    assert resolve_team("espn", "D1", "Borussia Mönchengladbach") == "M'gladbach"
    assert resolve_team("espn", "D1", "FC Cologne") == "FC Koln"
    assert resolve_team("espn", "F1", "Paris Saint-Germain") == "Paris SG"


@pytest.mark.parametrize(
    ("league", "name"),
    [
        ("NHL", "Utah Hockey Club"),
        ("E0", "Ipswich Town"),
        ("SP1", "Real Oviedo"),
        ("E0", "Brighton and Hove"),
        ("XX", "Arsenal"),
    ],  # fmt: skip
)
def test_an_unknown_team_raises_and_is_never_guessed(league, name):
    with pytest.raises(UnknownTeam) as raised:
        resolve_team("oddsapi", league, name)
    assert (raised.value.provider, raised.value.league, raised.value.name) == (
        "oddsapi",
        league,
        name,
    )


def test_a_name_is_never_an_alias_of_two_teams():
    for league in TEAM_ALIASES:
        resolve_team("espn", league, next(iter(TEAM_ALIASES[league])))  # builds the index
