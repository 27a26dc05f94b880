"""Per-event cost of the pure hot path, and a digest proving its outputs unchanged.

Real events of one season (by default the Premier League and the NBA) are validated as
ingest validates them, turned into clean-topic JSON, merged per league into event-time
order as predict-games merges them (tables.event_merge), then timed through:

- decode: clean JSON -> GameEvent/OddsQuote, as the agents read the clean topics, with
  model_validate_json and (where the code has it) the trusted Event.from_clean_json;
- observe: LeagueRatings.observe, as predict-games and the backtest apply them;
- odds book: apply_game/apply_quote, steam alerts, new anomalies and the league's
  anomaly log, as book-odds applies them.

``--hot-game N`` times a live match instead: the latency benchmark's feed (bench.live_feed:
one real E0 match, six bookmakers' real opening prices moving), its fixture and N quotes
3 ms apart, so one game's book and histories grow as under a live feed of many quotes a
second (a season's games get two quotes per bookmaker and selection).

The digest hashes every output (predictions, alerts, settlements, steam alerts, price
directions, anomalies) and every final state (league ratings, odds books, anomaly logs):
an optimisation must leave it unchanged. ``--stream FILE`` keeps the clean stream in a
file (written on the first run, read on later ones), so code from before and after a change
is timed on the very same input whatever happens to the replay or merge code meanwhile.
Usage:

    python -m bench.micro_hotpath [--season 2021] [--files E0_2021.csv nba.csv]
                                  [--stream FILE] [--repeat 3] [--only STEP...]
                                  [--profile observe|book|decode] [--hot-game N]
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import pstats
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from agents.ingest import validate_message
from bench.live_feed import LiveFeed
from schemas import FEEDS, Alert, GameEvent, OddsQuote, parse_feed_event
from schemas.feeds import InvalidEvent
from streamapp.replay.catalog import timeline
from streamapp.replay.sources import FeedEvent
from streamapp.settings import get_settings
from tables.anomalies import logged
from tables.event_merge import new_merge, push, release
from tables.keys import table_key
from tables.league_ratings import LeagueRatings, millis, more_of_instant
from tables.model_params import DEFAULT_PARAMS
from tables.odds_book import apply_game, apply_quote, new_anomalies, steam_alert

MERGED = ("games", "odds")
DEFAULT_FILES = ("football-data/E0_2021.csv", "moneylines/nba.csv")
MODELS = {"games": GameEvent, "odds": OddsQuote}


def clean_stream(events: Iterable[FeedEvent]) -> list[tuple[str, bytes]]:
    """(feed, clean JSON) of every valid game and odds event, in the order predict-games
    applies them: ingest's validation, then each league's event-time merge."""
    merges: dict[str, dict] = {}
    offsets: dict[tuple[str, str], int] = {}
    released: list[tuple[str, bytes]] = []
    live_from = round((time.time() - get_settings().live_window_seconds) * 1000)  # a replay
    for raw in events:
        if raw.feed not in MERGED:
            continue
        try:
            event = validate_message(FEEDS[raw.feed], raw.key.encode(), raw.to_bytes())
        except InvalidEvent:
            continue  # ingest's dead letters never reach the clean topics
        merge = merges.setdefault(raw.key, new_merge())
        offset = offsets.get((raw.key, raw.feed), 0)
        offsets[(raw.key, raw.feed)] = offset + 1
        push(merge, raw.feed, millis(event.event_time), raw.feed, offset,
             event.to_json().decode())  # fmt: skip
        released += [
            (item.feed, item.payload.encode())
            for item in release(merge, MERGED, live_from=live_from)
        ]
    for merge in merges.values():  # the end of the season: nothing more can come first
        everything = release(merge, MERGED, max_wait=1.0, now=float("inf"))
        released += [(item.feed, item.payload.encode()) for item in everything]
    return released


def hot_game_stream(quotes: int) -> list[tuple[str, bytes]]:
    """(feed, clean JSON) of a live match's fixture and ``quotes`` quotes (see above)."""
    feed = LiveFeed.from_real_match(get_settings().data_dir, "E0", 2021, "micro")
    at = datetime(2021, 5, 1, 12, tzinfo=UTC)
    raw = [feed.fixture(at)]
    while len(raw) <= quotes:
        at += timedelta(milliseconds=3)
        raw += feed.next_update(at)
    return [
        (
            event.feed,
            parse_feed_event(FEEDS[event.feed], event.to_bytes(), now=at.timestamp()).to_json(),
        )
        for event in raw[: quotes + 1]
    ]


def load_stream(path: Path | None, paths: list[Path], season: int) -> list[tuple[str, bytes]]:
    """The clean stream, from ``path`` when it exists (else built, and kept there)."""
    if path and path.exists():
        return [(feed, payload.encode()) for feed, payload in orjson.loads(path.read_bytes())]
    stream = clean_stream(timeline(paths, season))
    if path:
        path.write_bytes(orjson.dumps([(feed, payload.decode()) for feed, payload in stream]))
    return stream


def decode_all(stream: list[tuple[str, bytes]]) -> list[GameEvent | OddsQuote]:
    return [MODELS[feed].model_validate_json(payload) for feed, payload in stream]


def decode_trusted(stream: list[tuple[str, bytes]]) -> list[GameEvent | OddsQuote]:
    return [MODELS[feed].from_clean_json(payload) for feed, payload in stream]


def observe_all(events, keep_outputs: bool = True) -> tuple[list, dict[str, LeagueRatings]]:
    """Every output of LeagueRatings.observe over ``events`` (none kept unless
    ``keep_outputs``: a worker sends them on), and each league's state."""
    settings = get_settings()
    leagues: dict[str, LeagueRatings] = {}
    outputs = []
    following: list = [None] * len(events)  # each event's league's next event
    next_of_league: dict[str, object] = {}
    for index in range(len(events) - 1, -1, -1):
        key = events[index].partition_key
        following[index] = next_of_league.get(key)
        next_of_league[key] = events[index]
    for event, then in zip(events, following, strict=True):
        key = event.partition_key
        state = leagues.get(key)
        if state is None:
            state = leagues[key] = LeagueRatings(event.sport, event.league)
        out = state.observe(
            event,
            DEFAULT_PARAMS,
            settings.prediction_min_change,
            settings.alert_on_outlier_prices,
            more_of_instant(event, then),
        )
        if keep_outputs:
            outputs += [*out.predictions, *out.alerts, *out.settlements]
    return outputs, leagues


def book_all(events, keep_outputs: bool = True) -> tuple[list, dict[str, dict], dict[str, dict]]:
    """What book-odds makes of ``events``: every price direction, steam alert and new
    anomaly in order (none kept unless ``keep_outputs``), each game's book and each
    league's anomaly log."""
    books: dict[str, dict] = {}
    logs: dict[str, dict] = {}
    emitted: list = []
    for event in events:
        key = table_key(event.partition_key, event.game_id)
        before = books.get(key)
        if isinstance(event, GameEvent):
            book = apply_game(before, event)
        else:
            steam_before = len(before["steam"]) if before else 0
            book, direction = apply_quote(before, event)
            alerts = [steam_alert(event, steam) for steam in book["steam"][steam_before:]]
            if keep_outputs:
                emitted += [direction, *alerts]
        books[key] = book
        found = new_anomalies(before, book)
        if found:
            if keep_outputs:
                emitted.append(found)
            logs[event.partition_key] = logged(logs.get(event.partition_key), found)
    return emitted, books, logs


def digest_of(events: list, observed: tuple, booked: tuple) -> str:
    """A hash of the decoded events, every output and every final state, byte for byte."""
    digest = hashlib.sha256()
    for event in events:
        digest.update(repr(event).encode())
    outputs, leagues = observed
    for output in outputs:
        digest.update(output.to_json())
    for key in sorted(leagues):
        digest.update(orjson.dumps(leagues[key].to_dict()))
    emitted, books, logs = booked
    for item in emitted:
        digest.update(item.to_json() if isinstance(item, Alert) else orjson.dumps(item))
    for states in (books, logs):
        for key in sorted(states):
            digest.update(orjson.dumps(states[key]))
    return digest.hexdigest()


def best_cpu_seconds(step: Callable[[], object], repeat: int) -> float:
    """The least CPU time of ``repeat`` runs of ``step``: the least disturbed by other
    processes (wall time on a shared machine varies far more)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        step()
        best = min(best, time.process_time() - started)
    return best


def timed(label: str, count: int, repeat: int, step: Callable[[], object]) -> None:
    """Print the best per-event CPU time of ``step`` over ``count`` events."""
    best = best_cpu_seconds(step, repeat)
    print(f"{label:<22}{best * 1e6 / count:>10.1f} us/event  ({count:,} events, {best:.2f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--season", type=int, default=2021, help="season by its end year")
    parser.add_argument("--files", nargs="+", default=DEFAULT_FILES,
                        help="files under the data folder")  # fmt: skip
    parser.add_argument("--stream", type=Path, help="file keeping the clean stream")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", nargs="+", help="time only these steps (no digest)")
    parser.add_argument("--profile", choices=("decode", "observe", "book"))
    parser.add_argument("--hot-game", type=int, metavar="N", help="a live match's N quotes")
    args = parser.parse_args()
    data_dir = get_settings().data_dir
    if args.hot_game:
        stream = hot_game_stream(args.hot_game)
        source = f"one live match, {args.hot_game:,} quotes"
    else:
        stream = load_stream(args.stream, [data_dir / f for f in args.files], args.season)
        source = f"season {args.season}, {', '.join(args.files)}"
    events = decode_all(stream)
    quotes = sum(isinstance(e, OddsQuote) for e in events)
    print(f"{source}: {len(events):,} events ({quotes:,} quotes)")

    steps = {
        "decode": lambda: decode_all(stream),
        "decode (trusted)": lambda: decode_trusted(stream),
        "observe": lambda: observe_all(events),
        "book": lambda: book_all(events),
    }
    if not hasattr(GameEvent, "from_clean_json"):  # code from before the trusted decoder
        del steps["decode (trusted)"]
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(steps[args.profile])
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
        return
    for label, step in steps.items():
        if not args.only or label in args.only:
            timed(label, len(events), args.repeat, step)
    if args.only:
        return
    if "decode (trusted)" in steps:
        same = decode_trusted(stream) == events
        print(f"from_clean_json == model_validate_json on every event: {same}")
    print(f"digest {digest_of(decode_all(stream), observe_all(events), book_all(events))}")


if __name__ == "__main__":
    main()
