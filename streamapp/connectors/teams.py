"""Provider team names -> the team names of the replayed history, per league.

The history names teams as its sources do: football-data.co.uk's short names for soccer
("Man City"), the moneyline files' ESPN abbreviations for the NBA, NFL and NHL ("LAC").
A live team must resolve to one of those, or its ratings and form are lost: the table is
explicit, reviewed by hand, and a name it does not hold raises UnknownTeam — never a guess.

Each entry is ``history name: (provider spellings...)``; the history name itself is also
accepted. Covered: every team of the latest seasons in the shared data (2021/22, and the
evaluation seasons up to 2023/24) and the captured teams that the history holds.
Spellings marked ``# seen`` appear in ``feeds/`` captures (E = ESPN, O = The Odds API);
the others are the providers' usual official names, not verified against a capture.
Not held, so unknown: captured teams with no history here (Ipswich Town, Real Oviedo,
Como...) and "Utah Hockey Club" (a new franchise for the NHL, not the Arizona Coyotes).
"""

from __future__ import annotations

import unicodedata
from functools import cache

from streamapp.connectors.exceptions import UnknownTeam

TeamAliases = dict[str, tuple[str, ...]]

PREMIER_LEAGUE: TeamAliases = {
    "Arsenal": (),  # seen E, O
    "Aston Villa": (),  # seen O
    "Bournemouth": ("AFC Bournemouth",),  # seen E "AFC Bournemouth", O "Bournemouth"
    "Brentford": (),  # seen E, O
    "Brighton": ("Brighton & Hove Albion", "Brighton and Hove Albion"),  # seen E, O
    "Burnley": (),  # seen E
    "Chelsea": (),  # seen E, O
    "Crystal Palace": (),  # seen E, O
    "Everton": (),  # seen E, O
    "Fulham": (),  # seen E, O
    "Leeds": ("Leeds United",),  # seen E
    "Leicester": ("Leicester City",),  # seen O
    "Liverpool": (),  # seen E, O
    "Luton": ("Luton Town",),
    "Man City": ("Manchester City",),  # seen E, O
    "Man United": ("Manchester United",),  # seen E, O
    "Newcastle": ("Newcastle United",),  # seen O
    "Norwich": ("Norwich City",),  # seen E (Championship)
    "Nott'm Forest": ("Nottingham Forest",),  # seen E, O
    "Sheffield United": (),  # seen E (Championship)
    "Southampton": (),  # seen O
    "Sunderland": (),  # seen E
    "Tottenham": ("Tottenham Hotspur",),  # seen E, O
    "Watford": (),
    "West Ham": ("West Ham United",),  # seen O
    "Wolves": ("Wolverhampton Wanderers",),  # seen E, O
}

LA_LIGA: TeamAliases = {
    "Alaves": ("Alavés", "Deportivo Alavés"),
    "Almeria": ("Almería", "UD Almería"),
    "Ath Bilbao": ("Athletic Club", "Athletic Bilbao"),
    "Ath Madrid": ("Atlético Madrid", "Atletico Madrid"),  # seen O "Atlético Madrid"
    "Barcelona": (),  # seen O
    "Betis": ("Real Betis",),
    "Cadiz": ("Cádiz", "Cadiz CF"),
    "Celta": ("Celta Vigo",),
    "Elche": (),  # seen E
    "Espanol": ("Espanyol",),  # seen E
    "Getafe": (),  # seen E
    "Girona": (),  # seen E
    "Granada": ("Granada CF",),
    "Las Palmas": (),
    "Levante": (),  # seen E
    "Mallorca": (),  # seen E
    "Osasuna": ("CA Osasuna",),  # seen E "Osasuna"
    "Real Madrid": (),  # seen O
    "Sevilla": (),  # seen E
    "Sociedad": ("Real Sociedad",),
    "Valencia": (),  # seen E
    "Valladolid": ("Real Valladolid",),
    "Vallecano": ("Rayo Vallecano",),
    "Villarreal": (),
}

SERIE_A: TeamAliases = {
    "Atalanta": ("Atalanta BC",),  # seen O "Atalanta BC"
    "Bologna": (),  # seen O
    "Cagliari": (),  # seen O
    "Cremonese": (),  # seen E
    "Empoli": (),  # seen O
    "Fiorentina": (),  # seen O
    "Frosinone": (),
    "Genoa": (),  # seen O
    "Inter": ("Internazionale", "Inter Milan"),  # seen O "Inter Milan"
    "Juventus": (),  # seen E, O
    "Lazio": (),  # seen O
    "Lecce": (),  # seen O
    "Milan": ("AC Milan",),  # seen E, O
    "Monza": (),
    "Napoli": (),  # seen O
    "Parma": (),  # seen E
    "Roma": ("AS Roma",),  # seen O
    "Salernitana": (),  # seen O
    "Sampdoria": (),  # seen O
    "Sassuolo": (),  # seen E, O
    "Spezia": (),  # seen O
    "Torino": (),  # seen E, O
    "Udinese": (),  # seen O
    "Venezia": (),  # seen O
    "Verona": ("Hellas Verona", "Hellas Verona FC"),  # seen O "Hellas Verona FC"
}

BUNDESLIGA: TeamAliases = {
    "Augsburg": ("FC Augsburg",),
    "Bayern Munich": (),  # seen E
    "Bielefeld": ("Arminia Bielefeld",),
    "Bochum": ("VfL Bochum",),
    "Darmstadt": ("SV Darmstadt 98",),
    "Dortmund": ("Borussia Dortmund",),  # seen E
    "Ein Frankfurt": ("Eintracht Frankfurt",),
    "FC Koln": ("FC Cologne", "1. FC Köln"),  # seen E "FC Cologne"
    "Freiburg": ("SC Freiburg",),  # seen O
    "Greuther Furth": ("SpVgg Greuther Furth", "Greuther Fürth"),
    "Hamburg": ("Hamburg SV", "Hamburger SV"),  # seen E "Hamburg SV"
    "Heidenheim": ("1. FC Heidenheim 1846", "1. FC Heidenheim"),  # seen E "…1846"
    "Hertha": ("Hertha Berlin",),
    "Hoffenheim": ("TSG Hoffenheim",),
    "Leverkusen": ("Bayer Leverkusen",),  # seen E, O
    "M'gladbach": ("Borussia Mönchengladbach", "Borussia Monchengladbach"),  # seen E "…ö…"
    "Mainz": ("FSV Mainz 05", "Mainz 05"),
    "RB Leipzig": (),  # seen O
    "Schalke 04": (),  # seen O
    "Stuttgart": ("VfB Stuttgart",),
    "Union Berlin": ("1. FC Union Berlin",),  # seen E
    "Werder Bremen": (),  # seen E
    "Wolfsburg": ("VfL Wolfsburg",),  # seen E
}

LIGUE_1: TeamAliases = {
    "Ajaccio": ("AC Ajaccio",),
    "Angers": (),
    "Auxerre": ("AJ Auxerre",),  # seen E "AJ Auxerre"
    "Bordeaux": (),
    "Brest": (),  # seen E
    "Clermont": ("Clermont Foot",),
    "Le Havre": ("Le Havre AC",),
    "Lens": ("RC Lens",),
    "Lille": (),
    "Lorient": (),  # seen E
    "Lyon": (),
    "Marseille": (),
    "Metz": (),
    "Monaco": ("AS Monaco",),
    "Montpellier": (),  # seen O
    "Nantes": (),
    "Nice": (),  # seen E
    "Paris SG": ("Paris Saint-Germain", "Paris Saint Germain"),  # seen E "-", O " " (UCL)
    "Reims": ("Stade de Reims",),
    "Rennes": ("Stade Rennais",),  # seen O "Rennes"
    "St Etienne": ("Saint-Etienne", "Saint Etienne"),
    "Strasbourg": (),
    "Toulouse": (),  # seen E
    "Troyes": (),
}

# ESPN and The Odds API use the same full names except for the Clippers (both seen).
# Every full name here was seen in a capture except those marked "not seen".
NBA: TeamAliases = {
    "ATL": ("Atlanta Hawks",),
    "BKN": ("Brooklyn Nets",),
    "BOS": ("Boston Celtics",),
    "CHA": ("Charlotte Hornets",),
    "CHI": ("Chicago Bulls",),
    "CLE": ("Cleveland Cavaliers",),
    "DAL": ("Dallas Mavericks",),
    "DEN": ("Denver Nuggets",),
    "DET": ("Detroit Pistons",),
    "GS": ("Golden State Warriors",),
    "HOU": ("Houston Rockets",),
    "IND": ("Indiana Pacers",),
    "LAC": ("LA Clippers", "Los Angeles Clippers"),  # E "LA", O "Los Angeles"
    "LAL": ("Los Angeles Lakers",),
    "MEM": ("Memphis Grizzlies",),
    "MIA": ("Miami Heat",),
    "MIL": ("Milwaukee Bucks",),
    "MIN": ("Minnesota Timberwolves",),
    "NO": ("New Orleans Pelicans",),
    "NY": ("New York Knicks",),
    "OKC": ("Oklahoma City Thunder",),
    "ORL": ("Orlando Magic",),
    "PHI": ("Philadelphia 76ers",),
    "PHX": ("Phoenix Suns",),
    "POR": ("Portland Trail Blazers",),
    "SA": ("San Antonio Spurs",),
    "SAC": ("Sacramento Kings",),
    "TOR": ("Toronto Raptors",),
    "UTAH": ("Utah Jazz",),
    "WSH": ("Washington Wizards",),
}

# Names matched exactly between ESPN and The Odds API in the captures (FORMAT-NOTES).
NFL: TeamAliases = {
    "ARI": ("Arizona Cardinals",),
    "ATL": ("Atlanta Falcons",),
    "BAL": ("Baltimore Ravens",),
    "BUF": ("Buffalo Bills",),
    "CAR": ("Carolina Panthers",),
    "CHI": ("Chicago Bears",),
    "CIN": ("Cincinnati Bengals",),
    "CLE": ("Cleveland Browns",),
    "DAL": ("Dallas Cowboys",),
    "DEN": ("Denver Broncos",),
    "DET": ("Detroit Lions",),
    "GB": ("Green Bay Packers",),
    "HOU": ("Houston Texans",),
    "IND": ("Indianapolis Colts",),
    "JAX": ("Jacksonville Jaguars",),
    "KC": ("Kansas City Chiefs",),
    "LAC": ("Los Angeles Chargers",),
    "LAR": ("Los Angeles Rams",),
    "LV": ("Las Vegas Raiders",),
    "MIA": ("Miami Dolphins",),
    "MIN": ("Minnesota Vikings",),
    "NE": ("New England Patriots",),
    "NO": ("New Orleans Saints",),
    "NYG": ("New York Giants",),
    "NYJ": ("New York Jets",),
    "PHI": ("Philadelphia Eagles",),
    "PIT": ("Pittsburgh Steelers",),
    "SEA": ("Seattle Seahawks",),
    "SF": ("San Francisco 49ers",),
    "TB": ("Tampa Bay Buccaneers",),
    "TEN": ("Tennessee Titans",),
    # The 2020 and 2021 seasons' name (not seen), then the current one (seen E, O).
    "WSH": ("Washington Football Team", "Washington Commanders"),
}

NHL: TeamAliases = {
    "ANA": ("Anaheim Ducks",),
    "ARI": ("Arizona Coyotes",),
    "BOS": ("Boston Bruins",),
    "BUF": ("Buffalo Sabres",),
    "CAR": ("Carolina Hurricanes",),
    "CBJ": ("Columbus Blue Jackets",),
    "CGY": ("Calgary Flames",),
    "CHI": ("Chicago Blackhawks",),
    "COL": ("Colorado Avalanche",),
    "DAL": ("Dallas Stars",),
    "DET": ("Detroit Red Wings",),
    "EDM": ("Edmonton Oilers",),
    "FLA": ("Florida Panthers",),
    "LA": ("Los Angeles Kings",),
    "MIN": ("Minnesota Wild",),
    # O "Montréal Canadiens" seen; ESPN's "Montreal Canadiens" not seen.
    "MTL": ("Montréal Canadiens", "Montreal Canadiens"),
    "NJ": ("New Jersey Devils",),
    "NSH": ("Nashville Predators",),
    "NYI": ("New York Islanders",),
    "NYR": ("New York Rangers",),
    "OTT": ("Ottawa Senators",),
    "PHI": ("Philadelphia Flyers",),
    "PIT": ("Pittsburgh Penguins",),
    "SEA": ("Seattle Kraken",),
    "SJ": ("San Jose Sharks",),
    "STL": ("St. Louis Blues", "St Louis Blues"),  # not seen
    "TB": ("Tampa Bay Lightning",),
    "TOR": ("Toronto Maple Leafs",),
    "VAN": ("Vancouver Canucks",),
    "VGK": ("Vegas Golden Knights",),
    "WPG": ("Winnipeg Jets",),
    "WSH": ("Washington Capitals",),
}

TEAM_ALIASES: dict[str, TeamAliases] = {
    "E0": PREMIER_LEAGUE,
    "SP1": LA_LIGA,
    "I1": SERIE_A,
    "D1": BUNDESLIGA,
    "F1": LIGUE_1,
    "NBA": NBA,
    "NFL": NFL,
    "NHL": NHL,
}


def _normal(name: str) -> str:
    # Providers send the same letters in composed or decomposed form (JSON \u escapes).
    return unicodedata.normalize("NFC", name).strip()


@cache
def _index(league: str) -> dict[str, str]:
    index: dict[str, str] = {}
    for history_name, spellings in TEAM_ALIASES.get(league, {}).items():
        for spelling in (history_name, *spellings):
            known = index.setdefault(_normal(spelling), history_name)
            if known != history_name:
                raise ValueError(f"{league}: {spelling!r} names both {known} and {history_name}")
    return index


def resolve_team(provider: str, league: str, name: str) -> str:
    """The history's name of ``name`` (as ``provider`` spells it) in ``league``."""
    try:
        return _index(league)[_normal(name)]
    except KeyError:
        raise UnknownTeam(provider, league, name) from None
