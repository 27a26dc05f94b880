"""State tables on a real worker: equal to the same functions applied offline, shown on the
dashboard in headless Chromium (a screenshot, a click, an alert pushed live), rebuilt from
their changelogs after the local state is gone, and answered alike by either of two workers."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from schemas.alert import Alert, AlertKind
from streamapp.replay.producer import replay
from streamapp.settings import PROJECT_ROOT
from streamapp.summary import wait_until_drained
from streamapp.worker import spawn_worker
from tables.keys import table_key
from tests.integration.conftest import free_port, recovery_figures, stop_worker
from tests.integration.devtools import chromium_page
from tests.integration.oracle import (
    assert_league_ratings_equal_offline,
    assert_outputs_equal_offline,
    get,
    key_path,
    offline_state,
    season_events,
    stored,
)

pytestmark = pytest.mark.integration
ARTIFACTS = PROJECT_ROOT / "var" / "test-artifacts"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--virtual-time-budget=15000",
]  # fmt: skip


def replay_and_drain(settings, events) -> None:
    async def run():
        await replay(settings, events, progress=False)
        # A liveness bound, not a timing check: five leagues through two workers on a
        # shared 2-core machine took 300 s and more.
        await wait_until_drained(settings, timeout=600)

    asyncio.run(run())


def test_tables_equal_the_offline_calculation_and_the_dashboard_shows_them(
    live_settings, worker, data_dir
):
    settings = live_settings
    events = season_events(data_dir, "E0")
    replay_and_drain(settings, events)
    expected = offline_state(events)
    port = settings.web_port

    assert_league_ratings_equal_offline(port, expected)
    outputs = assert_outputs_equal_offline(settings, expected)
    assert outputs["alerts"].messages == outputs["alerts"].distinct  # no restart: no copies
    assert any(a.startswith("value:") for a in expected["alerts"])
    form = get(port, "/tables/team-form?limit=1000&prefix=" + urllib.parse.quote("soccer:E0|"))
    assert form["total"] == 20
    assert {i["key"]: i["value"] for i in form["items"]} == {
        k: v for k, v in expected["team-form"].items() if k.startswith("soccer:E0|")
    }
    for key in list(expected["odds-book"])[:25]:
        answer = get(port, key_path("odds-book", key))
        assert answer["value"] == expected["odds-book"][key]
        assert answer["book"]["markets"]["moneyline"]["consensus"]
    for key in sorted(expected["player-form"])[:10]:
        answer = get(port, key_path("player-form", key))
        assert answer["value"] == expected["player-form"][key]
        assert answer["features"]["pts"]["season"]["n"] >= 1
    some_game = "soccer:E0|E0-2020-21-fulham-arsenal"
    windows = get(port, key_path("quote-rate", some_game))["windows"]
    assert {w["start"]: w["value"] for w in windows} == {
        minute: n for (key, minute), n in expected["quote-rate"].items() if key == some_game
    }
    for bad, status in (("/tables/odds-book/Arsenal", 400), ("/tables/nope/soccer:E0", 404),
                        ("/tables/team-form?prefix=E0", 400)):  # fmt: skip
        with pytest.raises(urllib.error.HTTPError) as refused:
            get(port, bad)
        assert refused.value.code == status
    spec = get(port, "/openapi.json")
    assert "/tables/{name}/{key}" in spec["paths"] and spec["openapi"].startswith("3.")

    # The dashboard in headless Chromium: it loads, shows the replay's data, a screenshot.
    chromium = shutil.which("chromium") or pytest.fail(
        "chromium is not installed (`.ci/run` installs it)"
    )
    url = f"http://127.0.0.1:{port}/dashboard?live=0&league=soccer:E0&game=" + urllib.parse.quote(
        some_game, safe=""
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    profile = ARTIFACTS / "chromium-profile"
    dom = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}-dom", "--dump-dom", url],
        capture_output=True, text=True, timeout=120,
    ).stdout  # fmt: skip
    assert 'data-ready="1"' in dom
    assert re.search(r'id="status"[^>]*>updated', dom), "the dashboard reported errors"
    assert "Man City" in dom and "<polyline" in dom and "Fulham" in dom
    panels = dom.split("<script>")[0]
    listed = re.findall(r'data-game="([^"]+)"', panels)  # predictions, alerts, anomalies
    assert listed and not [g for g in listed if not g.startswith("soccer:E0|")]
    assert '<option value="nba:NBA">' in panels and '<option value="soccer:E0">' in panels
    shot = ARTIFACTS / "dashboard.png"
    shot.unlink(missing_ok=True)
    subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}-shot", "--window-size=1280,1000",
         f"--screenshot={shot}", url],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    assert shot.stat().st_size > 20_000
    print(f"dashboard screenshot: {shot}")

    # Live, in one page: a click shows a game's line movement; an alert arrives by itself.
    live_shot = ARTIFACTS / "dashboard-live.png"
    asyncio.run(click_a_game_and_watch_an_alert_arrive(settings, chromium, profile, live_shot))
    print(f"live dashboard screenshot: {live_shot}")


async def click_a_game_and_watch_an_alert_arrive(settings, chromium, profile, shot) -> None:
    flags = [f for f in CHROMIUM_FLAGS if not f.startswith("--virtual-time")]  # real time
    async with chromium_page(chromium, flags, Path(f"{profile}-live")) as page:
        await page.open(f"http://127.0.0.1:{settings.web_port}/dashboard?league=soccer:E0")
        await page.wait_for('document.body.dataset.ready === "1"')
        await page.wait_for('document.body.dataset.live === "1"')  # the stream is at the end
        await page.evaluate("window.loadedOnce = true")  # gone if the page reloads
        game = await page.evaluate(
            'document.querySelector("#predictions a[data-game]").dataset.game'
        )
        await page.click(f'#predictions a[data-game="{game}"]')
        await page.wait_for(
            f"new URLSearchParams(location.search).get('game') === {json.dumps(game)}"
        )
        game_id = game.split("|")[1]
        await page.wait_for(
            "document.querySelector('#chart polyline') &&"
            f" document.getElementById('game-title').textContent.includes({json.dumps(game_id)})"
        )

        pushed = {league: pushed_alert(league) for league in ("nba:NBA", "soccer:E0")}
        producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers)
        await producer.start()
        try:
            for league, alert in pushed.items():
                await producer.send_and_wait(
                    settings.topic("alerts"), alert.to_json(), key=league.encode()
                )
        finally:
            await producer.stop()
        alerts_text = "document.getElementById('alerts').textContent"
        await page.wait_for(f"{alerts_text}.includes({json.dumps(pushed['soccer:E0'].detail)})")
        await asyncio.sleep(1)  # time enough for the other league's alert, were it let through
        assert pushed["nba:NBA"].detail not in await page.evaluate(alerts_text)
        assert await page.evaluate("window.loadedOnce === true"), "the page was reloaded"
        await page.screenshot(shot)
    assert shot.stat().st_size > 20_000


def pushed_alert(league: str) -> Alert:
    sport, name = league.split(":")
    return Alert(
        event_id=f"dashboard-test:{league}",
        event_time=datetime.now(UTC),
        sport=sport,
        league=name,
        game_id=f"{name}-dashboard-test",
        alert_kind=AlertKind.STEAM,
        market="moneyline",
        selection="home",
        model_version="test",
        detail=f"pushed to the dashboard ({league})",
    )


def test_tables_are_rebuilt_from_their_changelogs(live_settings, tmp_path, data_dir):
    settings = live_settings
    events = season_events(data_dir, "E0", nba=False)
    worker = spawn_worker(settings, tmp_path / "first.log")
    try:
        replay_and_drain(settings, events)
        keys = {
            "league-ratings": ["soccer:E0"],
            "team-form": [table_key("soccer:E0", t) for t in ("Arsenal", "Chelsea", "Fulham")],
            "odds-book": [k for k in offline_state(events)["odds-book"]][:20],
            "quote-rate": ["soccer:E0|E0-2020-21-fulham-arsenal"],
        }
        before = {(t, k): stored(settings.web_port, t, k) for t, ks in keys.items() for k in ks}
    finally:
        stop_worker(worker)
    shutil.rmtree(settings.state_dir)
    started = time.monotonic()
    worker = spawn_worker(settings, tmp_path / "second.log")
    try:
        deadline = started + 180
        while True:
            try:
                if get(settings.web_port, key_path("league-ratings", "soccer:E0"), 5):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            assert time.monotonic() < deadline, "the worker did not recover its tables"
            time.sleep(0.5)
        recovered_in = time.monotonic() - started
        after = {key: stored(settings.web_port, *key) for key in before}
        assert after == before
        print(f"tables rebuilt from the changelogs in {recovered_in:.1f}s (worker start included)")
        _, records = recovery_figures(settings.web_port)
        assert records > 0  # the state folder was empty: every record came from a changelog
    finally:
        stop_worker(worker)


def get_settled(port: int, path: str, patience: float = 60.0):
    """A key's answer once the cluster has settled: while partitions move, 503."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return get(port, path)
        except urllib.error.HTTPError as refused:
            if refused.code != 503 or time.monotonic() > deadline:
                pytest.fail(f"{port}{path}: {refused.code} {refused.read()[:300]!r}")
            time.sleep(1)


def test_two_workers_answer_every_key_alike(live_settings, tmp_path, data_dir):
    first = live_settings
    second = first.model_copy(
        update={"web_port": free_port(), "state_dir": Path(str(first.state_dir) + "-2")}
    )
    workers = [spawn_worker(s, tmp_path / f"worker{i}.log") for i, s in enumerate((first, second))]
    try:
        events = season_events(data_dir, "E0", "SP1", "D1", "I1", "F1")
        replay_and_drain(first, events)
        leagues = sorted({e.key for e in events})
        owners = {}
        deadline = time.monotonic() + 120
        while len(set(owners.values())) < 2:
            routes = get(first.web_port, "/router/")
            table = f"{first.app_id}-league-ratings-changelog"
            by_partition = {
                p: host for host, tables in routes.items() for p in tables.get(table, [])
            }
            owners = {
                league: by_partition.get(
                    DefaultPartitioner()(league.encode(), [0, 1, 2, 3], [0, 1, 2, 3])
                )
                for league in leagues
            }
            assert time.monotonic() < deadline, (
                f"partitions never spread over both workers: {routes}"
            )
            time.sleep(1)
        print(f"league owners: {owners}")
        for league in leagues:
            paths = [key_path("league-ratings", league)]
            paths.append("/tables/team-form?limit=5&prefix=" + urllib.parse.quote(league + "|"))
            for path in paths:
                answers = []
                for port in (first.web_port, second.web_port):
                    answers.append(get_settled(port, path))
                assert answers[0] == answers[1], path
    finally:
        for worker in workers:
            stop_worker(worker)
