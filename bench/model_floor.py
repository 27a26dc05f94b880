"""The model's own work per event: the most events/s any runtime could reach on one core.

The replayed season's game and odds events are timed through the pure functions the
pipeline must run on each of them, and nothing else (no Kafka, no state store, no sink, no
output encoding): ingest's validation of the raw message, ``LeagueRatings.observe`` (the
predictions) and the odds book. Their sum bounds ``pipeline_eps`` from above on this
machine, whatever the runtime: one that handed each validated event on in process, with no
topic between the stages, would still do this much per event. The trusted decode of clean
JSON is timed beside them: what each agent reading a clean topic adds (bench.micro_hotpath
times the same steps on a smaller stream, with a digest of their outputs).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from agents.ingest import validate_message
from bench.micro_hotpath import (
    MERGED,
    MODELS,
    best_cpu_seconds,
    book_all,
    clean_stream,
    decode_trusted,
    observe_all,
)
from schemas import FEEDS
from schemas.feeds import Feed, InvalidEvent
from streamapp.replay.sources import FeedEvent

log = logging.getLogger(__name__)

# The steps no runtime can leave out; "decode" comes on top, once per clean topic read.
FLOOR_STEPS = ("validate", "observe", "book")


@dataclass
class ModelFloor:
    events: int  # the game and odds events timed
    us_per_event: dict[str, float]  # best CPU time per step, µs per event

    @property
    def floor_us_per_event(self) -> float:
        return sum(self.us_per_event[step] for step in FLOOR_STEPS)

    @property
    def ceiling_eps(self) -> float:
        return 1e6 / self.floor_us_per_event

    def to_dict(self) -> dict:
        return asdict(self) | {
            "floor_steps": list(FLOOR_STEPS),
            "floor_us_per_event": self.floor_us_per_event,
            "ceiling_eps": self.ceiling_eps,
        }

    def summary(self) -> str:
        steps = " + ".join(f"{step} {self.us_per_event[step]:.1f}" for step in FLOOR_STEPS)
        return (
            f"the model alone (no Kafka, state store or sink), CPU per game or odds event: "
            f"{steps} = {self.floor_us_per_event:.1f} µs, so at most "
            f"{self.ceiling_eps:,.0f} events/s on one core; decoding clean JSON adds "
            f"{self.us_per_event['decode']:.1f} µs per agent that reads it "
            f"({self.events:,} events)"
        )


def raw_messages(events: Iterable[FeedEvent]) -> list[tuple[Feed, bytes, bytes]]:
    """(feed, key, value) of each game and odds event, as its raw topic carries it."""
    return [(FEEDS[e.feed], e.key.encode(), e.to_bytes()) for e in events if e.feed in MERGED]


# The timed steps keep no more than a worker keeps: a list of every validated or decoded
# event, or of every output, would make the collector walk it again and again, which no
# batch of a worker does (4-5 µs more per event for the validation, ~2 µs for observe's
# outputs, measured).


def validate_each(messages: list[tuple[Feed, bytes, bytes]]) -> int:
    """How many of ``messages`` ingest accepts, each validated as ingest validates it."""
    accepted = 0
    for feed, key, value in messages:
        try:
            validate_message(feed, key, value)
        except InvalidEvent:
            continue  # ingest's dead letters never reach the clean topics
        accepted += 1
    return accepted


def decode_each(stream: list[tuple[str, bytes]]) -> None:
    """Each clean event decoded as an agent reading a clean topic decodes it."""
    for feed, payload in stream:
        MODELS[feed].from_clean_json(payload)


def measure_model_floor(events: Sequence[FeedEvent], repeat: int = 2) -> ModelFloor:
    messages = raw_messages(events)
    stream = clean_stream(events)  # validated and merged per league, as predict-games reads
    decoded = decode_trusted(stream)
    per_message = {"validate": (lambda: validate_each(messages), len(messages))}
    per_clean_event = {
        "decode": lambda: decode_each(stream),
        "observe": lambda: observe_all(decoded, keep_outputs=False),
        "book": lambda: book_all(decoded),
    }
    steps = per_message | {name: (step, len(stream)) for name, step in per_clean_event.items()}
    timed = {name: best_cpu_seconds(step, repeat) / count for name, (step, count) in steps.items()}
    return ModelFloor(len(messages), {name: seconds * 1e6 for name, seconds in timed.items()})
