"""A real season slice through a real worker on the real broker."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from collections import defaultdict

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from schemas import FEEDS, DeadLetter, Prediction, Sport, parse_feed_event
from schemas.feeds import InvalidEvent
from streamapp.kafka_io import event_counts, read_all, read_events
from streamapp.replay.catalog import timeline
from streamapp.replay.malformed import malformed_messages
from streamapp.replay.producer import replay
from streamapp.summary import wait_until_drained
from tests.integration.conftest import snapshot
from tests.integration.oracle import assert_outputs_equal_offline, offline_state

pytestmark = pytest.mark.integration


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return orjson.loads(response.read())


async def produce_malformed(settings):
    """Send the synthetic bad messages; return (topic, partition, offset) -> expected phrase."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers)
    await producer.start()
    try:
        sent = {}
        for message, phrase in malformed_messages(copies=2):
            topic = settings.topic(FEEDS[message.feed].raw_topic)
            meta = await producer.send_and_wait(topic, message.value, key=message.key)
            sent[(topic, meta.partition, meta.offset)] = phrase
        return sent
    finally:
        await producer.stop()


def test_season_slice_end_to_end(live_settings, worker, data_dir):
    settings = live_settings
    files = [data_dir / "football-data" / "E0_2021.csv", data_dir / "moneylines" / "nba.csv"]
    events = timeline(files, season_end=2021)
    expected = offline_state(events)  # while the worker starts
    invalid_real = 0
    for event in events:
        try:
            parse_feed_event(FEEDS[event.feed], event.to_bytes())
        except InvalidEvent:
            invalid_real += 1

    async def scenario():
        report = await replay(settings, events, progress=False)
        bad = await produce_malformed(settings)
        await wait_until_drained(settings, timeout=300)
        counts = await event_counts(
            settings, [settings.topic("clean.games"), settings.topic("clean.odds")]
        )
        predictions = await read_events(settings, settings.topic("predictions"))
        letters = await read_all(settings, settings.topic("deadletter"))
        stored = snapshot(settings.database_url)
        # The same events once more: every one is a duplicate, nothing new comes out.
        await replay(settings, events, progress=False)
        await wait_until_drained(settings, timeout=300)
        counts_again = await event_counts(
            settings, [settings.topic("clean.games"), settings.topic("clean.odds")]
        )
        predictions_again = await event_counts(settings, [settings.topic("predictions")])
        stored_again = snapshot(settings.database_url)
        return (
            report,
            bad,
            counts,
            predictions,
            letters,
            counts_again,
            predictions_again,
            stored,
            stored_again,
        )

    (
        report, bad, counts, predictions, letters, counts_again, predictions_again, stored,
        stored_again,
    ) = asyncio.run(scenario())  # fmt: skip

    # Every valid input reached a clean topic once; the invalid ones did not.
    assert sum(counts.values()) == report.total - invalid_real
    assert counts_again == counts
    assert predictions_again[settings.topic("predictions")] == len(predictions)

    # PostgreSQL holds each event once, and the second replay changed no row.
    assert {t: v for t, v in stored.items() if t != "dead_letters"} == {
        t: v for t, v in stored_again.items() if t != "dead_letters"
    }
    assert stored["odds_quotes"][0] == counts[settings.topic("clean.odds")]
    fixtures = {e.game_id for e in events if e.feed == "games"}
    assert stored["games"][0] == len(fixtures)
    assert stored["predictions"][0] == len(predictions)
    assert stored["dead_letters"][0] == len(letters) + invalid_real

    # Dead letters: each synthetic bad message, with its reason and its exact source offset.
    letters = [DeadLetter.model_validate_json(r.value) for r in letters]
    by_source = {(d.source_topic, d.partition, d.offset): d for d in letters}
    assert len(letters) == len(bad) + invalid_real
    for source, phrase in bad.items():
        assert phrase in by_source[source].reason, by_source[source]

    # Every fixture got a prediction, keyed by its game, with valid probabilities.
    predictions = [Prediction.model_validate_json(e) for e in predictions]
    assert all(r.game_id for r in predictions)
    assert {p.game_id for p in predictions} == fixtures
    assert all((p.p_draw is None) == (p.sport is not Sport.SOCCER) for p in predictions)

    # The last pregame prediction of each game is a fair forecast: better than a coin flip.
    last = {}
    for p in predictions:
        if p.model == "model-only":
            last[p.game_id] = p
    results = {
        e.game_id: (e.payload["home_score"], e.payload["away_score"])
        for e in events
        if e.feed == "games" and e.payload["status"] == "final"
    }
    brier = defaultdict(list)
    for game_id, p in last.items():
        home, away = results[game_id]
        if p.sport is Sport.SOCCER:
            outcome = (home > away, home == away, home < away)
            brier["soccer"].append(
                sum(
                    (q - o) ** 2
                    for q, o in zip((p.p_home, p.p_draw, p.p_away), outcome, strict=True)
                )
            )
        else:
            brier["nba"].append((p.p_home - (home > away)) ** 2)
    assert sum(brier["soccer"]) / len(brier["soccer"]) < 0.64  # uniform 1/3 each: 0.667
    assert sum(brier["nba"]) / len(brier["nba"]) < 0.25  # a coin flip: 0.25

    # Health and Prometheus metrics on the worker's web server.
    base = f"http://127.0.0.1:{settings.web_port}"
    with urllib.request.urlopen(f"{base}/health", timeout=10) as response:
        assert orjson.loads(response.read())["status"] == "ok"
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
        families = {f.name: f for f in text_string_to_metric_families(response.read().decode())}
    consumed = {
        s.labels["topic"]: s.value
        for s in families["streamapp_events_in"].samples
        if s.name.endswith("_total")
    }
    assert sum(consumed.values()) == 2 * report.total + len(bad)
    dead = sum(
        s.value for s in families["streamapp_dead_letters"].samples if s.name.endswith("_total")
    )
    assert dead == len(letters) + invalid_real  # the second replay dead-letters them again
    duplicates = sum(
        s.value for s in families["streamapp_duplicates"].samples if s.name.endswith("_total")
    )
    assert duplicates == report.total - invalid_real

    for path, phrase in (
        ("/tables/nope/x", "no table"),
        ("/tables/league-ratings/nfl:XFL", "no key"),
    ):
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{base}{path}", timeout=10)
        assert missing.value.code == 404
        assert phrase in orjson.loads(missing.value.read())["error"]

    # History from PostgreSQL through the web view.
    arsenal = get_json(f"{base}/db/teams/E0/Arsenal/games?limit=100")
    assert len(arsenal["games"]) == 38 and arsenal["query_ms"] >= 0
    game_id = "E0-2020-21-fulham-arsenal"
    odds = get_json(f"{base}/db/games/{game_id}/odds")
    quotes = [e for e in events if e.game_id == game_id and e.feed == "odds"]
    assert len(odds["quotes"]) == len(quotes)
    assert {c["bookmaker"] for c in odds["closing"]} == {
        "pinnacle",
        "bet365",
        "market_avg",
        "market_max",
    }
    periods = get_json(f"{base}/db/performance?sport=soccer&model=model-only")["periods"]
    assert sum(p["n"] for p in periods) == len(brier["soccer"])
    sql_brier = sum(p["brier"] * p["n"] for p in periods) / sum(p["n"] for p in periods)
    assert sql_brier == pytest.approx(sum(brier["soccer"]) / len(brier["soccer"]), abs=0.005)
    with pytest.raises(urllib.error.HTTPError) as bad_paging:
        urllib.request.urlopen(f"{base}/db/teams/E0/Arsenal/games?limit=-1", timeout=10)
    assert bad_paging.value.code == 400

    # The worker's ratings and every output it sent, by value, equal the same functions
    # applied offline in event-time order: the merge of the games and odds topics makes a
    # full-speed replay exact (and the second replay sent nothing new).
    assert_outputs_equal_offline(settings, expected)
    offline = expected["league-ratings"]
    for key in ("soccer:E0", "nba:NBA"):
        url = f"{base}/tables/league-ratings/{key}"
        with urllib.request.urlopen(url, timeout=10) as response:
            live = orjson.loads(response.read())["value"]
        assert live["ratings"] == offline[key]["ratings"]
