"""`streamapp connect FEED...`: the live pollers, in their own process.

Feeds: ``odds-api`` (odds and scores of every sport in STREAMAPP_ODDS_API_SPORTS),
``espn`` (the scoreboard of every league in STREAMAPP_ESPN_LEAGUES, and the summary of
each game in progress or about to start: lineups, injuries, box scores) and
``nba-injury-report`` (the NBA's official PDF, every quarter of an hour). Each response
goes through its parser (``odds_api``, ``espn``, ``nba_injury_report``) and the publisher,
which sends only what changed. Only the leader among the running `connect` processes polls
(``leadership``); the others stand by and take over when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aiohttp
from prometheus_client import CollectorRegistry, start_http_server

from schemas.base import league_key
from schemas.feeds import FEEDS
from streamapp.connectors import espn, nba_injury_report, odds_api
from streamapp.connectors.exceptions import ResponseFormatError
from streamapp.connectors.http_client import FeedEndpoint, FeedResponse, RateLimiter, RetryPolicy
from streamapp.connectors.leadership import Leadership
from streamapp.connectors.leagues import (
    ESPN_LEAGUES,
    ODDS_API_LEAGUES,
    League,
    espn_league,
    odds_api_league,
)
from streamapp.connectors.parsing import US_EASTERN, Parsed
from streamapp.connectors.polling import (
    FAILED_OUTCOMES,
    ConnectorMetrics,
    FeedPoller,
    PollPolicy,
    QuotaBudget,
)
from streamapp.connectors.publisher import Covered, Publisher
from streamapp.errors import StreamappError
from streamapp.kafka_io import ensure_topics, started_producer
from streamapp.settings import Settings

log = logging.getLogger(__name__)
# The NBA publishes its injury report every 15 minutes on game days; the newest few are
# looked for, as one is often uploaded late.
INJURY_REPORT_SLOT = timedelta(minutes=15)
INJURY_REPORT_SLOTS_TRIED = 4

Parser = Callable[[FeedResponse], Parsed]


@dataclass
class Connectors:
    """What every poller of one `connect` process shares."""

    settings: Settings
    session: aiohttp.ClientSession
    publisher: Publisher
    metrics: ConnectorMetrics
    limiters: dict[str, RateLimiter] = field(default_factory=dict)
    quota: QuotaBudget | None = None

    def policy(self, interval_seconds: float) -> PollPolicy:
        settings = self.settings
        return PollPolicy(
            interval_seconds=interval_seconds,
            stale_after_intervals=settings.connector_stale_after_intervals,
            circuit_failure_threshold=settings.connector_circuit_failures,
            circuit_cool_down_seconds=settings.connector_circuit_cool_down_seconds,
            retry=RetryPolicy(
                timeout_seconds=settings.connector_timeout_seconds,
                max_attempts=settings.connector_max_attempts,
                backoff_max_seconds=settings.connector_backoff_max_seconds,
            ),
        )

    def poller(
        self,
        endpoint: FeedEndpoint,
        parse: Parser,
        provider: str,
        interval_seconds: float,
        covers: tuple[Covered, ...] = (),
    ) -> FeedPoller:
        """A poller whose responses are parsed by ``parse`` and published as ``endpoint.name``;
        each current answer, new or the same, answers for the feeds it ``covers`` whole (a
        watermark follows it)."""
        source = endpoint.name

        async def publish(response: FeedResponse) -> None:
            await self.publisher.publish(source, parse(response))

        async def current(received: float) -> None:
            await self.publisher.send_watermarks(covers, received)

        async def park(url: str, status: int, body: bytes, reason: str) -> None:
            await self.publisher.park_response(source, url, status, body, reason)

        return FeedPoller(
            endpoint,
            self.session,
            publish,
            policy=self.policy(interval_seconds),
            limiter=self.limiters[provider],
            metrics=self.metrics,
            format_errors=(ResponseFormatError,),
            on_bad_response=park,
            on_current=current if covers else None,
            quota=self.quota if provider == "odds-api" else None,
        )


def covering(feed: str, league: League | None) -> tuple[Covered, ...]:
    """What a poll of a league's whole ``feed`` answers for: nothing for a league that is
    not followed (or, like ESPN's ``soccer/all``, several)."""
    return (Covered(feed, league_key(league.sport, league.code)),) if league else ()


def received_at(response: FeedResponse) -> datetime:
    return datetime.fromtimestamp(response.received_at, UTC)


def odds_api_tasks(c: Connectors) -> list[Coroutine]:
    settings = c.settings
    odds_format = settings.odds_api_odds_format
    tasks = []
    for sport in settings.odds_api_sports or ODDS_API_LEAGUES:
        base = f"{settings.odds_api_url}/v4/sports/{sport}"
        league = odds_api_league(sport)
        odds = FeedEndpoint(
            f"odds-api:{sport}:odds",
            f"{base}/odds",
            {
                "regions": settings.odds_api_regions,
                "markets": settings.odds_api_markets,
                "oddsFormat": odds_format,
                "dateFormat": "iso",
            },
            api_key=settings.odds_api_key,
        )
        scores = FeedEndpoint(
            f"odds-api:{sport}:scores",
            f"{base}/scores",
            {"daysFrom": "1", "dateFormat": "iso"},
            api_key=settings.odds_api_key,
        )
        tasks.append(
            c.poller(
                odds,
                lambda response: odds_api.parse_odds(response.body, odds_format),
                "odds-api",
                settings.odds_api_interval_seconds,
                covering("odds", league),
            ).run()
        )
        tasks.append(
            c.poller(
                scores,
                lambda response: odds_api.parse_scores(response.body, received_at(response)),
                "odds-api",
                settings.odds_api_scores_interval_seconds,
                covering("games", league),
            ).run()
        )
    return tasks


def espn_tasks(c: Connectors) -> list[Coroutine]:
    leagues = c.settings.espn_leagues or ESPN_LEAGUES
    return [follow_espn_league(c, path) for path in leagues]


async def follow_espn_league(c: Connectors, path: str) -> None:
    """The league's scoreboard, and the summaries of the games it shows in progress,
    about to start or just finished."""
    settings = c.settings
    base = f"{settings.espn_url}/apis/site/v2/sports/{path}"
    followed: list[str] = []

    def scoreboard(response: FeedResponse) -> Parsed:
        parsed = espn.parse_scoreboard(response.body, received_at(response))
        followed[:] = espn.summaries_to_follow(
            response.body, received_at(response), settings.espn_summary_lead_seconds
        )
        return parsed

    board = c.poller(
        FeedEndpoint(f"espn:{path}:scoreboard", f"{base}/scoreboard"),
        scoreboard,
        "espn",
        settings.espn_scoreboard_interval_seconds,
        covering("games", espn_league(path)),
    )
    summaries: dict[str, FeedPoller] = {}

    async def poll_summaries() -> None:
        while True:
            for espn_id in list(summaries):
                if espn_id not in followed:
                    c.metrics.forget(summaries.pop(espn_id).feed)
            for espn_id in list(followed):
                if espn_id not in summaries:
                    summaries[espn_id] = c.poller(
                        FeedEndpoint(
                            f"espn:{path}:summary:{espn_id}", f"{base}/summary", {"event": espn_id}
                        ),
                        lambda response: espn.parse_summary(response.body, received_at(response)),
                        "espn",
                        settings.espn_summary_interval_seconds,
                    )
                await summaries[espn_id].poll_once()
            await asyncio.sleep(settings.espn_summary_interval_seconds)

    async with asyncio.TaskGroup() as group:
        group.create_task(board.run())
        group.create_task(poll_summaries())


def injury_report_name(slot: datetime) -> str:
    """The file name of the report published at ``slot`` (US Eastern time in the name)."""
    local = slot.astimezone(US_EASTERN)
    return f"Injury-Report_{local:%Y-%m-%d}_{local:%I_%M%p}.pdf"


def recent_injury_report_slots(now: datetime, count: int) -> list[datetime]:
    """The last ``count`` quarter-hour slots up to ``now``, newest first."""
    minutes = now.minute - now.minute % 15
    latest = now.replace(minute=minutes, second=0, microsecond=0)
    return [latest - index * INJURY_REPORT_SLOT for index in range(count)]


async def follow_injury_reports(c: Connectors) -> None:
    """Every interval, the newest report published since the last one read."""
    settings = c.settings
    newest_read: datetime | None = None
    while True:
        slots = recent_injury_report_slots(datetime.now(UTC), INJURY_REPORT_SLOTS_TRIED)
        for slot in slots:
            if newest_read is not None and slot <= newest_read:
                break
            name = injury_report_name(slot)
            report_time = nba_injury_report.report_time_from_name(name)
            poller = c.poller(
                FeedEndpoint("nba-injury-report", f"{settings.nba_injury_report_url}/{name}"),
                lambda response, at=report_time: nba_injury_report.parse_injury_report(
                    response.body, at
                ),
                "nba-official",
                settings.nba_injury_report_interval_seconds,
            )
            if await poller.poll_once() not in FAILED_OUTCOMES:
                newest_read = slot
                break
        await asyncio.sleep(settings.nba_injury_report_interval_seconds)


FEED_TASKS: dict[str, Callable[[Connectors], list[Coroutine]]] = {
    "odds-api": odds_api_tasks,
    "espn": espn_tasks,
    "nba-injury-report": lambda c: [follow_injury_reports(c)],
}


async def connect(settings: Settings, feeds: list[str], stop: Awaitable | None = None) -> None:
    """Poll ``feeds`` while this process is the leader, until ``stop`` (or forever)."""
    if "odds-api" in feeds and settings.odds_api_key is None:
        raise StreamappError(
            "the odds-api feed needs a key: set ODDS_API_KEY (https://the-odds-api.com), "
            "or leave the feed out of `streamapp connect`"
        )
    outputs = [settings.topic(feed.raw_topic) for feed in FEEDS.values()]
    await ensure_topics(settings, [*outputs, settings.topic("deadletter")])
    producer = await started_producer(
        settings,
        acks="all",
        # Not idempotent: on a topic seconds old the broker answered NotLeaderForPartition,
        # and aiokafka's idempotent producer then failed every later send with
        # OutOfOrderSequenceNumber. A send retried twice lands twice with the same
        # content-derived event id, and ingest drops the copy.
        enable_idempotence=False,
        max_request_size=settings.max_message_bytes,  # a whole response parked as it came
    )
    registry = CollectorRegistry()
    metrics_server, _ = start_http_server(settings.connect_metrics_port, registry=registry)
    try:
        async with aiohttp.ClientSession() as session, Leadership(settings) as leadership:
            c = Connectors(
                settings,
                session,
                Publisher(settings, producer),
                ConnectorMetrics(registry),
                {
                    "odds-api": RateLimiter(settings.odds_api_requests_per_second),
                    "espn": RateLimiter(settings.espn_requests_per_second),
                    "nba-official": RateLimiter(1.0),
                },
                QuotaBudget(
                    "the-odds-api",
                    reserve=settings.odds_api_quota_reserve,
                    reset_day_of_month=settings.odds_api_quota_reset_day,
                ),
            )
            await lead(c, feeds, leadership, stop)
    finally:
        metrics_server.shutdown()
        metrics_server.server_close()
        await producer.stop()


async def lead(c: Connectors, feeds: list[str], leadership: Leadership, stop) -> None:
    """Run the feeds' pollers whenever this process leads; stop them when it no longer does."""
    stopped = asyncio.ensure_future(stop) if stop is not None else asyncio.Future()
    try:
        while not stopped.done():
            leading = asyncio.ensure_future(leadership.leading.wait())
            await asyncio.wait([leading, stopped], return_when=asyncio.FIRST_COMPLETED)
            leading.cancel()
            if stopped.done():
                break
            await c.publisher.snapshots.load()  # what the last leader sent
            pollers = [
                asyncio.ensure_future(task) for feed in feeds for task in FEED_TASKS[feed](c)
            ]
            leadership.changed.clear()
            lost = asyncio.ensure_future(until_not_leading(leadership))
            await asyncio.wait([*pollers, lost, stopped], return_when=asyncio.FIRST_COMPLETED)
            for task in [*pollers, lost]:
                task.cancel()
            for task in pollers:
                with contextlib.suppress(asyncio.CancelledError):
                    await task  # a poller that failed raises here
    finally:
        stopped.cancel()


async def until_not_leading(leadership: Leadership) -> None:
    while leadership.leading.is_set():
        await leadership.changed.wait()
        leadership.changed.clear()
