"""Synthetic bad input, for what the real files cannot show: every kind of broken message a
feed can send, each with the reason the dead-letter topic should carry."""

from __future__ import annotations

import orjson

from streamapp.replay.producer import RawMessage

GAME = {
    "event_id": "synthetic:game",
    "event_time": "2021-03-01T12:00:00Z",
    "sport": "soccer",
    "league": "E0",
    "game_id": "synthetic-game",
    "season": "2020-21",
    "home_team": "Home FC",
    "away_team": "Away FC",
    "start_time": "2021-03-01T15:00:00Z",
    "status": "final",
    "home_score": 1,
    "away_score": 0,
}
QUOTE = {
    "event_id": "synthetic:quote",
    "event_time": "2021-03-01T12:00:00Z",
    "sport": "soccer",
    "league": "E0",
    "game_id": "synthetic-game",
    "bookmaker": "bet365",
    "market": "moneyline",
    "selection": "home",
    "price_decimal": 2.1,
}


def _message(feed: str, payload: dict | bytes, suffix: str) -> RawMessage:
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return RawMessage(feed, f"soccer:synthetic-{suffix}".encode(), body)


def malformed_messages(copies: int = 1) -> list[tuple[RawMessage, str]]:
    """(message, a phrase its dead-letter reason must contain), ``copies`` of each kind."""
    kinds = [
        (lambda i: _message("games", b"{not json at all", f"json-{i}"), "not valid JSON"),
        (
            lambda i: _message(
                "games", {**GAME, "event_id": f"synthetic:neg:{i}", "home_score": -2}, f"neg-{i}"
            ),
            "home_score",
        ),
        (
            lambda i: _message(
                "odds",
                {**QUOTE, "event_id": f"synthetic:odds:{i}", "price_decimal": 1.0},
                f"odds-{i}",
            ),
            "price_decimal",
        ),
        (
            lambda i: _message(
                "odds",
                {**QUOTE, "event_id": f"synthetic:sport:{i}", "sport": "curling"},
                f"sport-{i}",
            ),
            "sport",
        ),
        (
            lambda i: _message(
                "injuries", {"event_id": f"synthetic:inj:{i}", "sport": "nba"}, f"missing-{i}"
            ),
            "Field required",
        ),
    ]
    return [(make(i), phrase) for i in range(copies) for make, phrase in kinds]
