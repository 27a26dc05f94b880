"""Pydantic models of every event streamapp reads or writes."""

from schemas.alert import Alert, AlertKind
from schemas.base import Event, Sport
from schemas.boxscore import PlayerBoxScore
from schemas.deadletter import DeadLetter
from schemas.feeds import FEEDS, Feed, parse_feed_event
from schemas.game import GameEvent, GameStatus
from schemas.injury import InjuryReport, InjuryStatus
from schemas.lineup import LineupConfirmation, LineupPlayer
from schemas.odds import Market, OddsQuote
from schemas.prediction import Prediction
from schemas.settlement import Settled, Settlement

__all__ = [
    "Alert",
    "AlertKind",
    "DeadLetter",
    "Event",
    "FEEDS",
    "Feed",
    "GameEvent",
    "GameStatus",
    "InjuryReport",
    "InjuryStatus",
    "LineupConfirmation",
    "LineupPlayer",
    "Market",
    "OddsQuote",
    "PlayerBoxScore",
    "Prediction",
    "Settled",
    "Settlement",
    "Sport",
    "parse_feed_event",
]
