"""What a worker should hold and emit for a replay: the same pure functions, applied
offline. Game and odds events go through the same event-time merge as predict-games."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import orjson

from schemas import FEEDS, GameEvent, OddsQuote, parse_feed_event
from schemas.feeds import InvalidEvent
from streamapp.settings import Settings
from tables.event_merge import complete_through, new_merge, push, release
from tables.league_ratings import LeagueRatings, millis, more_of_instant
from tables.model_params import DEFAULT_PARAMS

MERGED = ("games", "odds")


def valid(events):
    for event in events:
        try:
            parse_feed_event(FEEDS[event.feed], event.to_bytes())
        except InvalidEvent:
            continue
        yield event


@dataclass
class OfflineModel:
    leagues: dict[str, LeagueRatings] = field(default_factory=dict)
    merges: dict[str, dict] = field(default_factory=dict)
    predictions: dict[str, object] = field(default_factory=dict)
    alerts: dict[str, object] = field(default_factory=dict)
    settlements: dict[str, object] = field(default_factory=dict)

    def league_values(self) -> dict[str, dict]:
        """league-ratings table values as JSON hands them back, without the merge buffer
        (its offsets are the topics'); ``waiting`` compares what is still in it."""
        return {k: orjson.loads(orjson.dumps(s.to_dict())) for k, s in self.leagues.items()}

    def waiting(self, key: str) -> list[str]:
        return waiting(self.merges[key])


def waiting(merge: dict) -> list[str]:
    """The payloads a league's merge buffer still holds back (a worker's ``merge`` value or
    the offline one): what the merge rule has not released yet."""
    return [item[5] for item in merge["pending"]]


def record(outputs: dict[str, object], emitted) -> None:
    """Keep each output by its id; an id made twice must be made with the same value (the
    worker's topics are compared by id and value)."""
    for output in emitted:
        before = outputs.setdefault(output.event_id, output)
        assert before == output, f"{output.event_id} made twice with different values"


def offline_model(events, settings: Settings | None = None) -> OfflineModel:
    settings = settings or Settings()
    model = OfflineModel()
    offsets: Counter = Counter()
    # As predict-games judges replayed events: from before its live window.
    live_from = round((time.time() - settings.live_window_seconds) * 1000)

    def apply(key: str, released) -> None:
        events = [
            (GameEvent if feed == "games" else OddsQuote).model_validate_json(payload)
            for feed, payload, *_ in released
        ]
        followers = [*events[1:], None] if events else []
        for applied, following in zip(events, followers, strict=True):
            out = model.leagues[key].observe(
                applied,
                DEFAULT_PARAMS,
                settings.prediction_min_change,
                settings.alert_on_outlier_prices,
                more_of_instant(applied, following),
            )
            record(model.predictions, out.predictions)
            record(model.alerts, out.alerts)
            record(model.settlements, out.settlements)

    for event in valid(events):
        if event.feed not in MERGED:
            continue
        key = event.key
        merge = model.merges.setdefault(key, new_merge())
        parsed = (GameEvent if event.feed == "games" else OddsQuote).model_validate(event.payload)
        push(merge, event.feed, millis(parsed.event_time), event.feed, offsets[(key, event.feed)],
             parsed.to_json().decode())  # fmt: skip
        offsets[(key, event.feed)] += 1
        if key not in model.leagues:
            model.leagues[key] = LeagueRatings(parsed.sport, parsed.league)
        apply(key, release(merge, MERGED, live_from=live_from))
    # The replay's end: its watermarks say every feed of every league has been sent up to
    # the last event (streamapp.replay.producer), which releases what still waits.
    last = max((millis(event.event_time) for event in events), default=0)
    for key, merge in model.merges.items():
        for feed in MERGED:
            complete_through(merge, feed, last)
        apply(key, release(merge, MERGED, live_from=live_from))
    return model
