"""The predict-games agent on the in-memory store: merge, predictions, alerts, settlement."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError
from faust.types import Message

from agents import runtime
from schemas import Alert, DeadLetter, Prediction, Settlement
from schemas.batches import millis, watermark_message
from tables.exceptions import FailedAfterOutputs
from tables.league_ratings import LeagueRatings
from tests.agents.test_ingest import agent_of
from tests.schemas.examples import GAME, QUOTE

KEY = b"soccer:E0"
FIXTURE = {
    **{k: v for k, v in GAME.items() if not k.endswith("_score")},
    "event_id": "fixture",
    "status": "scheduled",
    "event_time": "2021-08-15T15:30:00Z",
}
# another game, days later: once it is in, the games feed is past the quotes before it
NEXT_FIXTURE = {
    **FIXTURE,
    "event_id": "f2",
    "game_id": "g2",
    "home_team": "Spurs",
    "event_time": "2021-08-24T12:00:00Z",
    "start_time": "2021-08-28T15:00:00Z",
}


@pytest.fixture(autouse=True)
def nothing_assigned(app, monkeypatch):
    """The test app's consumer never starts: it holds no partition, so predict-games' tick
    (every 50 ms) finds none to look at, and does not crash a test slower than that."""
    monkeypatch.setattr(app.consumer, "assignment", frozenset)


def seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class Feeds:
    """Puts events on the agent's channel as if read from the clean topics."""

    def __init__(self, agent, settings):
        self.channel = agent.stream().channel
        self.topics = {f: settings.topic(f"clean.{f}") for f in ("games", "odds", "injuries")}
        self.offsets = dict.fromkeys(self.topics, 0)
        # faust drops messages of an older consumer generation (from before a rebalance)
        self.generation = agent.app.consumer_generation_id

    async def put(self, feed: str, payload: dict) -> None:
        await self._put(feed, orjson.dumps(payload), seconds(payload["event_time"]), None)

    async def put_watermark(self, feed: str, through: str) -> None:
        """The feed's producer has sent everything up to ``through`` (via ingest)."""
        mark = watermark_message(millis(seconds(through)))
        await self._put(feed, mark.value, mark.timestamp, mark.headers)

    async def _put(self, feed: str, value: bytes, timestamp: float, headers) -> None:
        message = Message(
            topic=self.topics[feed], partition=0, offset=self.offsets[feed],
            timestamp=timestamp, timestamp_type=0, headers=headers, key=KEY, value=value,
            checksum=b"", generation_id=self.generation,
        )  # fmt: skip
        self.offsets[feed] += 1
        await self.channel.put(await self.channel.decode(message))


def quotes(bookmaker: str, prices, when: str):
    for selection, price in zip(("home", "draw", "away"), prices, strict=True):
        yield {**QUOTE, "event_id": f"{bookmaker}:{selection}:{when}", "bookmaker": bookmaker,
               "selection": selection, "price_decimal": price, "event_time": when}  # fmt: skip


async def until(condition, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the agent did not get there")


async def test_games_and_odds_in_any_topic_order_give_predictions_alerts_settlements(
    app, sent, settings
):
    table = app.pipeline.tables.league_ratings
    predict = agent_of(app, "predict-games")
    async with predict.test_context() as agent:
        feeds = Feeds(agent, settings)
        # The games topic runs ahead: fixture and final arrive before any price.
        await feeds.put("games", FIXTURE)
        await feeds.put("games", GAME)  # Arsenal 0-2 Chelsea at 17:25
        for quote in quotes("pinnacle", (2.0, 3.6, 4.2), "2021-08-20T15:30:00Z"):
            await feeds.put("odds", quote)
        for quote in quotes("bet365", (2.3, 3.3, 3.8), "2021-08-20T15:30:00Z"):
            await feeds.put("odds", quote)
        await feeds.put(
            "odds", {**QUOTE, "event_id": "later", "event_time": "2021-08-23T10:00:00Z"}
        )
        await feeds.put("games", NEXT_FIXTURE)
        await until(lambda: "Chelsea" in (table.get("soccer:E0") or {}).get("ratings", {}))
    predictions = [
        Prediction.model_validate_json(v) for _, v in sent[settings.topic("predictions")]
    ]
    alerts = [Alert.model_validate_json(v) for _, v in sent[settings.topic("alerts")]]
    settled = [Settlement.model_validate_json(v) for _, v in sent[settings.topic("settlements")]]
    # Applied in event-time order: the prices came before the final, so the game has a
    # market-aware prediction and a value alert, and both are settled by the result.
    assert {p.model for p in predictions} == {"model-only", "market-aware"}
    # Pinnacle's and bet365's prices share an instant: one forecast, after its last quote
    [aware] = [p for p in predictions if p.model == "market-aware"]
    assert aware.event_id.endswith(":bet365:away:2021-08-20T15:30:00Z")
    [alert] = alerts
    assert (alert.bookmaker, alert.selection, alert.price_decimal) == ("bet365", "home", 2.3)
    assert {s.ref_id for s in settled} >= {alert.event_id, predictions[-1].event_id}
    [bet] = [s for s in settled if s.ref_id == alert.event_id]
    assert bet.profit == -1.0  # Arsenal lost
    state = table["soccer:E0"]
    assert state["upcoming"] == {} and state["performance"]["v1|model-only"]["n"] == 1
    # the quote after the final and the next fixture wait for the odds feed to pass them
    # (the rest of the quote's instant; an idle feed lets the fixture through, but no
    # consumer here says so)
    waiting = [item[6] for item in state["merge"]["pending"]]  # the payloads
    assert sorted(payload[:18] for payload in waiting) == [
        '{"event_id":"f2","',
        '{"event_id":"later',
    ]


async def test_live_quotes_of_one_instant_are_each_forecast(app, sent, settings):
    """Live, which quotes of an instant come out of the merge together is timing (and a
    retry regroups them), so no forecast waits for the rest of a live instant: outputs
    keep their ids whatever the batches. Here all six quotes come out at once."""
    now = datetime.now(UTC).replace(microsecond=0)
    when = now.isoformat().replace("+00:00", "Z")
    start = (now + timedelta(days=2)).isoformat().replace("+00:00", "Z")
    table = app.pipeline.tables.league_ratings
    predict = agent_of(app, "predict-games")
    async with predict.test_context() as agent:
        feeds = Feeds(agent, settings)
        await feeds.put("games", {**FIXTURE, "event_time": when, "start_time": start})
        for bookmaker, prices in (("pinnacle", (2.0, 3.6, 4.2)), ("bet365", (2.3, 3.3, 3.8))):
            for quote in quotes(bookmaker, prices, when):
                await feeds.put("odds", quote)
        await feeds.put_watermark("games", when)  # lets the fixture and all six through
        await until(lambda: len(pinnacle_prices(table)) == 3 and not waiting_in(table))
    aware = [
        p
        for p in map(
            Prediction.model_validate_json, (v for _, v in sent[settings.topic("predictions")])
        )
        if p.model == "market-aware"
    ]
    # Pinnacle's complete market is forecast at once; bet365's moves no sharp consensus
    assert [p.event_id.split(":", 3)[-1] for p in aware] == [f"pinnacle:away:{when}"]


def waiting_in(table) -> list:
    return ((table.get("soccer:E0") or {}).get("merge") or {}).get("pending", [])


async def test_a_watermark_releases_what_waits_for_its_feed(app, sent, settings):
    """A replay's end: the fixture and final wait for the odds feed, which never sent a
    price for the league; its watermark says it has nothing before them, and they go."""
    table = app.pipeline.tables.league_ratings
    predict = agent_of(app, "predict-games")
    async with predict.test_context() as agent:
        feeds = Feeds(agent, settings)
        await feeds.put("games", FIXTURE)
        await feeds.put("games", GAME)
        await feeds.put_watermark("odds", "2021-08-20T00:00:00Z")  # the fixture's side

        def waiting() -> list[str]:
            merge = (table.get("soccer:E0") or {}).get("merge") or {}
            return [item[6] for item in merge.get("pending", [])]

        await until(lambda: len(waiting()) == 1)
        assert '"status":"final"' in waiting()[0]  # odds of its instant may still come
        await feeds.put_watermark("odds", GAME["event_time"])
        await until(lambda: not table["soccer:E0"]["merge"]["pending"])
    predictions = [
        Prediction.model_validate_json(v) for _, v in sent[settings.topic("predictions")]
    ]
    assert {p.model for p in predictions} == {"model-only"}
    assert "Chelsea" in table["soccer:E0"]["ratings"]


async def fixture_result_and_a_later_quote(app, settings) -> None:
    """The fixture, its result, a quote after it and the next fixture through predict-games,
    until the result is applied."""
    table = app.pipeline.tables.league_ratings
    async with agent_of(app, "predict-games").test_context() as agent:
        feeds = Feeds(agent, settings)
        await feeds.put("games", FIXTURE)
        await feeds.put("games", GAME)
        await feeds.put(
            "odds", {**QUOTE, "event_id": "later", "event_time": "2021-08-23T10:00:00Z"}
        )
        await feeds.put(
            "games", {**FIXTURE, "event_id": "next", "event_time": "2021-08-24T10:00:00Z"}
        )
        await until(lambda: "Chelsea" in (table.get("soccer:E0") or {}).get("ratings", {}))


async def test_an_event_the_model_cannot_apply_is_parked_and_the_league_goes_on(
    app, sent, settings, monkeypatch
):
    observe = LeagueRatings.observe

    def fragile(self, event, *rest):
        if event.event_id == "fixture":
            raise RuntimeError("a bug")
        return observe(self, event, *rest)

    monkeypatch.setattr(LeagueRatings, "observe", fragile)
    await fixture_result_and_a_later_quote(app, settings)
    [(_, value)] = sent[settings.topic("deadletter")]
    letter = DeadLetter.model_validate_json(value)
    assert letter.error_type == "internal" and "RuntimeError: a bug" in letter.reason
    assert (letter.source_topic, letter.partition, letter.offset) == (
        settings.topic("clean.games"),
        0,
        0,
    )
    assert orjson.loads(letter.payload)["event_id"] == "fixture"


def fails_after_its_outputs(event_id: str):
    """``LeagueRatings.observe``, but ``event_id`` raises once its outputs are made and
    their state kept, as the fold does when a step fails after others made outputs."""
    observe = LeagueRatings.observe

    def observe_then_fail(self, event, *rest):
        out = observe(self, event, *rest)
        if event.event_id == event_id:
            raise FailedAfterOutputs(out) from RuntimeError("a bug")
        return out

    return observe_then_fail


async def test_outputs_made_before_an_event_raised_are_sent_and_the_event_parked(
    app, sent, settings, monkeypatch
):
    """The fold kept the state of outputs it made before the event raised
    (FailedAfterOutputs): they go out, and the event is parked for its own error."""
    monkeypatch.setattr(LeagueRatings, "observe", fails_after_its_outputs("fixture"))
    await fixture_result_and_a_later_quote(app, settings)
    predictions = [
        Prediction.model_validate_json(v) for _, v in sent[settings.topic("predictions")]
    ]
    assert [p.event_id.rsplit(":", 1)[1] for p in predictions] == ["fixture"]  # its trigger
    settled = [Settlement.model_validate_json(v) for _, v in sent[settings.topic("settlements")]]
    assert [s.ref_id for s in settled] == [predictions[0].event_id]  # its state was kept
    [(_, value)] = sent[settings.topic("deadletter")]
    letter = DeadLetter.model_validate_json(value)
    assert "RuntimeError: a bug" in letter.reason
    assert orjson.loads(letter.payload)["event_id"] == "fixture"


async def test_outputs_of_a_failed_event_the_broker_refuses_park_it_again_and_the_league_goes_on(
    app, sent, settings, monkeypatch
):
    monkeypatch.setattr(LeagueRatings, "observe", fails_after_its_outputs("fixture"))
    predictions = app.pipeline.topics.predictions
    send = predictions.send

    async def too_large(**kwargs):
        delivery = await send(**kwargs)
        if b":fixture" not in kwargs["value"]:
            return delivery
        refused = asyncio.get_running_loop().create_future()
        refused.set_exception(MessageSizeTooLargeError())
        return refused

    monkeypatch.setattr(predictions, "send", too_large)
    await fixture_result_and_a_later_quote(app, settings)  # the result is applied
    letters = [DeadLetter.model_validate_json(v) for _, v in sent[settings.topic("deadletter")]]
    assert {orjson.loads(letter.payload)["event_id"] for letter in letters} == {"fixture"}
    # (the interval is handled again once the refusal is seen: the first letter twice)
    errors = {letter.reason.rsplit(": ", 2)[1] for letter in letters}
    assert errors == {"RuntimeError", "MessageSizeTooLargeError"}


async def test_a_batch_tried_again_within_a_commit_interval_sends_its_outputs(
    app, sent, settings, monkeypatch
):
    """The second batch of an interval builds on the first's state, not yet stored. Its
    first try fails on the broker; the second try must send its predictions again."""
    monkeypatch.setattr(runtime, "RETRY_FIRST_DELAY", 0.01)
    pipeline = app.pipeline
    pipeline.settings = pipeline.settings.model_copy(update={"commit_interval_seconds": 60})
    predictions = app.pipeline.topics.predictions
    send = predictions.send
    second = b":2021-08-21T15:30:00Z"  # the second update's quotes (in a prediction's id)
    refused = []

    async def away_once(**kwargs):
        if second in kwargs["value"] and not refused:
            refused.append(kwargs["value"])
            raise KafkaConnectionError("broker away")
        return await send(**kwargs)

    monkeypatch.setattr(predictions, "send", away_once)
    predict = agent_of(app, "predict-games")
    got = sent[settings.topic("predictions")]
    async with predict.test_context() as agent:
        feeds = Feeds(agent, settings)
        await feeds.put("games", FIXTURE)
        await feeds.put("games", NEXT_FIXTURE)
        for quote in quotes("pinnacle", (2.0, 3.6, 4.2), "2021-08-20T15:30:00Z"):
            await feeds.put("odds", quote)
        await feeds.put_watermark("odds", "2021-08-20T15:30:00Z")  # the instant is whole
        await until(lambda: any(b":2021-08-20T15:30:00Z" in v for _, v in got))
        for quote in quotes("pinnacle", (2.3, 3.3, 3.8), "2021-08-21T15:30:00Z"):
            await feeds.put("odds", quote)
        await feeds.put_watermark("odds", "2021-08-21T15:30:00Z")
        await until(lambda: refused)  # its first try: the broker was away
        await until(lambda: any(second in v for _, v in got), timeout=3.0)


async def test_a_prediction_the_broker_refuses_after_the_batch_went_on_is_parked_at_the_commit(
    app, sent, settings, monkeypatch
):
    """A batch's outputs are waited for at its interval's commit, not before the agent's
    next batch. One the broker refuses there (too large) has the interval handled again,
    each event waiting for its own outputs: that event is parked with the reason, the
    others' predictions go out, and the league's state is stored."""
    predictions = app.pipeline.topics.predictions
    send = predictions.send
    second = b":2021-08-21T15:30:00Z"

    async def too_large(**kwargs):
        delivery = await send(**kwargs)
        if second not in kwargs["value"]:
            return delivery
        refused = asyncio.get_running_loop().create_future()
        refused.set_exception(MessageSizeTooLargeError())
        return refused

    monkeypatch.setattr(predictions, "send", too_large)
    table = app.pipeline.tables.league_ratings
    predict = agent_of(app, "predict-games")
    async with predict.test_context() as agent:
        feeds = Feeds(agent, settings)
        await feeds.put("games", FIXTURE)
        await feeds.put("games", NEXT_FIXTURE)
        for when, prices in (
            ("2021-08-20T15:30:00Z", (2.0, 3.6, 4.2)),
            ("2021-08-21T15:30:00Z", (2.3, 3.3, 3.8)),
        ):
            for quote in quotes("pinnacle", prices, when):
                await feeds.put("odds", quote)
        await feeds.put_watermark("odds", "2021-08-21T15:30:00Z")  # both instants are whole
        await until(lambda: sent[settings.topic("deadletter")])
        await until(lambda: 2.3 in pinnacle_prices(table))
    [(_, value)] = sent[settings.topic("deadletter")]
    letter = DeadLetter.model_validate_json(value)
    assert "MessageSizeTooLargeError" in letter.reason and b"2021-08-21" in letter.payload
    got = sent[settings.topic("predictions")]
    assert any(b":2021-08-20T15:30:00Z" in value for _, value in got)


def pinnacle_prices(table) -> list[float]:
    """Pinnacle's prices the league's stored state holds for the first fixture."""
    game = ((table.get("soccer:E0") or {}).get("upcoming") or {}).get(FIXTURE["game_id"], {})
    return [books["pinnacle"][0] for books in game.get("prices", {}).values()]
