"""Generated raw messages for the hostile-input fuzz test (issue 14), each with the outcome it
must have, so that "every message ends clean or dead-lettered exactly once" is checked
message by message rather than assumed.

``fuzz_messages(now)`` interleaves about 20 % real-looking valid events (several sports and
leagues, wall-clock-recent, some re-sent exactly, some out of order) with hostile messages:
every named case of the issue, plus mutants whose broken field and value hypothesis draws
with a fixed seed. The same seed and ``now`` give the same messages, byte for byte.

Hostile messages never share a game (or an injury report's team) with any other message:
if one of them is accepted it cannot make a later message a duplicate or out of order, so
every message's expected outcome is known without running the product.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

import orjson
from hypothesis import HealthCheck, Phase, given, seed
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

SEED = 14
VALID_SHARE = 0.2
REPEAT_SHARE = 0.05  # of the valid part: exact duplicates, and as many out-of-order events
MUTANT_SHARE = 0.2  # of the hostile part: hypothesis-drawn mutants and byte strings
MEGABYTE_STRINGS = 6  # each costs 1 MB on the raw topic and 1.3 MB as a dead letter
DEEP = 10_000

# A dead letter for input the schema refuses; anything but `internal` (our own bug).
SCHEMA_ERRORS = frozenset({"malformed_json", "invalid_value", "missing_field"})
WRONG_KEY = frozenset({"wrong_key"})
OUT_OF_ORDER = frozenset({"out_of_order"})


class Expect(Enum):
    CLEAN = "clean"  # its event id on the clean topic once
    DUPLICATE = "duplicate"  # an exact re-send of a clean event: counted, nothing out
    DEAD = "dead"  # one dead letter, of one of ``error_types``
    EITHER = "either"  # debatable input: clean once or one dead letter, never both


@dataclass(frozen=True)
class FuzzMessage:
    feed: str
    key: bytes | None
    value: bytes | None
    case: str
    expect: Expect
    event_id: str | None = None  # the id it would carry on the clean topic
    error_types: frozenset[str] = SCHEMA_ERRORS


@dataclass(frozen=True)
class League:
    sport: str
    league: str
    teams: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.sport}:{self.league}"


LEAGUES = (
    League("soccer", "E0", ("Arsenal", "Chelsea", "Liverpool", "Everton", "Fulham", "Leeds")),
    League("soccer", "SP1", ("Barcelona", "Real Madrid", "Sevilla", "Valencia", "Betis")),
    League("soccer", "D1", ("Bayern Munich", "Dortmund", "RB Leipzig", "Freiburg", "Mainz")),
    League("nba", "NBA", ("LAL", "DEN", "BOS", "MIA", "GSW", "PHX", "MIL", "DAL")),
    League("nfl", "NFL", ("KC", "BUF", "SF", "DAL", "PHI", "CIN")),
    League("nhl", "NHL", ("TOR", "BOS", "COL", "NYR", "EDM", "VGK")),
)
BOOKMAKERS = ("pinnacle", "bet365", "unibet", "draftkings")
SQL_NAMES = (
    "Robert'); DROP TABLE games;--",
    "' OR '1'='1",
    'x"; DELETE FROM dead_letters; --',
    "$$; TRUNCATE odds_quotes; $$",
)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def season_of(moment: datetime) -> str:
    year = moment.year if moment.month >= 8 else moment.year - 1
    return f"{year}-{(year + 1) % 100:02d}"


def encode(payload: dict) -> bytes:
    return orjson.dumps(payload)


# --- valid events ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ValidEvent:
    feed: str
    league: League
    payload: dict
    ordering_key: str

    @property
    def time(self) -> str:
        return self.payload["event_time"]

    def message(self, case: str = "valid", expect: Expect = Expect.CLEAN) -> FuzzMessage:
        return FuzzMessage(
            self.feed,
            self.league.key.encode(),
            encode(self.payload),
            case,
            expect,
            self.payload["event_id"],
            OUT_OF_ORDER if expect is Expect.DEAD else SCHEMA_ERRORS,
        )


def decimal_price(probability: float, margin: float) -> float:
    return round(max(1.01, 1.0 / (probability * (1.0 + margin))), 2)


def game_events(rng: random.Random, league: League, number: int, now: datetime) -> list:
    """One game's life, as its feeds would send it: fixture, lineups, quotes, injuries,
    score updates, the final and (NBA) box scores; every time at least a minute ago."""
    home, away = rng.sample(league.teams, 2)
    game_id = f"fz-{league.league.lower()}-{number}-{slug(home)}-{slug(away)}"
    start = now - timedelta(minutes=rng.randint(135, 600))
    base = {"sport": league.sport, "league": league.league}
    events: list[ValidEvent] = []

    def add(feed: str, ordering_key: str, payload: dict) -> None:
        events.append(ValidEvent(feed, league, {**base, **payload}, ordering_key))

    soccer = league.sport == "soccer"
    scale = {"soccer": 1, "nhl": 1, "nfl": 7, "nba": 28}[league.sport]
    fixture = {
        "game_id": game_id,
        "season": season_of(now),
        "home_team": home,
        "away_team": away,
        "start_time": iso(start),
    }
    add(
        "games",
        game_id,
        {
            **fixture,
            "event_id": f"{game_id}:scheduled",
            "status": "scheduled",
            "event_time": iso(start - timedelta(minutes=rng.randint(60, 120))),
        },
    )
    # Quotes: an opening and a closing price per bookmaker and selection.
    p_home = rng.uniform(0.3, 0.6)
    p_draw = rng.uniform(0.22, 0.3) if soccer else 0.0
    selections = {"home": p_home, "away": 1.0 - p_home - p_draw}
    if soccer:
        selections["draw"] = p_draw
    total_line = {"soccer": 2.5, "nhl": 5.5, "nfl": 44.5, "nba": 221.5}[league.sport]
    for bookmaker in rng.sample(BOOKMAKERS, 3):
        margin = rng.uniform(0.02, 0.07)
        quotes = [("moneyline", s, p, None) for s, p in selections.items()]
        quotes += [("total", s, 0.5, total_line) for s in ("over", "under")]
        for market, selection, probability, line in quotes:
            ordering_key = f"{game_id}|{bookmaker}|{market}|{selection}||"
            for n, minutes in enumerate((rng.randint(100, 300), rng.randint(5, 30))):
                moved = min(0.95, max(0.05, probability + rng.uniform(-0.03, 0.03) * n))
                quote = {
                    "event_id": f"{game_id}:{bookmaker}:{market}:{selection}:{n}",
                    "event_time": iso(start - timedelta(minutes=minutes)),
                    "game_id": game_id,
                    "bookmaker": bookmaker,
                    "market": market,
                    "selection": selection,
                    "price_decimal": decimal_price(moved, margin),
                }
                if line is not None:
                    quote["line"] = line
                add("odds", ordering_key, quote)
    players = {
        team: [f"{slug(team)}-p{i}" for i in range(11 if soccer else 5)] for team in (home, away)
    }
    for team, ids in players.items():
        add(
            "lineups",
            f"{game_id}|{team}",
            {
                "event_id": f"{game_id}:lineup:{slug(team)}",
                "game_id": game_id,
                "team": team,
                "event_time": iso(start - timedelta(minutes=rng.randint(40, 75))),
                "players": [{"player_id": p, "player_name": f"Player {p}"} for p in ids],
            },
        )
        if not soccer:
            player = rng.choice(ids)
            for n, status in enumerate(
                rng.sample(["OUT", "DOUBTFUL", "QUESTIONABLE", "PROBABLE", "AVAILABLE"], 2)
            ):
                add(
                    "injuries",
                    f"{league.league}:{team}|{player}",
                    {
                        "event_id": f"{game_id}:injury:{player}:{n}",
                        "team": team,
                        "player_id": player,
                        "player_name": f"Player {player}",
                        "status": status,
                        "reason": "ankle",
                        "game_id": game_id,
                        "event_time": iso(
                            start - timedelta(minutes=180 - 60 * n - rng.randint(0, 30))
                        ),
                    },
                )
    score = [0, 0]
    for status, minutes in (("in_progress", rng.randint(30, 60)), ("final", rng.randint(115, 130))):
        score = [s + rng.randint(0, 3) * scale for s in score]
        update = {**fixture, "status": status, "home_score": score[0], "away_score": score[1]}
        if status == "final" and soccer:
            shots = [rng.randint(4, 20) for _ in range(2)]
            update["stats"] = {
                "home_shots": shots[0],
                "away_shots": shots[1],
                "home_shots_on_target": rng.randint(score[0], max(score[0], shots[0] // 2)),
                "away_shots_on_target": rng.randint(score[1], max(score[1], shots[1] // 2)),
            }
        add(
            "games",
            game_id,
            {
                **update,
                "event_id": f"{game_id}:{status}",
                "event_time": iso(start + timedelta(minutes=minutes)),
            },
        )
    if league.sport == "nba":
        final = start + timedelta(minutes=130)
        for team, ids in players.items():
            for player in ids:
                add(
                    "boxscores",
                    f"{game_id}|{player}",
                    {
                        "event_id": f"{game_id}:box:{player}",
                        "game_id": game_id,
                        "team": team,
                        "opponent": away if team == home else home,
                        "player_id": player,
                        "player_name": f"Player {player}",
                        "event_time": iso(final + timedelta(minutes=rng.randint(1, 4))),
                        **box_line(rng),
                    },
                )
    return events


def box_line(rng: random.Random) -> dict:
    """A consistent NBA stat line: made <= attempted, points and rebounds add up."""
    fga = rng.randint(0, 25)
    fgm = rng.randint(0, fga)
    fg3a = rng.randint(0, 10)
    fg3m = rng.randint(0, min(fg3a, fgm))
    fta = rng.randint(0, 12)
    ftm = rng.randint(0, fta)
    oreb, dreb = rng.randint(0, 5), rng.randint(0, 12)
    line = {"fga": fga, "fgm": fgm, "fg3a": fg3a, "fg3m": fg3m, "fta": fta, "ftm": ftm}
    return {
        **line,
        "oreb": oreb,
        "dreb": dreb,
        "reb": oreb + dreb,
        "ast": rng.randint(0, 12),
        "pf": rng.randint(0, 6),
        "pts": 2 * fgm + fg3m + ftm,
        "minutes": round(rng.uniform(10, 44), 1),
    }


def valid_events(rng: random.Random, count: int, now: datetime) -> list[ValidEvent]:
    """``count`` valid events of whole games over every league, in event-time order."""
    events: list[ValidEvent] = []
    number = 0
    while len(events) < count:
        for league in LEAGUES:
            events += game_events(rng, league, number, now)
        number += 1
    events.sort(key=lambda e: e.time)
    return events[-count:]  # the newest (the oldest games lose their first events)


def valid_messages(rng: random.Random, count: int, now: datetime) -> list[FuzzMessage]:
    """``count`` messages: valid events, 5 % of them exact re-sends and 5 % older events for
    an ordering key that already has a newer one (out of order)."""
    repeats = round(count * REPEAT_SHARE)
    events = valid_events(rng, count - 2 * repeats, now)
    messages = [e.message() for e in events]
    # Both kinds go right after the event they repeat or precede: fewer than 8 events of the
    # same ordering key come between (the feed-order state remembers the last 8 ids).
    chosen = rng.sample(range(len(events)), 2 * repeats)
    inserts: dict[int, list[FuzzMessage]] = {}
    for n, index in enumerate(chosen):
        event = events[index]
        if n < repeats:
            repeat = event.message("exact_duplicate", Expect.DUPLICATE)
        else:
            earlier = datetime.fromisoformat(event.time) - timedelta(minutes=rng.randint(1, 20))
            payload = {
                **event.payload,
                "event_id": f"{event.payload['event_id']}:late",
                "event_time": iso(earlier),
            }
            late = ValidEvent(event.feed, event.league, payload, event.ordering_key)
            repeat = late.message("out_of_order", Expect.DEAD)
        inserts.setdefault(index, []).append(repeat)
    merged = []
    for index, message in enumerate(messages):
        merged.append(message)
        merged += inserts.get(index, [])
    return merged


# --- hostile messages -----------------------------------------------------------------------


@dataclass
class Template:
    """A valid event of its own game (or team): the body a hostile case breaks."""

    feed: str
    league: League
    payload: dict

    @property
    def key(self) -> bytes:
        return self.league.key.encode()

    @property
    def event_id(self) -> str:
        return self.payload["event_id"]

    def with_(self, **fields) -> dict:
        return {**self.payload, **fields}


def template(rng: random.Random, uid: int, now: datetime, feed: str | None = None) -> Template:
    feed = feed or rng.choice(("games", "odds", "injuries", "lineups", "boxscores"))
    league = rng.choice([x for x in LEAGUES if feed != "boxscores" or x.sport == "nba"])
    if feed == "injuries" and league.sport == "soccer":
        league = LEAGUES[3 + uid % 3]
    home, away = rng.sample(league.teams, 2)
    game_id = f"fzh-game-{uid}"
    when = now - timedelta(minutes=rng.randint(2, 600))
    payload = {
        "event_id": f"fzh-{uid}",
        "event_time": iso(when),
        "sport": league.sport,
        "league": league.league,
    }
    if feed == "games":
        payload |= {
            "game_id": game_id,
            "season": season_of(now),
            "home_team": home,
            "away_team": away,
            "start_time": iso(when - timedelta(minutes=120)),
            "status": "final",
            "home_score": rng.randint(0, 3),
            "away_score": rng.randint(0, 3),
            "stats": {"home_shots": 11.0, "away_shots": 7.0},
        }
    elif feed == "odds":
        payload |= {
            "game_id": game_id,
            "bookmaker": rng.choice(BOOKMAKERS),
            "market": "total",
            "selection": "over",
            "line": 2.5,
            "price_decimal": 1.91,
        }
    elif feed == "injuries":
        # The ordering state of injuries is the team's: a team of its own.
        payload |= {
            "team": f"{home} fzh-{uid}",
            "player_id": f"fzh-p{uid}",
            "player_name": "Hostile Player",
            "status": "QUESTIONABLE",
            "reason": "knee",
        }
    elif feed == "lineups":
        payload |= {
            "game_id": game_id,
            "team": home,
            "players": [{"player_id": f"fzh-p{uid}-{i}", "player_name": f"P{i}"} for i in range(5)],
        }
    else:
        payload |= {
            "game_id": game_id,
            "team": home,
            "opponent": away,
            "player_id": f"fzh-p{uid}",
            "player_name": "Hostile Player",
            **box_line(rng),
        }
    return Template(feed, league, payload)


Case = Callable[[random.Random, Template, datetime], FuzzMessage]


def dead(t: Template, case: str, value, key: bytes | None = None, errors=SCHEMA_ERRORS):
    body = value if isinstance(value, bytes) or value is None else encode(value)
    return FuzzMessage(
        t.feed, t.key if key is None else key, body, case, Expect.DEAD, t.event_id, errors
    )


def either(t: Template, case: str, value) -> FuzzMessage:
    body = value if isinstance(value, bytes) else encode(value)
    return FuzzMessage(t.feed, t.key, body, case, Expect.EITHER, t.event_id)


def with_raw_field(t: Template, field: str, raw: bytes) -> bytes:
    """The template's JSON with ``field`` set to ``raw`` JSON text (NaN, 1e400, deep nests)."""
    rest = {k: v for k, v in t.payload.items() if k != field}
    return encode(rest)[:-1] + b',"' + field.encode() + b'":' + raw + b"}"


def number_field(t: Template) -> str:
    return {
        "games": "home_score",
        "odds": "line",
        "injuries": "reason",
        "lineups": "players",
        "boxscores": "minutes",
    }[t.feed]


def text_field(t: Template) -> str:
    return {"games": "home_team", "lineups": "team", "odds": "bookmaker"}.get(t.feed, "player_name")


def required_fields(t: Template) -> list[str]:
    optional = {"stats", "line", "reason", "opponent", "home_score", "away_score", "price_decimal"}
    if t.feed == "boxscores":  # counts default to 0: a line without one can still be valid
        optional |= set(box_line(random.Random(0)))
    return [f for f in t.payload if f not in optional]


def case_malformed_json(rng, t, now):
    bodies = (
        b"{not json",
        b'{"event_id": "x",',
        b"{'event_id': 'x'}",
        b'{"a":1,}',
        b"}{",
        b'{"event_id" "x"}',
        encode(t.payload).replace(b":", b"=", 1),
    )
    return dead(t, "malformed_json", rng.choice(bodies))


def case_truncated_json(rng, t, now):
    body = encode(t.payload)
    return dead(t, "truncated_json", body[: rng.randint(1, len(body) - 1)])


def case_invalid_utf8(rng, t, now):
    bad = rng.choice((b"\xff", b"\xc3\x28", b"\xc0\xaf", b"\xed\xa0\x80", b"M\xe1laga"))
    field = text_field(t)
    body = encode(t.payload).replace(
        encode(t.payload[field]), b'"' + t.payload[field].encode() + bad + b'"', 1
    )
    return dead(t, "invalid_utf8", body)


def case_invalid_utf8_key(rng, t, now):
    key = rng.choice((t.key + b"\xff", b"\xfe\xff" + t.key, b"soccer:\xc3\x28"))
    return dead(t, "invalid_utf8_key", t.payload, key=key, errors=WRONG_KEY)


def case_empty_value(rng, t, now):
    return dead(t, "empty_value", rng.choice((b"", None, b" ", b"\n")))


def case_null_key(rng, t, now):
    return FuzzMessage(
        t.feed, None, encode(t.payload), "null_key", Expect.DEAD, t.event_id, WRONG_KEY
    )


def case_wrong_key(rng, t, now):
    other = rng.choice([x for x in LEAGUES if x.key != t.league.key]).key.encode()
    key = rng.choice(
        (
            other,
            b"",
            t.key.upper(),
            t.payload.get("game_id", "x").encode(),
            t.key + b" ",
            t.league.league.encode(),
        )
    )
    return dead(t, "wrong_key", t.payload, key=key, errors=WRONG_KEY)


def case_nul_key(rng, t, now):
    key = rng.choice((t.key + b"\x00", b"\x00", t.key.replace(b":", b":\x00"), b"\x00" * 8))
    return dead(t, "nul_key", t.payload, key=key, errors=WRONG_KEY)


def case_non_object(rng, t, now):
    body = rng.choice(
        (
            b"[]",
            b"[1,2,3]",
            b'"event"',
            b"42",
            b"null",
            b"true",
            b"3.14",
            b"[" + encode(t.payload) + b"]",
        )
    )
    return dead(t, "non_object", body)


def case_deep_nesting(rng, t, now):
    kind = rng.randrange(3)
    if kind == 0:
        return dead(t, "deep_nesting", b"[" * DEEP + b"]" * DEEP)
    if kind == 1:
        return dead(t, "deep_nesting", b'{"a":' * DEEP + b"1" + b"}" * DEEP)
    field = "stats" if t.feed == "games" else text_field(t)
    return dead(t, "deep_nesting", with_raw_field(t, field, b"[" * DEEP + b"]" * DEEP))


def case_huge_string(rng, t, now):
    field = rng.choice(("event_id", text_field(t), "league"))
    return dead(t, "huge_string", t.with_(**{field: "x" * 1_000_000}))


def case_huge_number(rng, t, now):
    raw = rng.choice(
        (
            b"9223372036854775808",
            b"18446744073709551616",
            b"1e400",
            b"-1e400",
            b"1e308",
            b"1" + b"0" * 400,
        )
    )
    if t.feed == "games":
        field = rng.choice(("home_score", "away_score", "stats"))
        if field == "stats":
            raw = b'{"home_shots":' + raw + b"}"
    elif t.feed == "odds":
        field = rng.choice(("line", "price_decimal", "price_american"))
    elif t.feed == "boxscores":
        field = rng.choice(("minutes", "pts", "plus_minus"))
    else:
        field = "event_time"
    return dead(t, "huge_number", with_raw_field(t, field, raw))


def case_nan_infinity(rng, t, now):
    raw = rng.choice((b"NaN", b"Infinity", b"-Infinity", b'"NaN"', b'"inf"', b'"-Infinity"'))
    field = {
        "games": "stats",
        "odds": rng.choice(("line", "price_decimal")),
        "boxscores": "minutes",
    }.get(t.feed, "event_time")
    if field == "stats":
        raw = b'{"home_shots_on_target":' + raw + b"}"
    return dead(t, "nan_infinity", with_raw_field(t, field, raw))


def case_wrong_type(rng, t, now):
    field, value = rng.choice(
        {
            "games": [
                ("home_score", [1]),
                ("home_score", "two"),
                ("stats", [1, 2]),
                ("status", 3),
                ("start_time", True),
            ],
            "odds": [("price_decimal", "cheap"), ("line", {"v": 2}), ("market", ["total"])],
            "injuries": [("status", None), ("player_id", {"id": 1}), ("team", 12.5)],
            "lineups": [("players", "everyone"), ("players", [1, 2]), ("team", False)],
            "boxscores": [("pts", "many"), ("minutes", [36]), ("starter", "maybe")],
        }[t.feed]
        + [("sport", 5), ("event_time", [2026]), ("event_id", {"id": 1}), ("league", None)]
    )
    return dead(t, "wrong_type", t.with_(**{field: value}))


def case_missing_field(rng, t, now):
    field = rng.choice(required_fields(t))
    payload = {k: v for k, v in t.payload.items() if k != field}
    if t.feed == "odds" and field == "price_decimal":
        payload.pop("price_american", None)
    return dead(t, "missing_field", payload)


def case_extra_field(rng, t, now):
    extra = rng.choice(
        (
            {"unexpected": 1},
            {"__proto__": {"admin": True}},
            {"kind2": None},
            {"home_score_v2": "x" * 300},
        )
    )
    return either(t, "extra_field", t.with_(**extra))


def case_impossible_score(rng, t, now):
    if t.feed == "boxscores":
        fields = rng.choice(
            (
                {"minutes": 81.0},
                {"pts": t.payload["pts"] + 1},
                {"pf": 7},
                {"fgm": t.payload["fga"] + 1},
                {"reb": t.payload["reb"] + 3},
            )
        )
        return dead(t, "impossible_score", t.with_(**fields))
    template_games = t if t.feed == "games" else template(rng, -1, now, "games")
    high = {"soccer": 250, "nhl": 400, "nfl": 2000, "nba": 1500}[template_games.league.sport]
    fields = rng.choice(
        (
            {"home_score": high},
            {"away_score": -2},
            {"home_score": None},
            {"home_score": high, "away_score": high},
        )
    )
    games = Template(
        "games",
        template_games.league,
        {
            **template_games.payload,
            "event_id": t.event_id,
            "game_id": t.payload.get("game_id", f"fzh-game-{t.event_id}"),
        },
    )
    return dead(games, "impossible_score", games.with_(**fields))


def odds_template(rng, t, now) -> Template:
    if t.feed == "odds":
        return t
    base = template(rng, -1, now, "odds")
    payload = {**base.payload, "event_id": t.event_id, "game_id": f"fzh-game-{t.event_id}"}
    return Template("odds", base.league, payload)


def case_impossible_odds(rng, t, now):
    q = odds_template(rng, t, now)
    fields = rng.choice(
        (
            {"price_decimal": 1.0},
            {"price_decimal": 0.0},
            {"price_decimal": -2.5},
            {"price_decimal": 1001.5},
            {"price_decimal": 1e6},
            {"price_decimal": None, "price_american": 50},
            {"price_decimal": None, "price_american": 0},
            {"price_decimal": None, "price_american": -99},
            {"line": 1e6},
            {"line": -5000.5},
        )
    )
    payload = {k: v for k, v in q.with_(**fields).items() if v is not None}
    return dead(q, "impossible_odds", payload)


def case_price_disagreement(rng, t, now):
    q = odds_template(rng, t, now)
    price = rng.choice(((2.5, -200), (1.5, 150), (3.0, -300), (1.91, 300)))
    fields = {"price_decimal": price[0], "price_american": price[1]}
    return dead(q, "price_disagreement", q.with_(**fields))


def case_unknown_enum(rng, t, now):
    field, value = rng.choice(
        {
            "games": [("status", "abandoned"), ("status", "FINAL")],
            "odds": [("market", "exotic"), ("selection", "sideways")],
            "injuries": [("status", "MAYBE"), ("status", "out")],
            "lineups": [("sport", "quidditch")],
            "boxscores": [("sport", "cricket")],
        }[t.feed]
        + [("sport", "curling"), ("sport", "")]
    )
    if t.feed == "odds" and t.league.sport != "soccer" and rng.random() < 0.3:
        field, value = "selection", "draw"  # a draw exists only in soccer
        t = Template(t.feed, t.league, t.with_(market="moneyline"))
        t.payload.pop("line")
    return dead(t, "unknown_enum", t.with_(**{field: value}))


def date_field(rng, t) -> str:
    return "start_time" if t.feed == "games" and rng.random() < 0.3 else "event_time"


def case_far_past_date(rng, t, now):
    when = rng.choice(("0001-01-01T00:00:00Z", "1066-10-14T09:00:00Z", "1899-12-31T23:59:59Z"))
    return dead(t, "far_past_date", t.with_(**{date_field(rng, t): when}))


def case_far_future_date(rng, t, now):
    when = rng.choice(("2999-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2500-06-01T12:00:00Z"))
    return dead(t, "far_future_date", t.with_(**{date_field(rng, t): when}))


def case_future_event(rng, t, now):
    """Otherwise valid, 2 to 48 hours ahead: the broker refuses such a timestamp."""
    when = now + timedelta(minutes=rng.randint(120, 48 * 60))
    return dead(t, "future_event", t.with_(event_time=iso(when)))


def case_limit_date_with_offset(rng, t, now):
    when = rng.choice(
        (
            "9999-12-31T23:59:59-05:00",
            "0001-01-01T00:00:00+05:00",
            "9999-12-31T23:59:59.999999-14:00",
            "0001-01-01T00:00:00+14:00",
        )
    )
    return dead(t, "limit_date_with_offset", t.with_(**{date_field(rng, t): when}))


def case_zoneless_date(rng, t, now):
    if rng.random() < 0.5:  # recent: naive times are taken as UTC today
        return either(t, "zoneless_date", t.with_(event_time=t.payload["event_time"][:19]))
    when = rng.choice(("0001-01-01T00:00:00", "9999-12-31T23:59:59", "1900-01-01 00:00"))
    return dead(t, "zoneless_date", t.with_(event_time=when))


def case_bad_date(rng, t, now):
    when = rng.choice(("yesterday", "2026-13-45T25:61:00Z", 1e20, -1, "", "T", "2026-02-30Z"))
    return dead(t, "bad_date", t.with_(**{date_field(rng, t): when}))


def case_control_characters(rng, t, now):
    field = rng.choice((text_field(t), "event_id"))
    bad = rng.choice(("\x00", "\x1b[31m", "\r\n", "\x07", "\x7f", "\x08\x08"))
    value = str(t.payload[field])
    return dead(t, "control_characters", t.with_(**{field: value[:3] + bad + value[3:]}))


def case_sql_name(rng, t, now):
    return either(t, "sql_name", t.with_(**{text_field(t): rng.choice(SQL_NAMES)}))


def case_long_id(rng, t, now):
    kind = rng.randrange(3)
    if kind == 0:  # at the limit: fine, unless a derived id no longer fits
        return either(t, "long_id", t.with_(event_id=t.event_id.ljust(256, "i")))
    if kind == 1:
        return dead(t, "long_id", t.with_(event_id=t.event_id.ljust(257, "i")))
    field = "game_id" if "game_id" in t.payload else "player_id"
    return dead(t, "long_id", t.with_(**{field: f"{t.payload[field]}".ljust(256, "g")}))


def case_odd_encoding(rng, t, now):
    """Debatable bytes: a byte-order mark, a repeated key, a lone surrogate escape."""
    body = encode(t.payload)
    field = text_field(t)
    kind = rng.randrange(3)
    if kind == 0:
        return either(t, "odd_encoding", b"\xef\xbb\xbf" + body)
    if kind == 1:
        return either(t, "odd_encoding", body[:-1] + b',"event_id":"' + t.event_id.encode() + b'"}')
    return either(t, "odd_encoding", with_raw_field(t, field, b'"A\\ud800B"'))


def case_wrong_feed(rng, t, now):
    """A valid event of one feed on another feed's raw topic."""
    other = rng.choice([f for f in ("games", "odds", "injuries", "lineups") if f != t.feed])
    return FuzzMessage(other, t.key, encode(t.payload), "wrong_feed", Expect.EITHER, t.event_id)


NAMED_CASES: dict[str, Case] = {
    name.removeprefix("case_"): fn for name, fn in globals().items() if name.startswith("case_")
}
RARE_CASES = {"huge_string": MEGABYTE_STRINGS, "deep_nesting": 60}


# --- hypothesis: broken fields of any JSON value, and byte strings --------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
# Which field a mutant breaks: any but the ones that make its game (or team) its own.
mutations = st.tuples(st.integers(0, 10_000), json_values)
raw_bodies = st.binary(max_size=300)


def drawn(strategy, count: int) -> list:
    """``count`` examples of ``strategy``, the same on every run (fixed seed, no database)."""
    found: list = []

    @seed(SEED)
    @hypothesis_settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(example) -> None:
        found.append(example)

    collect()
    return [found[i % len(found)] for i in range(count)]


def mutant(t: Template, choice: int, value) -> FuzzMessage:
    own = {"game_id", "team"} if t.feed == "injuries" else {"game_id"}
    fields = [f for f in t.payload if f not in own | {"event_id"}] + ["extra"]
    field = fields[choice % len(fields)]
    body = with_raw_field(t, field, json.dumps(value, allow_nan=True).encode())
    return either(t, f"hypothesis_mutant:{field}", body)


# --- the whole run --------------------------------------------------------------------------


def hostile_messages(
    rng: random.Random, count: int, now: datetime, first_uid: int = 0
) -> Iterator[FuzzMessage]:
    """Every named case in turn (the costly ones a few times), then hypothesis mutants and
    raw byte strings."""
    mutants = round(count * MUTANT_SHARE)
    uid = first_uid
    named = [n for n in NAMED_CASES if n not in RARE_CASES]
    plan = [n for n, copies in RARE_CASES.items() for _ in range(copies)]
    plan += [named[i % len(named)] for i in range(count - mutants - len(plan))]
    for name in plan:
        uid += 1
        yield NAMED_CASES[name](rng, template(rng, uid, now), now)
    for choice, value in drawn(mutations, mutants // 2):
        uid += 1
        yield mutant(template(rng, uid, now), choice, value)
    for body in drawn(raw_bodies, mutants - mutants // 2):
        uid += 1
        t = template(rng, uid, now)
        yield FuzzMessage(t.feed, t.key, body, "hypothesis_bytes", Expect.EITHER, t.event_id)


def fuzz_messages(
    now: datetime, total: int = 12_000, valid_share: float = VALID_SHARE, seed_: int = SEED
) -> list[FuzzMessage]:
    """``total`` messages over the five raw feeds in send order: ``valid_share`` valid ones
    (with their duplicates and out-of-order events) in feed order, hostile ones spread
    between them."""
    rng = random.Random(seed_)
    valid_count = round(total * valid_share)
    valid = valid_messages(rng, valid_count, now)
    hostile = list(hostile_messages(rng, total - valid_count, now))
    # Interleave: valid ones keep their order, hostile ones land anywhere between them.
    slots = [True] * len(valid) + [False] * len(hostile)
    rng.shuffle(slots)
    valid_iter, hostile_iter = iter(valid), iter(hostile)
    return [next(valid_iter) if is_valid else next(hostile_iter) for is_valid in slots]


def clean_messages(now: datetime, total: int = 12_000, seed_: int = SEED) -> list[FuzzMessage]:
    """``total`` valid events and nothing else: the baseline a hostile run is compared with."""
    return [e.message() for e in valid_events(random.Random(seed_), total, now)]
