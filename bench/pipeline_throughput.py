"""End-to-end throughput: real events replayed through one worker on the embedded stack.

Prints the producer's rate and the events per second from the first message sent until the
worker has committed every input. Usage: python bench/pipeline_throughput.py [SEASON_END]
"""

from __future__ import annotations

import logging
import sys

from streamapp.demo import prepare, replay_through_worker, worker_process
from streamapp.replay.catalog import season_files, timeline
from streamapp.settings import get_settings


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    base = get_settings()
    season = int(sys.argv[1]) if len(sys.argv) > 1 else base.demo_season
    settings = prepare(base)
    events = timeline(season_files(settings.data_dir, season), season)
    with worker_process(settings):
        run = replay_through_worker(settings, events)
    print(f"events                 {run.report.total:>12,}")
    print(f"replay (producer)      {run.report.total / run.report.seconds:>12,.0f} msg/s")
    print(f"end to end (1 worker)  {run.events_per_second:>12,.0f} events/s")
    print(f"wall                   {run.wall:>12.1f} s")


if __name__ == "__main__":
    main()
