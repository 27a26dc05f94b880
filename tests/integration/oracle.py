"""What a worker must hold and emit for a replay, and the comparisons the integration tests
make with it: every table value and every output from the same pure functions applied
offline (tests/offline.py).

Outputs (predictions, alerts, settlements) are compared by value: every message the worker
sent for an id, a redelivered copy included, must be the record the offline calculation
made for that id — the whole record as JSON, floats bit for bit, since the same functions
produced them from the same events in the same order."""

from __future__ import annotations

import asyncio
import time
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass

import orjson

from schemas import GameEvent, OddsQuote, PlayerBoxScore
from streamapp.kafka_io import read_events
from streamapp.replay.catalog import timeline
from streamapp.settings import Settings
from tables.keys import table_key
from tables.odds_book import apply_game, apply_quote, steam_alert
from tables.player_form import record_line
from tables.team_form import record_result
from tests.offline import offline_model, valid, waiting

OUTPUTS = ("predictions", "alerts", "settlements")
# Fields left out of the comparison, per output, each with the reason it may legitimately
# differ between runs. None: every field of every output (ids, event times, teams,
# probabilities, lines, inputs, prices, edges, stakes, settlement figures, detail texts) is
# computed by pure functions from the events; a wall-clock field (a processing time) would
# go here, by name.
UNCOMPARED_FIELDS: dict[str, frozenset[str]] = {name: frozenset() for name in OUTPUTS}


def get(port: int, path: str, timeout: float = 30) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as response:
        return orjson.loads(response.read())


def key_path(table: str, key: str) -> str:
    return f"/tables/{table}/{urllib.parse.quote(key, safe='')}"


def stored(port: int, table: str, key: str):
    """What a table holds for a key (windows for a windowed table), not what is derived."""
    answer = get(port, key_path(table, key))
    return answer.get("windows", answer.get("value"))


def season_events(data_dir, *leagues: str, nba: bool = True):
    files = [data_dir / "football-data" / f"{league}_2021.csv" for league in leagues]
    if nba:
        files += [data_dir / "moneylines" / "nba.csv", data_dir / "nba-boxscores" / "playoffs.csv"]
    return timeline(files, season_end=2021)


def offline_state(events) -> dict[str, dict]:
    """Every table value the worker should hold and every output it should send, from the
    same functions in feed order (outputs: id -> the output)."""
    model = offline_model(events)
    form, books, players = {}, {}, {}
    steam_alerts: dict[str, object] = {}
    rate: Counter = Counter()
    for event in valid(events):
        p = event.payload
        league = event.key
        if event.feed == "games":
            game = GameEvent.model_validate(p)
            if game.status.value == "final":
                for team in (game.home_team, game.away_team):
                    key = table_key(league, team)
                    form[key] = record_result(form.get(key), game, team)
            key = table_key(league, game.game_id)
            books[key] = apply_game(books.get(key), game)
        elif event.feed == "odds":
            quote = OddsQuote.model_validate(p)
            key = table_key(league, quote.game_id)
            before = len(books[key]["steam"]) if key in books else 0
            books[key], _ = apply_quote(books.get(key), quote)
            for steam in books[key]["steam"][before:]:
                alert = steam_alert(quote, steam)
                steam_alerts[alert.event_id] = alert
            rate[(key, int(quote.event_time.timestamp()) // 60 * 60)] += 1
        elif event.feed == "boxscores":
            line = PlayerBoxScore.model_validate(p)
            key = table_key(league, line.player_id)
            players[key] = record_line(players.get(key), line)
    assert not set(steam_alerts) & set(model.alerts), "a steam alert id is a value alert's"
    return {
        "league-ratings": model.league_values(),
        "waiting": {key: model.waiting(key) for key in model.leagues},
        "team-form": form,
        "odds-book": books,
        "player-form": players,
        "quote-rate": rate,
        "predictions": model.predictions,
        "alerts": {**model.alerts, **steam_alerts},
        "settlements": model.settlements,
    }


# -- outputs ------------------------------------------------------------------------------


def comparable(name: str, record: dict) -> dict:
    """An output record as compared: every field but the ones named in UNCOMPARED_FIELDS."""
    return {k: v for k, v in record.items() if k not in UNCOMPARED_FIELDS[name]}


def expected_outputs(expected: dict[str, dict]) -> dict[str, dict[str, dict]]:
    """output -> id -> the record the worker must send, as JSON (the same ``to_json`` the
    agents send)."""
    return {
        name: {i: comparable(name, orjson.loads(o.to_json())) for i, o in expected[name].items()}
        for name in OUTPUTS
    }


def emitted_outputs(settings: Settings) -> dict[str, list[dict]]:
    """output -> every message of its topic, in topic order, as JSON."""

    async def read() -> dict[str, list[dict]]:
        return {
            name: [orjson.loads(e) for e in await read_events(settings, settings.topic(name))]
            for name in OUTPUTS
        }

    return asyncio.run(read())


@dataclass
class OutputDiff:
    name: str
    messages: int
    distinct: int
    offline: int
    missing: list[str]
    extra: list[str]
    differing: dict[str, list[tuple[str, object, object]]]  # id -> (field, live, offline)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.differing)

    def describe(self) -> str:
        text = (
            f"{self.name}: {self.messages} messages, {self.distinct} distinct, {self.offline} "
            f"offline; missing {len(self.missing)} {self.missing[:3]}, extra {len(self.extra)} "
            f"{self.extra[:3]}, differing by value {len(self.differing)}"
        )
        for event_id, fields in list(self.differing.items())[:3]:
            shown = ", ".join(f"{f}: live {a!r} offline {b!r}" for f, a, b in fields[:6])
            text += f"\n  {event_id}: {shown}"
        return text


def field_diff(live: dict, offline: dict) -> list[tuple[str, object, object]]:
    """(field, live value, offline value) for every top-level field that differs."""
    return [
        (f, live.get(f, "<absent>"), offline.get(f, "<absent>"))
        for f in sorted(set(live) | set(offline))
        if live.get(f, "<absent>") != offline.get(f, "<absent>")
    ]


def diff_outputs(name: str, emitted: list[dict], expected: dict[str, dict]) -> OutputDiff:
    """Every emitted message of one output against the offline records by id; a
    redelivered copy must equal the record too."""
    by_id: dict[str, list[dict]] = {}
    for record in emitted:
        by_id.setdefault(record["event_id"], []).append(comparable(name, record))
    differing = {}
    for event_id, copies in by_id.items():
        if event_id not in expected:
            continue
        for copy in copies:
            if copy != expected[event_id]:
                differing[event_id] = field_diff(copy, expected[event_id])
                break
    return OutputDiff(
        name=name,
        messages=len(emitted),
        distinct=len(by_id),
        offline=len(expected),
        missing=sorted(set(expected) - set(by_id)),
        extra=sorted(set(by_id) - set(expected)),
        differing=differing,
    )


def assert_outputs_equal_offline(
    settings: Settings, expected: dict[str, dict]
) -> dict[str, OutputDiff]:
    """Every prediction, alert and settlement on the worker's topics equals, by value, the
    offline one of its id; none missing, none invented. A redelivered output (at-least-once)
    repeats its id and must repeat its value: the database and any consumer collapse it."""
    wanted = expected_outputs(expected)
    emitted = emitted_outputs(settings)
    diffs = {name: diff_outputs(name, emitted[name], wanted[name]) for name in OUTPUTS}
    for diff in diffs.values():
        print(diff.describe())
    assert all(d.ok for d in diffs.values()), "\n".join(d.describe() for d in diffs.values())
    return diffs


# -- tables ---------------------------------------------------------------------------


def assert_league_ratings_equal_offline(port: int, expected: dict[str, dict]) -> None:
    """Each league's model state equals the offline one, and its merge buffer holds the
    events the offline merge still holds (``waiting``: what the merge rule keeps back)."""
    for key, value in expected["league-ratings"].items():
        # The worker releases what waits once its inputs have been quiet a moment (a tick
        # after STREAMAPP_IDLE_INPUT_SECONDS): the drained state may be read just before.
        deadline = time.monotonic() + 10
        live = stored(port, "league-ratings", key)
        while waiting(live["merge"]) != expected["waiting"][key] and time.monotonic() < deadline:
            time.sleep(0.2)
            live = stored(port, "league-ratings", key)
        assert waiting(live.pop("merge")) == expected["waiting"][key], key
        assert live == value, key
