"""The `streamapp` command."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import warnings
from pathlib import Path

from schemas.feeds import FEEDS
from streamapp.backtest import parse_date
from streamapp.connectors import FEED_NAMES
from streamapp.errors import StreamappError
from streamapp.replay.catalog import SOURCES
from streamapp.settings import get_settings


def _stack(args, settings) -> None:
    from streamapp.stack.manager import Stack

    stack = Stack(settings)
    if args.action == "up":
        stack.up()
    elif args.action == "down":
        stack.down()
    elif args.action == "wipe":
        stack.down()
        stack.kafka.wipe()
    for name, state in stack.status().items():
        print(f"{name:<9} {state}")


def _replay(args, settings) -> None:
    from streamapp.replay.catalog import season_files, timeline
    from streamapp.replay.malformed import malformed_messages
    from streamapp.replay.producer import replay

    files = [Path(f) for f in args.files] or season_files(settings.data_dir, args.season)
    events = timeline(files, args.season)
    if args.limit:
        events = events[: args.limit]
    extra = (
        [m for m, _ in malformed_messages(args.inject_malformed)] if args.inject_malformed else []
    )
    report = asyncio.run(replay(settings, events, speed=args.speed, extra=extra))
    for topic, count in sorted(report.sent.items()):
        print(f"{topic:<36} {count:>10,}")
    print(f"{report.total:,} events in {report.messages:,} messages in {report.seconds:.1f}s")


def _worker(args, settings) -> None:
    from streamapp.worker import run_worker

    run_worker(settings)


def _demo(args, settings) -> None:
    from streamapp.demo import run_demo, run_live_demo

    if args.live:
        run_live_demo(settings, args.seconds)
    else:
        run_demo(settings)


def _connect(args, settings) -> None:
    from streamapp.connectors.connect import connect

    asyncio.run(connect(settings, args.feeds))


def _summary(args, settings) -> None:
    from streamapp.summary import collect_summary

    print(asyncio.run(collect_summary(settings)).render(settings))


def _db(args, settings) -> None:
    from streamapp.db.migrate import migrate, migrations

    applied = migrate(settings.effective_database_url)
    print(f"{len(applied)} migration(s) applied; schema at version {migrations()[-1].version}")


def _backfill(args, settings) -> None:
    from streamapp.db.backfill import backfill
    from streamapp.replay.catalog import source_of

    paths = [Path(f) for f in args.files]
    for path in paths:
        if args.source and source_of(path) != args.source:
            raise StreamappError(f"{path} is not a {args.source} file (it is {source_of(path)})")
    for result in backfill(settings, paths, force=args.force):
        print(
            f"{result.job:<60} {result.status:<10} {result.processed:>9,} rows "
            f"{result.failed:>5,} failed {result.seconds:7.1f}s"
        )


def _backtest(args, settings) -> None:
    from streamapp.backtest import run_backtest, write_outputs
    from tables.model_params import DEFAULT_PARAMS, ModelParams

    params = DEFAULT_PARAMS
    if args.params:
        params = ModelParams.from_dict(json.loads(Path(args.params).read_text()))
    files = [Path(f) for f in args.files]
    backtest = run_backtest(
        files,
        params,
        settings.prediction_min_change,
        args.source,
        alert_on_outliers=settings.alert_on_outlier_prices,
    )
    figures = write_outputs(backtest, Path(args.out), args.score_from)
    print(f"{figures['games']:,} games scored, {figures['alerts']['alerts']:,} alerts settled")
    for name, entry in figures["groups"].items():
        scores = ", ".join(
            f"{model} {value['brier']:.4f} (n={value['n']:,})"
            for model, value in entry.items()
            if isinstance(value, dict) and "brier" in value
        )
        alerts = entry.get("alerts")
        if alerts and alerts["alerts"]:
            scores += (
                f"; alerts {alerts['alerts']:,} ROI {alerts['roi']:+.3f} CLV fair "
                f"{alerts['mean_clv_vs_fair_close'] or 0:+.4f} same-book "
                f"{alerts['mean_clv_same_book'] or 0:+.4f}"
            )
        print(f"{name:<34} {scores}")
    print(f"wrote predictions.csv, alerts.csv, report.json, calibration.png to {args.out}")


def _model(args, settings) -> None:
    from streamapp.model_control import current_registry, send_control

    if args.action == "show":
        state = asyncio.run(current_registry(settings)).describe()
    else:
        if args.action in ("publish", "activate") and not args.argument:
            raise StreamappError(f"`streamapp model {args.action}` needs a {args.action} argument")
        state = asyncio.run(send_control(settings, args.action, args.argument))
    print(json.dumps(state, indent=2))


def _deadletters(args, settings) -> None:
    from streamapp.deadletters import run

    run(args, settings)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="streamapp", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)

    stack = commands.add_parser("stack", help="start/stop the embedded Kafka and PostgreSQL")
    stack.add_argument("action", choices=["up", "down", "status", "wipe"])
    stack.set_defaults(run=_stack)

    worker = commands.add_parser(
        "worker", help="run a faust worker (same as faust -A streamapp.app worker)"
    )
    worker.set_defaults(run=_worker)

    play = commands.add_parser("replay", help="replay real data files onto the raw topics")
    play.add_argument("files", nargs="*", help="data files (default: every file of --season)")
    play.add_argument(
        "--season", type=int, default=None, help="only the season ending in this year"
    )
    play.add_argument(
        "--speed", type=float, default=0.0, help="0: as fast as possible; N: N x real time"
    )
    play.add_argument("--limit", type=int, default=0, help="replay only the first N events")
    play.add_argument(
        "--inject-malformed",
        type=int,
        default=0,
        metavar="N",
        help="also send N synthetic malformed messages of each kind",
    )
    play.set_defaults(run=_replay)

    poll = commands.add_parser(
        "connect",
        help="poll live feeds (The Odds API, ESPN, the NBA injury report) onto the raw topics",
        description="Runs the pollers of the given feeds; only the changes reach the raw "
        "topics, unreadable responses and unknown teams the dead-letter topic. Several "
        "`connect` processes may run: one polls, the others stand by. Metrics on "
        "STREAMAPP_CONNECT_METRICS_PORT. See streamapp/connectors/connect.py.",
    )
    poll.add_argument("feeds", nargs="+", choices=FEED_NAMES)
    poll.set_defaults(run=_connect)

    demo = commands.add_parser("demo", help="stack, worker, one season replayed, summary")
    demo.add_argument(
        "--live",
        action="store_true",
        help="the live connectors poll a local server answering with the captured "
        "provider responses (no API key), instead of the season replay",
    )
    demo.add_argument("--seconds", type=float, default=60.0, help="--live: how long to poll")
    demo.set_defaults(run=_demo)

    db = commands.add_parser("db", help="PostgreSQL schema")
    db.add_argument("action", choices=["migrate"])
    db.set_defaults(run=_db)

    fill = commands.add_parser("backfill", help="load historical files into PostgreSQL (resumable)")
    fill.add_argument("--source", choices=["football-data", "moneylines", "nba-boxscores"])
    fill.add_argument("files", nargs="+", help="data files")
    fill.add_argument("--force", action="store_true", help="load files already loaded again")
    fill.set_defaults(run=_backfill)

    test = commands.add_parser(
        "backtest", help="walk-forward backtest of data files through the live model code"
    )
    test.add_argument("--source", choices=SOURCES, help="format of the files (default: folder)")
    test.add_argument("files", nargs="+", help="data files; ratings carry across them")
    test.add_argument("--out", required=True, help="folder for the CSVs, report and plot")
    test.add_argument("--score-from", type=parse_date, help="score only games from YYYY-MM-DD")
    test.add_argument("--params", help="a model version as JSON (default: the built-in one)")
    test.set_defaults(run=_backtest)

    model = commands.add_parser(
        "model", help="model versions: show, publish FILE, activate VERSION, rollback"
    )
    model.add_argument("action", choices=["show", "publish", "activate", "rollback"])
    model.add_argument("argument", nargs="?", help="publish: a JSON file; activate: a version")
    model.set_defaults(run=_model)

    summary = commands.add_parser("summary", help="events per topic, predictions, dead letters")
    summary.set_defaults(run=_summary)

    letters = commands.add_parser(
        "deadletters",
        help="list, show or replay dead letters (by feed, error type, stage, reason, time)",
        description="Select dead letters (every filter given must match), list them, show "
        "their original bytes, or re-send ingest's letters to their raw topic after a fix. "
        "Replaying twice processes each event once (ingest drops known event ids); a letter "
        "that fails again comes back as a new dead letter. See streamapp/deadletters.py.",
    )
    letters.add_argument("action", choices=["list", "show", "replay"])
    letters.add_argument(
        "letters",
        nargs="*",
        help="only these: topic:partition:offset or stage/topic/partition/offset",
    )
    letters.add_argument(
        "--from",
        dest="source",
        choices=["topic", "db"],
        default="topic",
        help="read the dead-letter topic (default: every letter the agents parked) or "
        "PostgreSQL (also the rows a sink refused, and backfill's letters)",
    )
    letters.add_argument("--feed", action="append", choices=sorted(FEEDS), help="source feed")
    letters.add_argument("--error-type", action="append", help="e.g. invalid_value, wrong_key")
    letters.add_argument("--stage", action="append", help="e.g. ingest-odds, predict-games")
    letters.add_argument("--reason", help="reason contains this text (any case)")
    letters.add_argument("--since", help="parked at or after: ISO date/time (UTC) or age (2h, 3d)")
    letters.add_argument("--until", help="parked before: ISO date/time (UTC) or age")
    letters.add_argument("--limit", type=int, default=0, help="only the first N (by time)")
    letters.add_argument(
        "--max-bytes", type=int, default=4096, help="show: payload bytes shown (0: all)"
    )
    letters.add_argument(
        "--dry-run", action="store_true", help="replay: print what would be re-sent, send nothing"
    )
    letters.add_argument(
        "--no-progress", dest="progress", action="store_false", help="replay: no progress bar"
    )
    letters.set_defaults(run=_deadletters)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = get_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    warnings.filterwarnings("ignore", module="platformdirs")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    if args.command == "replay" and not args.files and args.season is None:
        args.season = settings.demo_season
    try:
        args.run(args, settings)
    except StreamappError as error:
        print(f"streamapp: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
