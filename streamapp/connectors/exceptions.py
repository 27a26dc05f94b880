"""Errors of the connectors' parsing layer."""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of every connector error."""


class ResponseFormatError(ConnectorError):
    """A whole response cannot be parsed (not JSON, not the provider's shape): it goes to the
    dead letters whole, with ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownTeam(ConnectorError):
    """A provider's team name that the alias table does not hold: never guessed."""

    def __init__(self, provider: str, league: str, name: str) -> None:
        super().__init__(f"{provider}: unknown team {name!r} in {league}")
        self.provider = provider
        self.league = league
        self.name = name
