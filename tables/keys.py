"""Table keys: every key starts with the league ("sport:league"), the partition key of every
topic, so any worker can tell which worker holds a key, and a league prefix is a range."""

from __future__ import annotations

SEPARATOR = "|"


def table_key(partition_key: str, *parts: str) -> str:
    return SEPARATOR.join((partition_key, *parts))


def partition_of(key: str) -> str:
    """The league part of a table key ("soccer:E0|Arsenal" -> "soccer:E0")."""
    league = key.split(SEPARATOR, 1)[0]
    sport, colon, name = league.partition(":")
    if not (sport and colon and name):
        raise ValueError(
            f"table keys start with 'sport:league', e.g. 'soccer:E0|Arsenal'; got {key!r}"
        )
    return league


def checked_league(league: str) -> str:
    """``league`` if it is a league key ("sport:league", e.g. "soccer:E0"), else ValueError."""
    sport, colon, name = league.partition(":")
    if not (sport and colon and name) or SEPARATOR in league:
        raise ValueError(f"a league is sport:league, e.g. soccer:E0; got {league!r}")
    return league
