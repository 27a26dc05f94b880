"""``make bench``: every figure of the performance issue, on the real local broker with
real replayed data, printed beside its target and written to ``var/bench/``.

Steps (one worker at a time, like the demo: a fresh app with its own topics):
1. the Monte Carlo of one game and the model's own work per event (bench.model_floor),
   before anything else runs on the machine;
2. a season replayed through worker A (pipeline events/s), then read raw (the ceiling);
3. A stopped and its local tables deleted, the changelogs read once by a plain consumer
   (their size), worker B started: the rate it replays them at;
4. B, tables rebuilt, in live mode: quote-to-output latency;
5. both workers' peak RSS; 6. ``DEMO_EXIT=1 make demo`` timed (unless skipped).

    python -m bench [--season 2021] [--quick] [--events N] [--skip-demo]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import report
from bench.demo_wall import DemoWall, time_demo
from bench.live_feed import LiveFeed
from bench.live_latency import LiveLatency, measure_live_latency
from bench.model_floor import ModelFloor, measure_model_floor
from bench.monte_carlo import MonteCarlo, time_simulations
from bench.pipeline_throughput import Throughput, measure_throughput
from bench.recovery import Recovery, read_changelogs, watch_recovery, wipe_local_tables
from bench.topic_read import TopicRead
from bench.worker_proc import main_thread_cpu_seconds, peak_rss_mb, process_cpu_seconds
from bench.worker_web import wait_until_ready
from streamapp.demo import prepare, worker_process
from streamapp.replay.catalog import season_files, timeline
from streamapp.replay.sources import FeedEvent
from streamapp.settings import PROJECT_ROOT, Settings, get_settings
from tables.compiled import usable_build

log = logging.getLogger("bench")
QUICK_EVENTS = 20_000
QUICK_LIVE_SECONDS = 10.0
LIVE_LEAGUE = "E0"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Every figure of the performance issue, beside its target.",
    )
    parser.add_argument(
        "--season",
        type=int,
        default=get_settings().demo_season,
        help="season to replay, by its end year (default: the demo's)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"iterate: the first {QUICK_EVENTS:,} events, "
        f"{QUICK_LIVE_SECONDS:g} s of live quotes, no demo",
    )
    parser.add_argument("--events", type=int, help="replay only the first N events")
    parser.add_argument(
        "--live-seconds", type=float, default=25.0, help="seconds of live quotes (default 25)"
    )
    parser.add_argument(
        "--live-rate", type=float, default=1000.0, help="live quotes per second (default 1000)"
    )
    parser.add_argument(
        "--live-warmup",
        type=float,
        default=10.0,
        help="seconds of live quotes sent before the timed ones, not timed: the broker the "
        "bench started is still compiling its hot code (default 10)",
    )
    parser.add_argument(
        "--mc-runs",
        type=int,
        default=50,
        help="Monte Carlo timings the median is taken of (default 50)",
    )
    parser.add_argument(
        "--skip-demo",
        action="store_true",
        help="do not time `make demo` (minutes); demo_wall_s is then null",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=PROJECT_ROOT / "var" / "bench",
        help="folder of the JSON results (default var/bench)",
    )
    args = parser.parse_args()
    if args.quick:
        args.events = args.events or QUICK_EVENTS
        args.live_seconds = min(args.live_seconds, QUICK_LIVE_SECONDS)
        args.live_warmup = min(args.live_warmup, QUICK_LIVE_SECONDS)
        args.skip_demo = True
    return args


def setup_logging(log_file: Path) -> None:
    """Everything to ``log_file``; the terminal gets the bench's own steps and warnings,
    beside the progress bars (the helpers it calls log a line per poll)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    to_file = logging.FileHandler(log_file)
    to_file.setFormatter(formatter)
    terminal = logging.StreamHandler()
    terminal.setFormatter(formatter)
    terminal.addFilter(lambda r: r.name.startswith("bench") or r.levelno >= logging.WARNING)
    logging.basicConfig(level=logging.INFO, handlers=[to_file, terminal])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()


@dataclass
class SeasonRun:
    """Worker A: a season replayed through it."""

    throughput: Throughput
    peak_rss_mb: float
    main_thread_cpu_seconds: float  # during the replay

    @property
    def main_thread_us_per_event(self) -> float:
        return self.main_thread_cpu_seconds / self.throughput.events * 1e6


@dataclass
class RebuiltRun:
    """Worker B: its tables rebuilt from the changelogs, then live quotes."""

    changelogs: TopicRead
    recovery: Recovery
    feed: LiveFeed
    live: LiveLatency
    peak_rss_after_recovery_mb: float
    peak_rss_mb: float  # after the live quotes too
    live_cpu_seconds: tuple[float, float]  # the main thread's, all threads', while live

    def live_us_per_quote(self) -> dict[str, float]:
        """The worker's CPU time per live quote: less noisy than the latency, which is the
        wait for that CPU on a machine the broker and the bench share."""
        sent = self.live.quotes_sent + self.live.warmup_quotes_sent  # all while measured
        main, process = (s / sent * 1e6 if sent else None for s in self.live_cpu_seconds)
        return {"worker_main_thread_us_per_quote": main, "worker_process_us_per_quote": process}


def season_through_worker(settings: Settings, events: Sequence[FeedEvent]) -> SeasonRun:
    with worker_process(settings) as worker:
        # the replay starts once the worker is up: its start-up is no part of throughput
        log.info("worker A ready after %.1f s", wait_until_ready(settings.canonical_url))
        cpu_before = main_thread_cpu_seconds(worker.pid)
        throughput = measure_throughput(settings, events)
        cpu = main_thread_cpu_seconds(worker.pid) - cpu_before
        return SeasonRun(throughput, peak_rss_mb(worker.pid), cpu)


def rebuilt_worker_live(settings: Settings, args: argparse.Namespace, run: str) -> RebuiltRun:
    log.info("worker A stopped; its tables deleted, worker B rebuilds them")
    wipe_local_tables(settings.state_dir)
    changelogs = read_changelogs(settings)
    log.info(
        "changelogs: %s records, %.0f MB (a plain consumer reads them in %.1f s)",
        f"{changelogs.records:,}", changelogs.bytes / 1e6, changelogs.seconds,
    )  # fmt: skip
    with worker_process(settings) as worker:
        recovery = watch_recovery(settings.canonical_url)
        log.info(
            "recovery: %s records in %.2f s (polled); the bulk restore: %s records in %.2f s",
            f"{recovery.records:,}", recovery.seconds,
            f"{recovery.bulk_records:,}", recovery.bulk_seconds,
        )  # fmt: skip
        peak_after_recovery = peak_rss_mb(worker.pid)
        feed = LiveFeed.from_real_match(settings.data_dir, LIVE_LEAGUE, args.season, run)
        log.info("live: %s v %s, game %s", feed.home_team, feed.away_team, feed.game_id)
        cpu_before = main_thread_cpu_seconds(worker.pid), process_cpu_seconds(worker.pid)
        live = measure_live_latency(
            settings, feed, args.live_rate, args.live_seconds, args.live_warmup
        )
        live_cpu = (
            main_thread_cpu_seconds(worker.pid) - cpu_before[0],
            process_cpu_seconds(worker.pid) - cpu_before[1],
        )
        return RebuiltRun(
            changelogs, recovery, feed, live, peak_after_recovery, peak_rss_mb(worker.pid),
            live_cpu,
        )  # fmt: skip


@dataclass
class BeforeWorkers:
    """What is timed while nothing else of ours runs."""

    monte_carlo: MonteCarlo
    model_floor: ModelFloor


def figures(
    first: BeforeWorkers, season: SeasonRun, rebuilt: RebuiltRun, demo: DemoWall | None
) -> dict[str, float | None]:
    return {
        "raw_consume_eps": season.throughput.raw_consume_eps,
        "pipeline_eps": season.throughput.pipeline_eps,
        "pipeline_ratio": season.throughput.ratio,
        "model_ceiling_eps": first.model_floor.ceiling_eps,
        "model_ceiling_ratio": first.model_floor.ceiling_eps / season.throughput.raw_consume_eps,
        "quote_to_alert_p50_ms": rebuilt.live.percentile(50),
        "quote_to_alert_p99_ms": rebuilt.live.percentile(99),
        "recovery_records_per_s": rebuilt.recovery.records_per_second,
        "mc_10k_sims_ms": first.monte_carlo.median_ms,
        "worker_peak_rss_mb": max(season.peak_rss_mb, rebuilt.peak_rss_mb),
        "demo_wall_s": demo.seconds if demo and demo.succeeded else None,
    }


def details(
    first: BeforeWorkers, season: SeasonRun, rebuilt: RebuiltRun, demo: DemoWall | None
) -> dict:
    recovery_seconds = rebuilt.recovery.measured_seconds
    return {
        "throughput": season.throughput.to_dict()
        | {
            "worker_main_thread_cpu_seconds": season.main_thread_cpu_seconds,
            "worker_main_thread_us_per_event": season.main_thread_us_per_event,
        },
        "recovery": rebuilt.recovery.to_dict()
        | {
            "megabytes_per_second": rebuilt.changelogs.bytes / 1e6 / recovery_seconds
            if recovery_seconds
            else None,
            "changelogs_plain_read": rebuilt.changelogs.to_dict(),
        },
        "live": rebuilt.live.to_dict()
        | {"game_id": rebuilt.feed.game_id}
        | rebuilt.live_us_per_quote(),
        "monte_carlo": first.monte_carlo.to_dict(),
        "model_floor": first.model_floor.to_dict(),
        "peak_rss_mb": {
            "worker_a_after_season": season.peak_rss_mb,
            "worker_b_after_recovery": rebuilt.peak_rss_after_recovery_mb,
            "worker_b_after_live": rebuilt.peak_rss_mb,
        },
        "demo": demo and {"seconds": demo.seconds, "returncode": demo.returncode,
                          "log": str(demo.log_file)},
    }  # fmt: skip


def machine() -> dict:
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        # other work on the machine skews every figure: judge a run by this
        "load_average_1_5_15": os.getloadavg(),
    }


def main() -> None:
    args = parse_args()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    setup_logging(args.out / f"bench-{stamp}.log")
    machine_at_start = machine()
    compiled_tables = usable_build() is not None  # what the workers load, checked alike
    base = get_settings()
    whole_season = timeline(season_files(base.data_dir, args.season), args.season)
    events = whole_season[: args.events]
    log.info("season %d: replaying %s of its %s real events", args.season,
             f"{len(events):,}", f"{len(whole_season):,}")  # fmt: skip

    # first, while nothing else of ours runs
    monte_carlo = time_simulations(whole_season, args.mc_runs)
    log.info("Monte Carlo: %.2f ms per game (median of %d)", monte_carlo.median_ms, args.mc_runs)
    first = BeforeWorkers(monte_carlo, measure_model_floor(events))
    log.info("%s", first.model_floor.summary())
    # a fresh app (topics, group, state) on a free port: a demo's worker may hold the default
    settings = prepare(base).model_copy(update={"web_port": free_port()})
    season = season_through_worker(settings, events)
    rebuilt = rebuilt_worker_live(settings, args, stamp)
    demo = None if args.skip_demo else time_demo(args.out / f"demo-{stamp}.log")

    measured = figures(first, season, rebuilt, demo)
    result = {
        "figures": measured,
        "targets": report.targets(),
        "verdicts": report.verdicts(measured),
        "commit": git("rev-parse", "HEAD"),
        "worktree_changed": bool(git("status", "--porcelain")),
        # a stale build runs the tables as plain Python (their hot code 20-35 % slower)
        "compiled_tables": compiled_tables,
        "utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_at_start | {"load_average_at_end": os.getloadavg()},
        "season": args.season,
        "events": season.throughput.events,
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "worker_log": str(settings.state_dir / "worker.log"),
        "details": details(first, season, rebuilt, demo),
    }
    path = report.write(result, args.out, stamp)
    live = rebuilt.live
    print()
    print(report.render(measured))
    if not compiled_tables:
        print("\nthe tables ran as plain Python: the compiled build is missing or stale "
              "(`make compile` rebuilds it)")  # fmt: skip
    print(
        f"\nlive: {live.quotes_sent:,} quotes sent, {sum(live.outputs.values()):,} outputs "
        f"received {dict(live.outputs)}, {len(live.first_output_ms):,} quote updates with "
        f"an output; {live.raw_odds_lag_after_send} raw quotes not yet committed when sending "
        f"ended (offsets are committed every STREAMAPP_OFFSET_COMMIT_SECONDS)"
    )
    print(
        f"replay: the worker's main thread (every agent and the consumer) spent "
        f"{season.main_thread_us_per_event:,.0f} µs of CPU per event"
    )
    print(first.model_floor.summary())
    live_figures = live.to_dict()
    live_cpu = rebuilt.live_us_per_quote()
    if live.quotes_sent:
        print(
            f"live: the worker spent {live_cpu['worker_process_us_per_quote']:,.0f} µs of CPU "
            f"per quote ({live_cpu['worker_main_thread_us_per_quote']:,.0f} in its main thread)"
        )
    print("where a quote's time went, p50 / p99 ms: " + ", ".join(
        f"{hop} {figures['p50']:.0f} / {figures['p99']:.0f}"
        for hop, figures in live_figures["hop_ms"].items()
    ))  # fmt: skip
    lag = live.event_loop_lag
    if lag and lag["wakeups"]:
        print(
            f"the worker's event loop from the first live quote to the last output (its lag "
            f"timer, every 0.5 s): {lag['wakeups']:.0f} wake-ups, {lag['over_10_ms']:.0f} "
            f"later than 10 ms, {lag['over_25_ms']:.0f} later than 25 ms, the latest at "
            f"most {lag['latest_at_most_ms']:g} ms"
        )
    print("live latency per 5 s of sending, p50 / p99 ms: " + ", ".join(
        f"{part['p50']:.0f} / {part['p99']:.0f}" for part in live_figures["timeline_ms"]
    ))  # fmt: skip
    if demo and not demo.succeeded:
        print(f"demo: failed (exit {demo.returncode}) after {demo.seconds:.0f} s: {demo.log_file}")
    print(f"results: {path} (also {args.out / 'latest.json'})")


if __name__ == "__main__":
    main()
