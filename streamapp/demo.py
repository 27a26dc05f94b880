"""`make demo`: the stack, a worker, one real season replayed as fast as possible, a summary;
`make demo-live`: the live connectors polling the captured providers into a worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aiohttp.test_utils import TestServer
from pydantic import SecretStr
from tqdm import tqdm

from streamapp.connectors import FEED_NAMES
from streamapp.connectors.captures import CapturedProviders
from streamapp.connectors.connect import connect
from streamapp.kafka_io import kafka_admin
from streamapp.replay.catalog import season_files, timeline
from streamapp.replay.malformed import malformed_messages
from streamapp.replay.producer import RawMessage, ReplayReport, raw_topics, replay
from streamapp.replay.sources import FeedEvent
from streamapp.settings import Settings
from streamapp.stack.manager import Stack
from streamapp.summary import RunSummary, collect_summary, wait_until_drained
from streamapp.worker import spawn_worker

log = logging.getLogger(__name__)
RUN_PREFIX = "run-"
MALFORMED_COPIES = 2
LIVE_DEMO_INTERVAL = 5.0  # seconds between two polls of a feed in the live demo


async def _drop_old_run_topics(settings: Settings) -> None:
    """Each demo or benchmark runs on fresh topics; earlier runs' topics are deleted."""
    async with kafka_admin(settings) as admin:
        old = [
            t
            for t in await admin.list_topics()
            if t.startswith(RUN_PREFIX) or t.startswith(f"streamapp-{RUN_PREFIX}")
        ]
        if old:
            await admin.delete_topics(old)


def fresh_run_settings(base: Settings) -> Settings:
    """Settings of a new app with its own topics, consumer group and state."""
    run = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    return base.model_copy(
        update={
            "app_id": f"streamapp-{RUN_PREFIX}{run}",
            "topic_prefix": f"{RUN_PREFIX}{run}",
            "state_dir": base.state_dir.parent / "runs" / run,
        }
    )


@contextlib.contextmanager
def worker_process(settings: Settings) -> Iterator[subprocess.Popen]:
    log_file = settings.state_dir / "worker.log"
    worker = spawn_worker(settings, log_file)
    print(f"worker pid {worker.pid}, log {log_file}")
    try:
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()


@dataclass
class Run:
    report: ReplayReport
    caught_up_after: float  # seconds from the end of the replay until the worker was done
    wall: float  # seconds from the first message sent until the worker was done
    summary: RunSummary

    @property
    def events_per_second(self) -> float:
        return self.report.total / self.wall


class WorkerProgress:
    """One progress bar while the worker catches up with a replay: the replayed events its
    ingest agents have committed, their rate, and the outputs so far (the whole group's lag
    and the counts go to the log at each poll)."""

    def __init__(self, settings: Settings, report: ReplayReport) -> None:
        self.settings = settings
        self.messages = report.messages
        self.bar = tqdm(total=report.total, unit="ev", desc="worker", dynamic_ncols=True)

    async def __call__(self, lags: dict[str, int] | None, outputs: dict[str, int]) -> None:
        settings = self.settings
        if lags is not None and self.messages:
            raw_lag = sum(lags.get(topic, 0) for topic in raw_topics(settings))
            # the lag counts messages, each holding a replay window's events of a league
            done = round(self.bar.total * (1 - raw_lag / self.messages))
            self.bar.update(max(0, done - self.bar.n))
        prefix = f"{settings.topic_prefix}."
        self.bar.set_postfix(
            {topic.removeprefix(prefix): f"{count:,}" for topic, count in outputs.items()}
            | {"lag": "?" if lags is None else f"{sum(lags.values()):,}"}
        )

    def close(self) -> None:
        self.bar.close()


def replay_through_worker(
    settings: Settings, events: Sequence[FeedEvent], extra: Sequence[RawMessage] = ()
) -> Run:
    """Replay as fast as possible into a running worker; wait until it has processed all."""

    async def run() -> Run:
        report = await replay(settings, events, speed=0.0, extra=extra)
        progress = WorkerProgress(settings, report)
        try:
            waited = await wait_until_drained(settings, poll=0.5, on_poll=progress)
        finally:
            progress.close()
        return Run(report, waited, report.seconds + waited, await collect_summary(settings))

    return asyncio.run(run())


def prepare(base: Settings) -> Settings:
    Stack(base).up()
    asyncio.run(_drop_old_run_topics(base))
    return fresh_run_settings(base)


def log_to_file(path: Path) -> None:
    """The demo's own log lines go to ``path``; the terminal keeps the progress bars, the
    summary and the warnings."""
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for handler in root.handlers:
        handler.setLevel(logging.WARNING)
    to_file = logging.FileHandler(path)
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(to_file)


def run_demo(base: Settings) -> None:
    started = time.monotonic()
    settings = prepare(base)
    log_file = settings.state_dir / "demo.log"
    log_to_file(log_file)
    print(f"demo log {log_file}")
    with worker_process(settings):
        files = season_files(settings.data_dir, settings.demo_season)
        events = timeline(files, settings.demo_season)
        bad = [message for message, _ in malformed_messages(MALFORMED_COPIES)]
        print(
            f"replaying the season ending {settings.demo_season}: {len(events):,} real events "
            f"from {len(files)} files, plus {len(bad)} synthetic malformed messages"
        )
        run = replay_through_worker(settings, events, bad)
        print()
        print(run.summary.render(settings))
        print(
            f"\nreplay {run.report.seconds:.1f}s; worker done {run.caught_up_after:.1f}s later: "
            f"{run.events_per_second:,.0f} events/s end to end; "
            f"demo wall time {time.monotonic() - started:.1f}s"
        )
        serve_until_interrupted(settings, "soccer:E0")


def serve_until_interrupted(settings: Settings, league: str) -> None:
    """Unless DEMO_EXIT: the worker's web view stays up until Ctrl-C."""
    if settings.demo_exit:
        return
    url = f"http://{settings.web_host}:{settings.web_port}"
    print(f"\nweb view: {url}/health  {url}/tables/league-ratings/{league}  {url}/metrics")
    print("Ctrl-C to stop the worker (the stack keeps running: `make stop` stops it).")
    with contextlib.suppress(KeyboardInterrupt):
        signal.pause()


def run_live_demo(base: Settings, seconds: float) -> None:
    """`make demo-live`: `streamapp connect` polls the captured providers (a local server,
    streamapp.connectors.captures: no API key needed) for ``seconds`` and feeds a worker."""
    settings = prepare(base)
    log_to_file(settings.state_dir / "demo.log")
    with worker_process(settings):
        asyncio.run(poll_captured_providers(settings, seconds))
        summary = asyncio.run(_drained_summary(settings))
        print()
        print(summary.render(settings))
        serve_until_interrupted(settings, "nba:NBA")


async def poll_captured_providers(settings: Settings, seconds: float) -> None:
    providers = CapturedProviders(settings.data_dir / "feeds")
    server = TestServer(providers.application(), host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("")).rstrip("/")
    live = settings.model_copy(
        update={
            "odds_api_key": SecretStr("demo-key"),
            "odds_api_url": url,
            "espn_url": url,
            "nba_injury_report_url": f"{url}/referee/injury",
            "odds_api_interval_seconds": LIVE_DEMO_INTERVAL,
            "odds_api_scores_interval_seconds": LIVE_DEMO_INTERVAL,
            "espn_scoreboard_interval_seconds": LIVE_DEMO_INTERVAL,
            "espn_summary_interval_seconds": LIVE_DEMO_INTERVAL,
            "nba_injury_report_interval_seconds": LIVE_DEMO_INTERVAL,
            "odds_api_requests_per_second": 20.0,
            "espn_requests_per_second": 20.0,
        }
    )
    print(
        f"`streamapp connect` polls the captured providers at {url} for {seconds:.0f}s "
        f"(metrics on :{live.connect_metrics_port}/metrics)"
    )
    try:
        with tqdm(total=round(seconds), unit="s", desc="polling") as bar:

            async def stop_after() -> None:
                for _ in range(round(seconds)):
                    await asyncio.sleep(1)
                    bar.update(1)

            await connect(live, list(FEED_NAMES), stop_after())
    finally:
        await server.close()
    print(f"requests served: {sum(providers.calls.values())} on {len(providers.calls)} paths")


async def _drained_summary(settings: Settings) -> RunSummary:
    await wait_until_drained(settings, poll=0.5)
    return await collect_summary(settings)
