"""At-least-once upstream, on a real season: when a worker dies, ingest sends again the
events it had sent but not yet marked seen, so the readers of the clean topics get a run of
copies behind the later events of the run. The league's model and the games' odds books
must then change nothing: no output that the single delivery did not make (an output id
made again must carry the same value), and the same state at the end."""

from __future__ import annotations

import random

import orjson
import pytest

from tables.league_ratings import LeagueRatings
from tables.model_params import DEFAULT_PARAMS
from tests.tables.test_anomalies import fold, season

EVENTS = 4_000  # a month or two of a season: fixtures, prices and results
RUNS = 15


def with_copies_sent_again(events, seed: int = 7) -> list:
    """``events`` with ``RUNS`` runs of them (20-400 events each) delivered a second time,
    each right after its own last event, as a restarted ingest sends them."""
    rng = random.Random(seed)
    ends = sorted(rng.sample(range(400, len(events)), RUNS))
    delivered, start = [], 0
    for end in ends:
        delivered += events[start:end]
        delivered += events[end - rng.randint(20, 400) : end]
        start = end
    return delivered + list(events[start:])


def predicted(events) -> tuple[dict[str, bytes], bytes]:
    """Every output of the league's model by id (the last value made under it), and the
    league's state at the end."""
    state = LeagueRatings(events[0].sport, events[0].league)
    outputs = {}
    for event in events:
        out = state.observe(event, DEFAULT_PARAMS, 0.005)
        for output in (*out.predictions, *out.alerts, *out.settlements):
            outputs[output.event_id] = output.to_json()
    return outputs, orjson.dumps(state.to_dict())


@pytest.mark.parametrize("source", ["football-data/D1_2021.csv", "moneylines/nba.csv"])
def test_copies_sent_again_behind_later_events_change_no_output_and_no_state(data_dir, source):
    events = list(season(data_dir / source)[:EVENTS])
    again = with_copies_sent_again(events)
    assert len(again) > len(events) + RUNS * 20

    once_outputs, once_state = predicted(events)
    again_outputs, again_state = predicted(again)
    assert again_outputs.keys() == once_outputs.keys()
    changed = [i for i, value in again_outputs.items() if value != once_outputs[i]]
    assert not changed, changed[:5]
    assert again_state == once_state
    assert fold(again) == fold(events)
