"""Provider league codes -> the project's (Sport, league), as the replayed history names them.

Soccer leagues are football-data.co.uk division codes (E0, SP1, I1, D1, F1); the US leagues
are the moneyline files' upper-case sport (NBA, NFL, NHL). Anything else is not followed:
its events are skipped with a reason, the rest of the response is kept.
"""

from __future__ import annotations

from typing import NamedTuple

from schemas.base import Sport


class League(NamedTuple):
    sport: Sport
    code: str


EPL = League(Sport.SOCCER, "E0")
LA_LIGA = League(Sport.SOCCER, "SP1")
SERIE_A = League(Sport.SOCCER, "I1")
BUNDESLIGA = League(Sport.SOCCER, "D1")
LIGUE_1 = League(Sport.SOCCER, "F1")
NBA = League(Sport.NBA, "NBA")
NFL = League(Sport.NFL, "NFL")
NHL = League(Sport.NHL, "NHL")

ESPN_LEAGUES: dict[str, League] = {
    "soccer/eng.1": EPL,
    "soccer/esp.1": LA_LIGA,
    "soccer/ita.1": SERIE_A,
    "soccer/ger.1": BUNDESLIGA,
    "soccer/fra.1": LIGUE_1,
    "basketball/nba": NBA,
    "football/nfl": NFL,
    "hockey/nhl": NHL,
}

# ESPN's numeric league ids, as in an event's uid ("s:600~l:700~e:740898"): the multi-league
# scoreboard (soccer/all) names no league otherwise, and it mixes in leagues that share team
# names with ours (the women's super league's "Arsenal", l:8097). All seen in the captures.
ESPN_LEAGUE_IDS: dict[str, str] = {
    "700": "soccer/eng.1",
    "740": "soccer/esp.1",
    "730": "soccer/ita.1",
    "720": "soccer/ger.1",
    "710": "soccer/fra.1",
    "46": "basketball/nba",
    "28": "football/nfl",
    "90": "hockey/nhl",
}

ODDS_API_LEAGUES: dict[str, League] = {
    "soccer_epl": EPL,
    "soccer_spain_la_liga": LA_LIGA,
    "soccer_italy_serie_a": SERIE_A,
    "soccer_germany_bundesliga": BUNDESLIGA,
    "soccer_france_ligue_one": LIGUE_1,
    "basketball_nba": NBA,
    "americanfootball_nfl": NFL,
    "icehockey_nhl": NHL,
}


def espn_league(path: str) -> League | None:
    """``soccer/eng.1`` (or its bare code ``eng.1``) -> its League; None when not followed."""
    if "/" not in path:
        path = f"soccer/{path}"
    return ESPN_LEAGUES.get(path)


def espn_league_of_uid(uid: str) -> League | None:
    """The League of an ESPN event or competition uid (``s:600~l:700~e:…``)."""
    parts = dict(part.split(":", 1) for part in uid.split("~") if ":" in part)
    path = ESPN_LEAGUE_IDS.get(parts.get("l", ""))
    return ESPN_LEAGUES[path] if path else None


def odds_api_league(sport_key: str) -> League | None:
    return ODDS_API_LEAGUES.get(sport_key)
