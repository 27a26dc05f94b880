"""The polling runtime against a local aiohttp server that serves a real Odds API capture,
then the ways a provider fails: 429 with Retry-After, 500s, timeouts, unparsable bodies, a
spent quota, silence. Waits of minutes are recorded by a fast ``sleep`` instead of slept."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from prometheus_client import CollectorRegistry, generate_latest
from pydantic import SecretStr

from streamapp.connectors.exceptions import ResponseFormatError
from streamapp.connectors.http_client import (
    FeedEndpoint,
    FeedResponse,
    RateLimiter,
    RetryPolicy,
    retry_after_seconds,
)
from streamapp.connectors.polling import (
    CircuitBreaker,
    CircuitState,
    ConnectorMetrics,
    FeedPoller,
    PollOutcome,
    PollPolicy,
    QuotaBudget,
)

ODDS_PATH = "/v4/sports/basketball_nba/odds"
ODDS_CAPTURE = Path("feeds/the-odds-api/odds_basketball_nba_h2h-spreads_decimal_us_2023-12-11.json")
FEED = "odds-nba"
API_KEY = "s3cr3t-KEY+/="  # with characters that change when URL-encoded
# A fixed day whose quota reset (the 1st) is exactly one day away.
JAN_31 = datetime(2024, 1, 31, tzinfo=UTC).timestamp()
FAST_RETRIES = RetryPolicy(timeout_seconds=0.2, backoff_base_seconds=0.01)

Step = Callable[[web.Request], Awaitable[web.StreamResponse]]


def answer(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Step:
    async def step(request: web.Request) -> web.Response:
        return web.Response(body=body, status=status, headers=headers)

    return step


def hang(seconds: float) -> Step:
    async def step(request: web.Request) -> web.Response:
        await asyncio.sleep(seconds)
        return web.Response()

    return step


def conditional(body: bytes, etag: str, last_modified: str) -> Step:
    async def step(request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304)
        return web.Response(body=body, headers={"ETag": etag, "Last-Modified": last_modified})

    return step


@dataclass
class ReceivedRequest:
    at: float
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class ScriptedProvider:
    """Answers each request with the next scripted step (the last one repeats)."""

    url: str = ""
    steps: list[Step] = field(default_factory=list)
    requests: list[ReceivedRequest] = field(default_factory=list)

    def script(self, *steps: Step) -> None:
        self.steps = list(steps)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(
            ReceivedRequest(time.monotonic(), dict(request.query), dict(request.headers))
        )
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        return await step(request)


class FastSleep:
    """Records every wait asked for and yields instead of sleeping it."""

    def __init__(self) -> None:
        self.requested: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.requested.append(seconds)
        await asyncio.sleep(0)


@dataclass
class Feed:
    """A poller with what it handed over, what it sent to the dead letters, and the
    reception times it said were current."""

    poller: FeedPoller
    registry: CollectorRegistry
    received: list[bytes]
    refused: list[tuple[str, int, bytes, str]]
    current: list[float]

    def sample(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, labels)


async def parse_odds(response: FeedResponse) -> list[dict]:
    try:
        games = orjson.loads(response.body)
    except orjson.JSONDecodeError as error:
        raise ResponseFormatError(f"not JSON: {error}") from None
    if not isinstance(games, list):
        raise ResponseFormatError("not a list of games")
    return games


@pytest.fixture
def odds_body(data_dir: Path) -> bytes:
    return (data_dir / ODDS_CAPTURE).read_bytes()


@pytest.fixture
async def provider() -> AsyncIterator[ScriptedProvider]:
    provider = ScriptedProvider()
    app = web.Application()
    app.router.add_get(ODDS_PATH, provider.handle)
    async with TestServer(app) as server:
        provider.url = str(server.make_url(ODDS_PATH))
        yield provider


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def make_feed(provider: ScriptedProvider, session: aiohttp.ClientSession):
    registry = CollectorRegistry()
    metrics = ConnectorMetrics(registry)

    def make(
        *,
        name: str = FEED,
        policy: PollPolicy | None = None,
        limiter: RateLimiter | None = None,
        quota: QuotaBudget | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        handler: Callable[[FeedResponse], Awaitable[object]] = parse_odds,
        on_current: Callable[[float], Awaitable[None]] | None = None,
    ) -> Feed:
        received: list[bytes] = []
        refused: list[tuple[str, int, bytes, str]] = []
        current: list[float] = []

        async def told_current(received_at: float) -> None:
            if on_current is not None:
                await on_current(received_at)
            current.append(received_at)

        async def on_response(response: FeedResponse) -> None:
            await handler(response)
            received.append(response.body)

        async def on_bad_response(url: str, status: int, body: bytes, reason: str) -> None:
            refused.append((url, status, body, reason))

        endpoint = FeedEndpoint(
            name,
            provider.url,
            params={"regions": "us", "markets": "h2h,spreads", "oddsFormat": "decimal"},
            api_key=SecretStr(API_KEY),
        )
        poller = FeedPoller(
            endpoint,
            session,
            on_response,
            policy=policy or PollPolicy(interval_seconds=60, retry=FAST_RETRIES),
            limiter=limiter or RateLimiter(1000, burst=10, sleep=sleep),
            metrics=metrics,
            format_errors=(ResponseFormatError,),
            on_bad_response=on_bad_response,
            on_current=told_current,
            quota=quota,
            clock=clock,
            sleep=sleep,
        )
        return Feed(poller, registry, received, refused, current)

    return make


async def eventually(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


def with_changed_price(body: bytes) -> bytes:
    changed = body.replace(b'"price": 2.4\n', b'"price": 2.45\n', 1)
    assert changed != body
    return changed


async def test_a_real_odds_response_reaches_the_handler_whole(provider, make_feed, odds_body):
    provider.script(answer(odds_body))
    feed = make_feed()

    assert await feed.poller.poll_once() is PollOutcome.CHANGED

    assert feed.received == [odds_body]
    assert orjson.loads(feed.received[0])[0]["home_team"] == "Charlotte Hornets"
    health = feed.poller.health()
    assert health.last_success_at is not None and not health.stale
    assert feed.sample("streamapp_connector_polls_total", feed=FEED, outcome="changed") == 1
    assert provider.requests[0].query["markets"] == "h2h,spreads"


async def test_only_a_body_that_changed_since_the_last_poll_is_handed_over_again(
    provider, make_feed, odds_body
):
    changed = with_changed_price(odds_body)
    provider.script(answer(odds_body), answer(odds_body), answer(changed))
    feed = make_feed()

    outcomes = [await feed.poller.poll_once() for _ in range(3)]

    assert outcomes == [PollOutcome.CHANGED, PollOutcome.UNCHANGED, PollOutcome.CHANGED]
    assert feed.received == [odds_body, changed]
    assert len(feed.current) == 3 and feed.current == sorted(feed.current)  # each one current


async def test_an_etag_and_last_modified_are_sent_back_and_a_304_hands_nothing_over(
    provider, make_feed, odds_body
):
    last_modified = "Mon, 11 Dec 2023 16:57:44 GMT"
    provider.script(conditional(odds_body, '"v1"', last_modified))
    feed = make_feed()

    outcomes = [await feed.poller.poll_once() for _ in range(2)]

    assert outcomes == [PollOutcome.CHANGED, PollOutcome.NOT_MODIFIED]
    assert feed.received == [odds_body] and len(feed.current) == 2
    assert provider.requests[1].headers["If-None-Match"] == '"v1"'
    assert provider.requests[1].headers["If-Modified-Since"] == last_modified
    assert feed.poller.health().consecutive_failures == 0


async def test_a_429_retry_after_in_seconds_is_waited_before_the_retry(
    provider, make_feed, odds_body
):
    provider.script(answer(b"", 429, {"Retry-After": "120"}), answer(odds_body))
    sleep = FastSleep()
    feed = make_feed(sleep=sleep)

    assert await feed.poller.poll_once() is PollOutcome.CHANGED

    assert len(provider.requests) == 2
    assert sleep.requested[0] == pytest.approx(120)
    assert feed.sample("streamapp_connector_retries_total", feed=FEED, reason="http_429") == 1


async def test_a_429_retry_after_as_an_http_date_is_waited_before_the_retry(
    provider, make_feed, odds_body
):
    retry_at = format_datetime(datetime.fromtimestamp(time.time() + 90, UTC), usegmt=True)
    provider.script(answer(b"", 429, {"Retry-After": retry_at}), answer(odds_body))
    sleep = FastSleep()
    feed = make_feed(sleep=sleep)

    assert await feed.poller.poll_once() is PollOutcome.CHANGED

    assert 88 <= sleep.requested[0] <= 90


async def test_a_retry_after_holds_back_the_providers_other_feeds(provider, make_feed, odds_body):
    provider.script(answer(b"", 503, {"Retry-After": "60"}), answer(odds_body))
    sleep = FastSleep()
    limiter = RateLimiter(1000, sleep=sleep)
    first = make_feed(name="odds-nba", limiter=limiter, sleep=sleep)
    second = make_feed(name="scores-nba", limiter=limiter, sleep=sleep)

    await first.poller.poll_once()
    sleep.requested.clear()
    await second.poller.poll_once()

    assert sleep.requested and sleep.requested[0] >= 59


async def test_500s_are_retried_with_growing_jittered_backoff_until_a_response(
    provider, make_feed, odds_body
):
    provider.script(*[answer(b"oops", 500)] * 3, answer(odds_body))
    sleep = FastSleep()
    retry = RetryPolicy(max_attempts=4, backoff_base_seconds=1.0)
    feed = make_feed(sleep=sleep, policy=PollPolicy(interval_seconds=60, retry=retry))

    assert await feed.poller.poll_once() is PollOutcome.CHANGED

    first, second, third = sleep.requested
    assert 1 <= first <= 2 and 2 <= second <= 3 and 4 <= third <= 5
    assert feed.sample("streamapp_connector_retries_total", feed=FEED, reason="http_500") == 3


async def test_a_poll_whose_retries_run_out_fails_and_the_next_poll_succeeds(
    provider, make_feed, odds_body
):
    provider.script(*[answer(b"", 502)] * FAST_RETRIES.max_attempts, answer(odds_body))
    feed = make_feed()

    assert await feed.poller.poll_once() is PollOutcome.FAILED
    assert feed.poller.health().consecutive_failures == 1
    assert await feed.poller.poll_once() is PollOutcome.CHANGED
    assert feed.poller.health().consecutive_failures == 0


async def test_a_timeout_is_retried(provider, make_feed, odds_body):
    provider.script(hang(0.5), answer(odds_body))
    feed = make_feed()

    assert await feed.poller.poll_once() is PollOutcome.CHANGED

    assert feed.sample("streamapp_connector_retries_total", feed=FEED, reason="timeout") == 1


async def test_a_4xx_other_than_429_is_not_retried_and_is_reported(provider, make_feed, caplog):
    provider.script(answer(b'{"message": "Usage quota has been reached"}', 401))
    feed = make_feed()

    assert await feed.poller.poll_once() is PollOutcome.FAILED

    assert len(provider.requests) == 1
    assert "401" in feed.poller.health().last_error
    assert "Usage quota has been reached" in caplog.text


@pytest.mark.parametrize(
    "bad_body",
    [
        pytest.param(lambda body: body[: len(body) // 2], id="truncated"),
        pytest.param(lambda body: body.replace(b"]", b"}", 1), id="malformed"),
        pytest.param(lambda body: b'{"message": "not a list"}', id="wrong-shape"),
    ],
)
async def test_an_unparsable_body_goes_whole_to_the_bad_response_hook_and_polling_goes_on(
    provider, make_feed, odds_body, bad_body
):
    bad = bad_body(odds_body)
    provider.script(answer(bad), answer(odds_body))
    feed = make_feed()

    assert await feed.poller.poll_once() is PollOutcome.BAD_RESPONSE
    assert await feed.poller.poll_once() is PollOutcome.CHANGED

    [(url, status, body, reason)] = feed.refused
    assert (status, body) == (200, bad)
    assert url == feed.poller.endpoint.public_url and "regions=us" in url
    assert reason.startswith("not")
    assert feed.received == [odds_body]
    assert feed.sample("streamapp_connector_polls_total", feed=FEED, outcome="bad_response") == 1


async def test_a_refused_body_served_again_fails_again_without_a_second_dead_letter(
    provider, make_feed
):
    provider.script(answer(b"[{"))
    feed = make_feed()

    outcomes = [await feed.poller.poll_once() for _ in range(2)]

    assert outcomes == [PollOutcome.BAD_RESPONSE, PollOutcome.BAD_RESPONSE]
    assert len(feed.refused) == 1 and feed.current == []  # nothing known of the feed
    assert feed.poller.health().consecutive_failures == 2


async def test_a_handler_failure_that_is_no_format_error_hands_the_same_body_over_again(
    provider, make_feed, odds_body
):
    provider.script(answer(odds_body))
    failures = [ConnectionError("broker away")]

    async def handler(response: FeedResponse) -> None:
        if failures:
            raise failures.pop()

    feed = make_feed(handler=handler)

    outcomes = [await feed.poller.poll_once() for _ in range(2)]

    assert outcomes == [PollOutcome.FAILED, PollOutcome.CHANGED]
    assert feed.received == [odds_body] and feed.refused == [] and len(feed.current) == 1


async def test_a_failure_to_say_the_feed_is_current_fails_the_poll_and_the_next_says_it(
    provider, make_feed, odds_body
):
    """The watermark after a poll did not reach the broker: the poll failed (the body is
    kept, its events were sent), and the next one, unchanged, sends the watermark."""
    provider.script(answer(odds_body))
    failures = [ConnectionError("broker away")]

    async def on_current(received_at: float) -> None:
        if failures:
            raise failures.pop()

    feed = make_feed(on_current=on_current)

    outcomes = [await feed.poller.poll_once() for _ in range(2)]

    assert outcomes == [PollOutcome.FAILED, PollOutcome.UNCHANGED]
    assert feed.received == [odds_body] and len(feed.current) == 1


async def test_a_low_quota_stretches_the_interval_to_last_until_the_reset(
    provider, make_feed, odds_body
):
    # One day to the reset at one request a minute needs 1,440 requests; 720 are left
    # above the reserve, so the interval doubles.
    quota_headers = {
        "x-requests-remaining": "730",
        "x-requests-used": "270",
        "x-requests-last": "1",
    }
    provider.script(answer(odds_body, headers=quota_headers))
    quota = QuotaBudget("the-odds-api", reserve=10, clock=lambda: JAN_31)
    feed = make_feed(quota=quota, clock=lambda: JAN_31)

    await feed.poller.poll_once()

    assert feed.poller.interval_seconds() == pytest.approx(120)
    assert feed.sample("streamapp_connector_interval_seconds", feed=FEED) == pytest.approx(120)
    provider_label = {"provider": "the-odds-api"}
    assert feed.sample("streamapp_connector_quota_remaining", **provider_label) == 730
    assert feed.sample("streamapp_connector_quota_used", **provider_label) == 270
    assert feed.sample("streamapp_connector_quota_last_cost", **provider_label) == 1
    assert feed.sample("streamapp_connector_quota_exhausted", **provider_label) == 0


async def test_an_exhausted_quota_stops_polling_until_the_reset(provider, make_feed, odds_body):
    quota_headers = {"x-requests-remaining": "10", "x-requests-used": "490", "x-requests-last": "2"}
    provider.script(answer(odds_body, headers=quota_headers))
    waits: list[float] = []

    async def park(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.Event().wait()

    quota = QuotaBudget("the-odds-api", reserve=10, clock=lambda: JAN_31)
    feed = make_feed(quota=quota, clock=lambda: JAN_31, sleep=park)

    task = asyncio.create_task(feed.poller.run())
    await eventually(lambda: bool(waits))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert waits == [86_400]
    assert len(provider.requests) == 1
    assert feed.poller.health().quota_exhausted
    assert feed.sample("streamapp_connector_quota_exhausted", provider="the-odds-api") == 1


async def test_a_silent_provider_makes_the_feed_stale_opens_the_circuit_and_a_probe_recovers(
    provider, make_feed, odds_body
):
    cool_down = 0.4
    policy = PollPolicy(
        interval_seconds=0.02,
        stale_after_failures=2,
        circuit_failure_threshold=3,
        circuit_cool_down_seconds=cool_down,
        retry=RetryPolicy(timeout_seconds=0.05, max_attempts=1),
    )
    provider.script(hang(0.3))
    feed = make_feed(policy=policy)
    task = asyncio.create_task(feed.poller.run())

    await eventually(lambda: feed.poller.health().circuit is CircuitState.OPEN)
    assert feed.poller.health().stale
    assert feed.sample("streamapp_connector_stale", feed=FEED) == 1
    assert feed.sample("streamapp_connector_circuit_state", feed=FEED) == CircuitState.OPEN
    opened_after = len(provider.requests)
    provider.script(answer(odds_body))

    await eventually(lambda: feed.poller.health().circuit is CircuitState.CLOSED)
    task.cancel()

    probe, last_failure = provider.requests[opened_after], provider.requests[opened_after - 1]
    assert probe.at - last_failure.at >= cool_down
    assert not feed.poller.health().stale
    assert feed.sample("streamapp_connector_stale", feed=FEED) == 0
    assert feed.received == [odds_body]


def test_a_failed_probe_opens_the_circuit_again_for_a_whole_cool_down():
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=2, cool_down_seconds=30, clock=lambda: now[0])
    breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN

    now[0] = 30.0
    assert breaker.seconds_until_probe() == 0
    assert breaker.begin_request()
    breaker.record_failure()

    assert breaker.state is CircuitState.OPEN
    assert breaker.seconds_until_probe() == 30


async def test_feeds_sharing_a_provider_are_spaced_by_its_rate_limit(
    provider, make_feed, odds_body
):
    provider.script(answer(odds_body))
    limiter = RateLimiter(requests_per_second=10)
    granted = []  # when each request was let go
    acquire = limiter.acquire

    async def recorded_acquire() -> None:
        await acquire()
        granted.append(time.time())

    limiter.acquire = recorded_acquire
    feeds = [make_feed(name=f"feed-{n}", limiter=limiter) for n in range(3)]

    await asyncio.gather(*(feed.poller.poll_once() for feed in feeds))

    assert len(provider.requests) == len(granted) == 3
    # The n-th request goes no sooner than n turns of 0.1 s after the first (a busy machine
    # only makes it later). Not measured on arrival: a late first arrival shortens the gap.
    assert all(at - granted[0] >= n * 0.1 - 0.002 for n, at in enumerate(granted))


async def test_the_api_key_never_shows_in_logs_errors_or_metrics(
    provider, make_feed, odds_body, caplog
):
    caplog.set_level(logging.DEBUG)
    key_echo = f'{{"message": "invalid apiKey {API_KEY}"}}'.encode()
    provider.script(
        answer(key_echo, 401),
        answer(b"", 503, {"Retry-After": "0"}),
        hang(0.5),
        answer(b"[{" + API_KEY.encode()),
        answer(odds_body),
    )
    feed = make_feed(policy=PollPolicy(interval_seconds=60, retry=FAST_RETRIES))
    errors = []
    for _ in range(4):
        await feed.poller.poll_once()
        errors.append(feed.poller.health().last_error or "")

    assert provider.requests[0].query["apiKey"] == API_KEY
    # The local provider's access log shows the key it was sent, as the real one's would.
    our_log = [record.getMessage() for record in caplog.records if record.name != "aiohttp.access"]
    shown = [
        *our_log,
        *errors,
        *(f"{url} {reason}" for url, _, _, reason in feed.refused),
        generate_latest(feed.registry).decode(),
        repr(feed.poller),
        repr(feed.poller.endpoint),
        repr(feed.poller.health()),
    ]
    for text in shown:
        assert "s3cr3t" not in text


async def test_an_unreachable_provider_fails_without_showing_the_key(session, caplog):
    registry = CollectorRegistry()
    endpoint = FeedEndpoint("odds", "http://127.0.0.1:9/v4/sports", api_key=SecretStr(API_KEY))
    poller = FeedPoller(
        endpoint,
        session,
        parse_odds,
        policy=PollPolicy(interval_seconds=60, retry=RetryPolicy(max_attempts=1)),
        limiter=RateLimiter(1000),
        metrics=ConnectorMetrics(registry),
        format_errors=(ResponseFormatError,),
    )

    assert await poller.poll_once() is PollOutcome.FAILED

    assert "127.0.0.1:9" in poller.health().last_error
    assert "s3cr3t" not in caplog.text + poller.health().last_error


async def test_cancelling_a_poller_mid_request_stops_it_at_once(provider, make_feed):
    provider.script(hang(30.0))
    feed = make_feed()
    task = asyncio.create_task(feed.poller.run())
    await eventually(lambda: bool(provider.requests))

    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    # far sooner than the 30 s the provider hangs (a loose bound: machines are noisy)
    assert time.monotonic() - started < 10
    await asyncio.sleep(0.05)
    assert len(provider.requests) == 1


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        ("Thu, 01 Jan 1970 00:01:40 GMT", 40.0),
        ("Thu, 01 Jan 1970 00:00:10 GMT", 0.0),
        ("soon", None),
        (None, None),
    ],
)
def test_retry_after_is_read_in_seconds_and_http_date_forms(header, expected):
    assert retry_after_seconds(header, now=60.0) == expected


@pytest.mark.parametrize(
    ("now", "reset"),
    [
        (datetime(2024, 2, 10, tzinfo=UTC), datetime(2024, 2, 29, tzinfo=UTC)),
        (datetime(2024, 2, 29, 12, tzinfo=UTC), datetime(2024, 3, 31, tzinfo=UTC)),
        (datetime(2024, 12, 31, 12, tzinfo=UTC), datetime(2025, 1, 31, tzinfo=UTC)),
    ],
)
def test_the_quota_resets_on_its_day_or_the_last_day_of_a_shorter_month(now, reset):
    quota = QuotaBudget("the-odds-api", reserve=0, reset_day_of_month=31, clock=now.timestamp)

    assert quota.seconds_until_reset() == (reset - now).total_seconds()
