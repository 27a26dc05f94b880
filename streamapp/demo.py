"""`make demo`: the stack, a worker, one real season replayed as fast as possible, a summary."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from datetime import UTC, datetime

from aiokafka.admin import AIOKafkaAdminClient

from streamapp.replay.catalog import season_files, timeline
from streamapp.replay.malformed import malformed_messages
from streamapp.replay.producer import replay
from streamapp.settings import Settings
from streamapp.stack.manager import Stack
from streamapp.summary import collect_summary, wait_until_drained
from streamapp.worker import spawn_worker

log = logging.getLogger(__name__)
DEMO_PREFIX = "demo-"
MALFORMED_COPIES = 2


async def _drop_old_demo_topics(settings: Settings) -> None:
    """Each demo runs on fresh topics; earlier demos' topics are deleted, not reused."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        old = [
            t
            for t in await admin.list_topics()
            if t.startswith(DEMO_PREFIX) or t.startswith(f"streamapp-{DEMO_PREFIX}")
        ]
        if old:
            await admin.delete_topics(old)
    finally:
        await admin.close()


def demo_settings(base: Settings) -> Settings:
    run = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    return base.model_copy(
        update={
            "app_id": f"streamapp-{DEMO_PREFIX}{run}",
            "topic_prefix": f"{DEMO_PREFIX}{run}",
            "state_dir": base.state_dir.parent / "demo-state" / run,
        }
    )


def run_demo(base: Settings) -> None:
    started = time.monotonic()
    Stack(base).up()
    asyncio.run(_drop_old_demo_topics(base))
    settings = demo_settings(base)
    log_file = settings.state_dir.parent / "worker.log"
    worker = spawn_worker(settings, log_file)
    print(
        f"worker pid {worker.pid}, log {log_file}, web http://{settings.web_host}:{settings.web_port}"
    )
    try:
        files = season_files(settings.data_dir, settings.demo_season)
        events = timeline(files, settings.demo_season)
        bad = [message for message, _ in malformed_messages(MALFORMED_COPIES)]
        print(
            f"replaying the season ending {settings.demo_season}: {len(events):,} real events "
            f"from {len(files)} files, plus {len(bad)} synthetic malformed messages"
        )
        report = asyncio.run(replay(settings, events, speed=0.0, extra=bad))
        print(
            f"replayed {report.total:,} messages in {report.seconds:.1f}s "
            f"({report.total / max(report.seconds, 1e-9):,.0f} msg/s)"
        )
        waited = asyncio.run(wait_until_drained(settings))
        summary = asyncio.run(collect_summary(settings))
        elapsed = time.monotonic() - started
        print()
        print(summary.render(settings))
        print(
            f"\nworker caught up {waited:.1f}s after the replay ended; "
            f"demo wall time {elapsed:.1f}s"
        )
        if settings.demo_exit:
            return
        url = f"http://{settings.web_host}:{settings.web_port}"
        print(f"\nweb view: {url}/health  {url}/tables/league-ratings/soccer:E0  {url}/metrics")
        print("Ctrl-C to stop the worker (the stack keeps running: `make stop` stops it).")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except Exception:
            worker.kill()
