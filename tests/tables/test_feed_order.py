from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas import GameEvent
from tables.feed_order import RECENT_IDS, Verdict, admit, admit_game_events
from tests.schemas.examples import GAME

T0 = datetime(2021, 8, 22, 17, 0, tzinfo=UTC)


def game(event_id: str, minutes: int) -> GameEvent:
    return GameEvent.model_validate(
        {**GAME, "event_id": event_id, "event_time": T0 + timedelta(minutes=minutes)}
    )


def test_first_event_is_accepted():
    verdict, state = admit(None, game("a", 0))
    assert verdict is Verdict.ACCEPT and state[1] == ["a"]


def test_same_id_again_is_a_duplicate_whatever_its_time():
    _, state = admit(None, game("a", 0))
    _, state = admit(state, game("b", 5))
    assert admit(state, game("a", 0))[0] is Verdict.DUPLICATE
    assert admit(state, game("b", 5)) == (Verdict.DUPLICATE, None)


def test_an_older_new_event_is_out_of_order():
    _, state = admit(None, game("a", 10))
    assert admit(state, game("b", 5)) == (Verdict.OUT_OF_ORDER, None)


def test_same_time_new_id_is_accepted():
    _, state = admit(None, game("a", 10))
    verdict, state = admit(state, game("b", 10))
    assert verdict is Verdict.ACCEPT and state[1] == ["a", "b"]


def test_recent_ids_are_bounded():
    state = None
    for i in range(RECENT_IDS * 3):
        _, state = admit(state, game(f"e{i}", i))
    assert len(state[1]) == RECENT_IDS
    assert state[1][-1] == f"e{RECENT_IDS * 3 - 1}"


def test_a_games_events_are_judged_in_order_with_one_state():
    events = [game("a", 0), game("b", 5), game("a", 0), game("c", 3)]
    verdicts, state = admit_game_events(None, events)
    assert verdicts == [Verdict.ACCEPT, Verdict.ACCEPT, Verdict.DUPLICATE, Verdict.OUT_OF_ORDER]
    assert state == {GAME["game_id"]: [state[GAME["game_id"]][0], ["a", "b"]]}
    again, unchanged = admit_game_events(state, [game("b", 5)])
    assert again == [Verdict.DUPLICATE] and unchanged is None
