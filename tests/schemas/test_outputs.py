from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from schemas import DeadLetter, Prediction

PREDICTION = {
    "event_id": "g:elo-1:e",
    "event_time": "2021-01-01T00:00:00Z",
    "sport": "soccer",
    "league": "E0",
    "game_id": "g",
    "model": "elo",
    "model_version": "elo-1",
    "home_team": "A",
    "away_team": "B",
    "start_time": "2021-01-02T15:00:00+00:00",
    "p_home": 0.5,
    "p_draw": 0.25,
    "p_away": 0.25,
}


def test_prediction_probabilities_sum_to_one():
    assert Prediction.model_validate(PREDICTION).p_draw == 0.25
    with pytest.raises(ValidationError, match="sum to"):
        Prediction.model_validate({**PREDICTION, "p_away": 0.3})
    with pytest.raises(ValidationError):
        Prediction.model_validate({**PREDICTION, "p_home": 1.2})


def test_dead_letter_keeps_the_original_bytes_and_source():
    original = b"\x00\x01 not json \xff"
    letter = DeadLetter.for_message(
        reason="not valid JSON",
        error_type="malformed_json",
        topic="sports.raw.games",
        partition=3,
        offset=42,
        key=b"game-1",
        payload=original,
        received_at=datetime(2021, 1, 1, tzinfo=UTC),
    )
    again = DeadLetter.model_validate_json(letter.to_json())
    assert again.payload == original
    assert (again.source_topic, again.partition, again.offset, again.key) == (
        "sports.raw.games",
        3,
        42,
        "game-1",
    )
