"""How fast a worker rebuilds its tables from their changelogs.

The worker's local state is deleted and the worker started again; its ``/metrics`` is
polled while it recovers. The worker rebuilds its tables in bulk (tables.bulk_restore) and
times that itself (``streamapp_last_bulk_restore_*``: the restore consumer's start to the
last record written): when the bulk restore applied every record, the rate is its own.
Otherwise (faust's per-record recovery applied some) the rate is the changelog records
applied over the polled span from the first sign of recovery (records to go, or applied)
to the last record applied. Either way the worker's start-up and the group join are left
out; the worker's own figures (``streamapp_last_recovery_*``: rebalance start to ready)
are kept beside it. The
changelogs are also read by a plain consumer beforehand: their size in bytes (a record is
a whole table value, some of them hundreds of kilobytes) and what reading them costs.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from bench.topic_read import TopicRead, read_topics
from bench.worker_web import metrics, total
from streamapp.kafka_io import kafka_admin
from streamapp.settings import Settings

log = logging.getLogger(__name__)
POLL_SECONDS = 0.1


@dataclass
class Recovery:
    records: int  # changelog records applied while recovering
    seconds: float  # first sign of recovery to the last record applied (± one poll)
    until_ready_seconds: float  # the worker's: rebalance start to ready
    until_ready_records: int
    bulk_records: int  # the worker's: written by its bulk restore
    bulk_seconds: float

    @property
    def measured_seconds(self) -> float:
        """The bulk restore's own time when it applied every record, else the polled span."""
        if self.bulk_records == self.records and self.bulk_seconds > 0:
            return self.bulk_seconds
        return self.seconds

    @property
    def records_per_second(self) -> float | None:
        seconds = self.measured_seconds
        return self.records / seconds if seconds > 0 else None

    def to_dict(self) -> dict:
        return asdict(self) | {
            "measured_seconds": self.measured_seconds,
            "records_per_second": self.records_per_second,
            "poll_seconds": POLL_SECONDS,
        }


def wipe_local_tables(state_dir: Path) -> None:
    """Delete the worker's RocksDB tables (faust keeps them in folders of its data dir; the
    log files beside them stay)."""
    for path in state_dir.iterdir():
        if path.is_dir():
            shutil.rmtree(path)


async def _read_changelogs(settings: Settings) -> TopicRead:
    async with kafka_admin(settings) as admin:
        names = await admin.list_topics()
    # faust names a table's changelog "<app id>-<table>-changelog"
    prefix = f"{settings.app_id}-"
    changelogs = [n for n in names if n.startswith(prefix) and n.endswith("-changelog")]
    return await read_topics(settings, changelogs)


def read_changelogs(settings: Settings) -> TopicRead:
    """Every changelog of the app, read once by a plain consumer."""
    return asyncio.run(_read_changelogs(settings))


def watch_recovery(url: str, timeout: float = 900.0) -> Recovery:
    """Poll the worker at ``url`` from its start until it is ready after recovering."""
    deadline = time.monotonic() + timeout
    started = last_applied_at = None
    applied = 0
    bar = tqdm(desc="recovery", unit="rec", dynamic_ncols=True)
    try:
        while time.monotonic() < deadline:
            before = time.monotonic()
            samples = metrics(url)
            at = (before + time.monotonic()) / 2  # when the figures were read, about
            if samples is not None:
                now_applied = int(total(samples, "streamapp_changelog_records_applied"))
                to_go = int(total(samples, "streamapp_recovery_remaining", kind="active"))
                if started is None and (to_go > 0 or now_applied > 0):
                    started = at
                    bar.total = now_applied + to_go
                if now_applied > applied:
                    applied, last_applied_at = now_applied, at
                    bar.update(now_applied - bar.n)
                ready_seconds = total(samples, "streamapp_last_recovery_seconds")
                if total(samples, "streamapp_ready") == 1 and ready_seconds > 0:
                    return Recovery(
                        records=applied,
                        seconds=last_applied_at - started if last_applied_at else 0.0,
                        until_ready_seconds=ready_seconds,
                        until_ready_records=int(total(samples, "streamapp_last_recovery_records")),
                        bulk_records=int(total(samples, "streamapp_last_bulk_restore_records")),
                        bulk_seconds=total(samples, "streamapp_last_bulk_restore_seconds"),
                    )
            time.sleep(POLL_SECONDS)
    finally:
        bar.close()
    raise TimeoutError(f"the worker at {url} did not recover within {timeout:.0f} s")
