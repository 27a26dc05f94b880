"""The model's own work per event: the most events/s one core could reach doing only that.

The replayed season's game and odds events are timed through part of what the pipeline
must do to each of them, and nothing else (no Kafka, no state store, no sink, no output
encoding): ingest's validation of the raw message, ``LeagueRatings.observe`` (the
predictions) and the odds book. Spread over every replayed event, as ``pipeline_eps``
counts them, their CPU time bounds ``pipeline_eps`` from above on one core of this
machine, whatever the runtime: one that handed each validated event on in process, with
no topic between the stages, would still do this much. The trusted decode of clean JSON is
timed beside them: what each agent reading a clean topic adds. (bench.micro_hotpath times
observe, the book and the decode on a smaller stream, with a digest of their outputs.)
"""

from __future__ import annotations

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

# The steps no runtime can leave out; "decode" comes on top, once per clean topic read.
FLOOR_STEPS = ("validate", "observe", "book")


@dataclass
class ModelFloor:
    replayed: int  # every event replayed, as pipeline_eps counts them
    game_and_odds: int  # the raw game and odds messages among them, each timed
    seconds: dict[str, float]  # best CPU time of each step over all of them

    def us_per_event(self, step: str) -> float:
        """A step's CPU time per game or odds event."""
        return self.seconds[step] / self.game_and_odds * 1e6

    @property
    def floor_us_per_event(self) -> float:
        return sum(self.us_per_event(step) for step in FLOOR_STEPS)

    @property
    def ceiling_eps(self) -> float:
        """Replayed events per second of the floor's CPU time, in pipeline_eps's units."""
        return self.replayed / sum(self.seconds[step] for step in FLOOR_STEPS)

    def to_dict(self) -> dict:
        return asdict(self) | {
            "us_per_game_or_odds_event": {step: self.us_per_event(step) for step in self.seconds},
            "floor_steps": list(FLOOR_STEPS),
            "floor_us_per_event": self.floor_us_per_event,
            "ceiling_eps": self.ceiling_eps,
        }

    def summary(self) -> str:
        steps = " + ".join(f"{step} {self.us_per_event(step):.1f}" for step in FLOOR_STEPS)
        return (
            f"the model alone (no Kafka, state store or sink), CPU per game or odds event: "
            f"{steps} = {self.floor_us_per_event:.1f} µs; over all {self.replayed:,} replayed "
            f"events, at most {self.ceiling_eps:,.0f} events/s on one core; decoding clean "
            f"JSON adds {self.us_per_event('decode'):.1f} µs per agent that reads it"
        )


def raw_messages(events: Iterable[FeedEvent]) -> list[tuple[Feed, bytes, bytes]]:
    """(feed, key, value) of each game and odds event, as its raw topic carries it."""
    return [(FEEDS[e.feed], e.key.encode(), e.to_bytes()) for e in events if e.feed in MERGED]


# The steps below keep nothing a worker would not keep: a list of every event or output
# would have the collector walk it again and again, which no batch of a worker makes it do.


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
    steps = {
        "validate": lambda: validate_each(messages),
        "decode": lambda: decode_each(stream),
        "observe": lambda: observe_all(decoded, keep_outputs=False),
        "book": lambda: book_all(decoded, keep_outputs=False),
    }
    seconds = {name: best_cpu_seconds(step, repeat) for name, step in steps.items()}
    return ModelFloor(len(events), len(messages), seconds)
