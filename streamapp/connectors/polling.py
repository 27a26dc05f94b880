"""The polling runtime of the live connectors: one :class:`FeedPoller` per feed endpoint.

A poller fetches its endpoint every interval (:mod:`streamapp.connectors.http_client` does
the request, its retries and the rate limit) and hands each new body to the feed's parser.
Around that it keeps what a paid API needs: conditional requests (ETag, Last-Modified) and
a body digest, so an unchanged response costs no parsing; a circuit breaker; the Odds API's
quota, which stretches the interval of every feed sharing the key before it runs out; and
the feed's health (last success, last change, consecutive failures, stale) as Prometheus
metrics. A body the parser refuses goes whole to ``on_bad_response`` and polling goes on.
"""

from __future__ import annotations

import asyncio
import calendar
import enum
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from streamapp.connectors.http_client import (
    Clock,
    FeedEndpoint,
    FeedFetcher,
    FeedResponse,
    FetchError,
    RateLimiter,
    RetryPolicy,
    Sleep,
    TransientFetchError,
)

logger = logging.getLogger(__name__)

ResponseHandler = Callable[[FeedResponse], Awaitable[None]]
# (url without the key, HTTP status, the whole body, why it was refused)
BadResponseHook = Callable[[str, int, bytes, str], Awaitable[None]]
CurrentHook = Callable[[float], Awaitable[None]]


class PollOutcome(enum.StrEnum):
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    NOT_MODIFIED = "not_modified"
    BAD_RESPONSE = "bad_response"
    FAILED = "failed"


FAILED_OUTCOMES = frozenset({PollOutcome.BAD_RESPONSE, PollOutcome.FAILED})
CURRENT_OUTCOMES = frozenset({PollOutcome.CHANGED, PollOutcome.UNCHANGED, PollOutcome.NOT_MODIFIED})


class CircuitState(enum.IntEnum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


@dataclass(frozen=True)
class PollPolicy:
    """How one feed is polled: its interval, when it counts as stale, its circuit breaker."""

    interval_seconds: float
    # A feed is stale after this many (quota-stretched) intervals without a good poll...
    stale_after_intervals: float = 3.0
    # ...or after this many failed polls in a row.
    stale_after_failures: int = 3
    circuit_failure_threshold: int = 5
    circuit_cool_down_seconds: float = 300.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass(frozen=True)
class FeedHealth:
    feed: str
    last_success_at: float | None
    last_change_at: float | None
    consecutive_failures: int
    last_error: str | None
    circuit: CircuitState
    interval_seconds: float
    quota_exhausted: bool
    stale: bool


class ConnectorMetrics:
    """The pollers' Prometheus metrics, registered into the worker's or the connector
    process's registry. ``stale`` is computed at scrape time, so it turns on while a
    poller is still waiting for a provider that stopped answering."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.polls = Counter(
            "streamapp_connector_polls",
            "Polls by feed and outcome: changed, unchanged (same body), not_modified (304), "
            "bad_response (the parser refused the body) or failed (no usable response).",
            ["feed", "outcome"],
            registry=registry,
        )
        self.retries = Counter(
            "streamapp_connector_retries",
            "Requests retried within a poll, by feed and reason (timeout, connection, http_N).",
            ["feed", "reason"],
            registry=registry,
        )
        self.consecutive_failures = Gauge(
            "streamapp_connector_consecutive_failures",
            "Failed polls in a row, by feed (0 after a good poll).",
            ["feed"],
            registry=registry,
        )
        self.last_success = Gauge(
            "streamapp_connector_last_success_timestamp_seconds",
            "Unix time of the feed's last good poll (new, unchanged or not modified): its "
            "heartbeat.",
            ["feed"],
            registry=registry,
        )
        self.last_change = Gauge(
            "streamapp_connector_last_change_timestamp_seconds",
            "Unix time the feed last answered with a body different from the one before.",
            ["feed"],
            registry=registry,
        )
        self.circuit = Gauge(
            "streamapp_connector_circuit_state",
            "The feed's circuit breaker: 0 closed, 1 half-open (probing), 2 open.",
            ["feed"],
            registry=registry,
        )
        self.interval = Gauge(
            "streamapp_connector_interval_seconds",
            "The feed's polling interval now, stretched when the quota runs low.",
            ["feed"],
            registry=registry,
        )
        self.quota_remaining = Gauge(
            "streamapp_connector_quota_remaining",
            "Requests the API key has left until the quota resets (x-requests-remaining).",
            ["provider"],
            registry=registry,
        )
        self.quota_used = Gauge(
            "streamapp_connector_quota_used",
            "Requests used since the quota reset (x-requests-used).",
            ["provider"],
            registry=registry,
        )
        self.quota_last_cost = Gauge(
            "streamapp_connector_quota_last_cost",
            "Quota cost of the provider's last request (x-requests-last).",
            ["provider"],
            registry=registry,
        )
        self.quota_exhausted = Gauge(
            "streamapp_connector_quota_exhausted",
            "1 while the quota is down to its reserve: the provider's feeds wait for the reset.",
            ["provider"],
            registry=registry,
        )
        self._staleness = _StalenessCollector()
        registry.register(self._staleness)

    def watch(self, poller: FeedPoller) -> None:
        """Report ``poller``'s staleness (one poller per feed name at a time)."""
        self._staleness.pollers[poller.feed] = poller

    def forget(self, feed: str) -> None:
        """No longer report ``feed`` (a game whose summary is no longer followed)."""
        self._staleness.pollers.pop(feed, None)


class _StalenessCollector(Collector):
    def __init__(self) -> None:
        self.pollers: dict[str, FeedPoller] = {}  # feed -> its current poller

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield self._family()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = self._family()
        for poller in self.pollers.values():
            health = poller.health()
            family.add_metric([health.feed], 1.0 if health.stale else 0.0)
        yield family

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "streamapp_connector_stale",
            "1 when the feed has had no good poll for stale_after_intervals intervals or "
            "has failed stale_after_failures polls in a row.",
            labels=["feed"],
        )


class CircuitBreaker:
    """Opens after ``failure_threshold`` failed polls in a row; after ``cool_down_seconds``
    one probe goes through: its success closes the circuit, its failure opens it again."""

    def __init__(self, failure_threshold: int, cool_down_seconds: float, clock: Clock) -> None:
        self._failure_threshold = failure_threshold
        self._cool_down_seconds = cool_down_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at = 0.0
        self.state = CircuitState.CLOSED

    def seconds_until_probe(self) -> float:
        if self.state is not CircuitState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self._cool_down_seconds - self._clock())

    def begin_request(self) -> bool:
        """Whether the request about to go is the probe of an open circuit."""
        if self.state is CircuitState.OPEN:
            self.state = CircuitState.HALF_OPEN
        return self.state is CircuitState.HALF_OPEN

    def record_success(self) -> None:
        self._failures = 0
        self.state = CircuitState.CLOSED

    def record_failure(self) -> None:
        self._failures += 1
        if self.state is CircuitState.HALF_OPEN or self._failures >= self._failure_threshold:
            self.state = CircuitState.OPEN
            self._opened_at = self._clock()


@dataclass(frozen=True)
class QuotaReading:
    """The Odds API's quota headers of one response (absent ones are None)."""

    remaining: float | None
    used: float | None
    last_cost: float | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> QuotaReading:
        return cls(
            _number(headers.get("x-requests-remaining")),
            _number(headers.get("x-requests-used")),
            _number(headers.get("x-requests-last")),
        )


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class QuotaBudget:
    """The requests one API key may still make until its monthly reset, shared by all the
    feeds polling with that key.

    Each feed spends ``cost / interval`` requests per second; when the feeds together would
    spend more than the remaining requests (less ``reserve``) before the reset, every
    interval is stretched by the same factor. At the reserve the quota is exhausted: the
    feeds wait for the reset (kept for a manual request or a restart's catch-up).
    """

    def __init__(
        self,
        provider: str,
        *,
        reserve: int,
        reset_day_of_month: int = 1,
        clock: Clock = time.time,
    ) -> None:
        self.provider = provider
        self._reserve = reserve
        self._reset_day = reset_day_of_month
        self._clock = clock
        self._remaining: float | None = None
        self._spend_per_second: dict[str, float] = {}

    def record(self, feed: str, reading: QuotaReading, interval_seconds: float) -> None:
        if reading.remaining is not None:
            self._remaining = reading.remaining
        if reading.last_cost is not None:
            self._spend_per_second[feed] = reading.last_cost / interval_seconds
        else:
            self._spend_per_second.setdefault(feed, 1.0 / interval_seconds)

    @property
    def exhausted(self) -> bool:
        return self._remaining is not None and self._remaining <= self._reserve

    def stretch_factor(self) -> float:
        """How much longer than configured every interval must be to last until the reset."""
        if self._remaining is None or self.exhausted:
            return 1.0
        needed = sum(self._spend_per_second.values()) * self.seconds_until_reset()
        return max(1.0, needed / (self._remaining - self._reserve))

    def seconds_until_reset(self) -> float:
        now = datetime.fromtimestamp(self._clock(), UTC)
        reset = self._reset_in(now.year, now.month)
        if reset <= now:
            year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
            reset = self._reset_in(year, month)
        return (reset - now).total_seconds()

    def _reset_in(self, year: int, month: int) -> datetime:
        day = min(self._reset_day, calendar.monthrange(year, month)[1])
        return datetime(year, month, day, tzinfo=UTC)


class FeedPoller:
    """Polls one endpoint until cancelled and hands every new body to ``on_response``.

    ``on_response`` may raise one of ``format_errors`` for a body it cannot parse: the poll
    counts as ``bad_response``, the body goes to ``on_bad_response`` and the same body is
    not handed over again. Any other exception of ``on_response`` (a broker away) fails the
    poll without remembering the body, so the next poll hands it over again.

    ``on_current`` is told the reception time of every answer that is the endpoint's
    current state, handled: a new body, the same body again, or not modified (a refused
    body is none); it fails the poll if it raises.
    """

    def __init__(
        self,
        endpoint: FeedEndpoint,
        session: aiohttp.ClientSession,
        on_response: ResponseHandler,
        *,
        policy: PollPolicy,
        limiter: RateLimiter,
        metrics: ConnectorMetrics,
        format_errors: tuple[type[Exception], ...],
        on_bad_response: BadResponseHook | None = None,
        on_current: CurrentHook | None = None,
        quota: QuotaBudget | None = None,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.endpoint = endpoint
        self._on_response = on_response
        self._on_bad_response = on_bad_response
        self._on_current = on_current
        self._format_errors = format_errors
        self._policy = policy
        self._quota = quota
        self._metrics = metrics
        self._clock = clock
        self._sleep = sleep
        self._fetcher = FeedFetcher(
            session,
            endpoint,
            limiter,
            policy.retry,
            on_retry=self._count_retry,
            clock=clock,
            sleep=sleep,
        )
        self._breaker = CircuitBreaker(
            policy.circuit_failure_threshold, policy.circuit_cool_down_seconds, clock
        )
        self._conditional_headers: dict[str, str] = {}
        self._body_digest: bytes | None = None
        self._body_refused = False
        self._watching_since = clock()
        self._last_success_at: float | None = None
        self._last_change_at: float | None = None
        self._consecutive_failures = 0
        self._last_error: str | None = None
        self._was_stale = False
        metrics.watch(self)

    def __repr__(self) -> str:
        return f"FeedPoller({self.endpoint.name!r}, {self.endpoint.public_url!r})"

    @property
    def feed(self) -> str:
        return self.endpoint.name

    async def run(self) -> None:
        """Poll until cancelled (cancelling it is the clean way to stop)."""
        logger.info("%s: polling %s", self.feed, self.endpoint.public_url)
        try:
            while True:
                await self.poll_once()
                await self._sleep(self.seconds_until_next_poll())
        except asyncio.CancelledError:
            logger.info("%s: stopped", self.feed)
            raise

    def seconds_until_next_poll(self) -> float:
        if self._quota is not None and self._quota.exhausted:
            return self._quota.seconds_until_reset()
        return max(self.interval_seconds(), self._breaker.seconds_until_probe())

    def interval_seconds(self) -> float:
        stretch = self._quota.stretch_factor() if self._quota is not None else 1.0
        return self._policy.interval_seconds * stretch

    async def poll_once(self) -> PollOutcome:
        probing = self._breaker.begin_request()
        self._metrics.circuit.labels(self.feed).set(self._breaker.state)
        outcome = await self._poll(probing)
        self._metrics.polls.labels(self.feed, outcome.value).inc()
        self._settle(outcome)
        return outcome

    def health(self) -> FeedHealth:
        interval = self.interval_seconds()
        since = self._last_success_at or self._watching_since
        quiet_too_long = self._clock() - since > self._policy.stale_after_intervals * interval
        failing = self._consecutive_failures >= self._policy.stale_after_failures
        return FeedHealth(
            feed=self.feed,
            last_success_at=self._last_success_at,
            last_change_at=self._last_change_at,
            consecutive_failures=self._consecutive_failures,
            last_error=self._last_error,
            circuit=self._breaker.state,
            interval_seconds=interval,
            quota_exhausted=self._quota is not None and self._quota.exhausted,
            stale=quiet_too_long or failing,
        )

    async def _poll(self, probing: bool) -> PollOutcome:
        try:
            response = await self._fetcher.fetch(self._conditional_headers, retry=not probing)
        except FetchError as error:
            self._last_error = str(error)
            logger.warning("%s: poll failed: %s", self.feed, error)
            return PollOutcome.FAILED
        self._read_quota(response)
        if response.not_modified:
            outcome = self._repeated(PollOutcome.NOT_MODIFIED)
        elif (digest := hashlib.sha256(response.body).digest()) == self._body_digest:
            outcome = self._repeated(PollOutcome.UNCHANGED)
        else:
            outcome = await self._handle(response, digest)
        if outcome in CURRENT_OUTCOMES and self._on_current is not None:
            try:
                await self._on_current(response.received_at)
            except Exception:
                logger.exception("%s: telling that the feed is current failed", self.feed)
                self._last_error = "the current-answer handler failed"
                return PollOutcome.FAILED
        return outcome

    async def _handle(self, response: FeedResponse, digest: bytes) -> PollOutcome:
        """A new body to ``on_response``: its outcome."""
        try:
            await self._on_response(response)
        except self._format_errors as error:
            reason = self.endpoint.redact(str(error))
            await self._refuse(response, reason)
            outcome = PollOutcome.BAD_RESPONSE
        except Exception:
            # Not the body's fault (e.g. the broker is away): forget nothing, fetch it again.
            logger.exception("%s: handling a response failed", self.feed)
            self._last_error = "the response handler failed"
            return PollOutcome.FAILED
        else:
            outcome = PollOutcome.CHANGED
        self._remember(response, digest, refused=outcome is PollOutcome.BAD_RESPONSE)
        return outcome

    def _repeated(self, outcome: PollOutcome) -> PollOutcome:
        """The same body as last time, so the same verdict: a refused body stays refused."""
        return PollOutcome.BAD_RESPONSE if self._body_refused else outcome

    async def _refuse(self, response: FeedResponse, reason: str) -> None:
        self._last_error = f"bad response: {reason}"
        logger.warning(
            "%s: bad response from %s (%d, %d bytes): %s",
            self.feed,
            response.url,
            response.status,
            len(response.body),
            reason,
        )
        if self._on_bad_response is not None:
            await self._on_bad_response(response.url, response.status, response.body, reason)

    def _remember(self, response: FeedResponse, digest: bytes, *, refused: bool) -> None:
        self._body_digest = digest
        self._body_refused = refused
        self._last_change_at = response.received_at
        self._metrics.last_change.labels(self.feed).set(response.received_at)
        validators = {"ETag": "If-None-Match", "Last-Modified": "If-Modified-Since"}
        self._conditional_headers = {
            request_header: response.headers[response_header]
            for response_header, request_header in validators.items()
            if response_header in response.headers
        }

    def _read_quota(self, response: FeedResponse) -> None:
        if self._quota is None:
            return
        reading = QuotaReading.from_headers(response.headers)
        self._quota.record(self.feed, reading, self._policy.interval_seconds)
        provider = self._quota.provider
        for gauge, value in (
            (self._metrics.quota_remaining, reading.remaining),
            (self._metrics.quota_used, reading.used),
            (self._metrics.quota_last_cost, reading.last_cost),
        ):
            if value is not None:
                gauge.labels(provider).set(value)
        self._metrics.quota_exhausted.labels(provider).set(1 if self._quota.exhausted else 0)
        if self._quota.exhausted:
            logger.warning(
                "%s: the %s quota is down to %s requests; waiting %.0fs for its reset",
                self.feed,
                provider,
                reading.remaining,
                self._quota.seconds_until_reset(),
            )

    def _settle(self, outcome: PollOutcome) -> None:
        """Health, circuit and metrics after a poll."""
        state_before = self._breaker.state
        if outcome in FAILED_OUTCOMES:
            self._consecutive_failures += 1
            self._breaker.record_failure()
        else:
            self._consecutive_failures = 0
            self._last_error = None
            self._last_success_at = self._clock()
            self._breaker.record_success()
            self._metrics.last_success.labels(self.feed).set(self._last_success_at)
        state = self._breaker.state
        if state is not state_before:
            logger.warning("%s: circuit %s", self.feed, state.name.lower().replace("_", "-"))
        self._metrics.circuit.labels(self.feed).set(state)
        self._metrics.consecutive_failures.labels(self.feed).set(self._consecutive_failures)
        self._metrics.interval.labels(self.feed).set(self.interval_seconds())
        stale = self.health().stale
        if stale != self._was_stale:
            if stale:
                logger.warning("%s: stale (%s)", self.feed, self._last_error or "no good poll")
            else:
                logger.info("%s: fresh again", self.feed)
            self._was_stale = stale

    def _count_retry(self, error: TransientFetchError) -> None:
        self._metrics.retries.labels(self.feed, error.reason).inc()
