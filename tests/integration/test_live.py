"""Live semantics on a real worker: a fixture at wall-clock now, then prices for it, and no
other input at all. Each price must reach its prediction and value alert without waiting
for the games feed, which says nothing more (as live, between a fixture and its kick-off).
The events are synthetic: the shared data holds no match at today's date."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from schemas import Alert, Prediction
from streamapp.kafka_io import read_events
from streamapp.replay.producer import replay
from streamapp.replay.sources import feed_event
from tests.integration.conftest import send_without_watermarks
from tests.schemas.examples import GAME, QUOTE

pytestmark = pytest.mark.integration

GAME_ID = "E0-live-arsenal-chelsea"


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def fixture(now: datetime):
    return feed_event(
        "games",
        **{
            **{k: v for k, v in GAME.items() if not k.endswith("_score")},
            "event_id": f"{GAME_ID}:fixture",
            "game_id": GAME_ID,
            "season": "2026-27",
            "status": "scheduled",
            "event_time": iso(now),
            "start_time": iso(now + timedelta(hours=2)),
        },
    )


def prices(now: datetime, bookmaker: str, home: float, draw: float, away: float):
    return [
        feed_event(
            "odds",
            **{
                **QUOTE,
                "event_id": f"{bookmaker}:{selection}:{iso(now)}",
                "game_id": GAME_ID,
                "bookmaker": bookmaker,
                "selection": selection,
                "price_decimal": price,
                "event_time": iso(now),
            },
        )
        for selection, price in (("home", home), ("draw", draw), ("away", away))
    ]


async def outputs_for_game(settings) -> tuple[list[Prediction], list[Alert]]:
    predictions = [
        Prediction.model_validate_json(e)
        for e in await read_events(settings, settings.topic("predictions"))
    ]
    alerts = [
        Alert.model_validate_json(e) for e in await read_events(settings, settings.topic("alerts"))
    ]
    return (
        [p for p in predictions if p.game_id == GAME_ID],
        [a for a in alerts if a.game_id == GAME_ID],
    )


def wait_until_ready(settings, worker, patience: float = 120) -> None:
    deadline = time.monotonic() + patience
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{settings.web_port}/ready", timeout=5):
                return
        except (urllib.error.URLError, ConnectionError):
            assert worker.poll() is None, "the worker exited at start"
            assert time.monotonic() < deadline, "the worker was never ready"
            time.sleep(0.5)


def test_a_fresh_quote_makes_its_prediction_and_alert_with_no_other_input(live_settings, worker):
    settings = live_settings
    wait_until_ready(settings, worker)

    async def scenario():
        now = datetime.now(UTC)
        await replay(settings, [fixture(now)], progress=False)
        await asyncio.sleep(2)  # the fixture alone: the games feed then says nothing more
        now = datetime.now(UTC)
        quotes = [
            *prices(now, "pinnacle", 2.0, 3.6, 4.2),
            # Below Pinnacle's fair home price (2.03): a value alert fires on any price
            # above it, and its cooldown would then hold back bet365's.
            *prices(now, "williamhill", 1.95, 3.5, 4.0),
            *prices(now, "bet365", 2.6, 3.3, 3.8),  # a home price far above the others'
        ]
        sent = time.monotonic()
        # No watermark behind them (a replay's would release them): only the idle rule can
        await send_without_watermarks(settings, quotes)
        deadline = sent + 60
        while time.monotonic() < deadline:
            predictions, alerts = await outputs_for_game(settings)
            if alerts and any(p.model == "market-aware" for p in predictions):
                return predictions, alerts, time.monotonic() - sent
            await asyncio.sleep(0.5)
        return *(await outputs_for_game(settings)), None

    predictions, alerts, seconds = asyncio.run(scenario())
    print(f"\nlast quote sent -> its prediction and alert read back: {seconds} s")
    assert seconds is not None, (
        f"no market-aware prediction and alert within 60 s: {len(predictions)} predictions, "
        f"{len(alerts)} alerts for the game; the prices waited for another input"
    )
    assert {p.model for p in predictions} == {"model-only", "market-aware"}
    assert any(a.bookmaker == "bet365" and a.selection == "home" for a in alerts)
