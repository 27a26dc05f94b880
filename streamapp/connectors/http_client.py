"""One conditional HTTP GET of a feed, with retries, a shared rate limit and a hidden API key.

A :class:`FeedFetcher` sends the request of one :class:`FeedEndpoint`. Timeouts, broken
connections, 408, 429 and 5xx are retried with exponential backoff and jitter (tenacity),
never sooner than the provider's ``Retry-After``; any other 4xx fails at once. Every attempt
first takes its turn from the provider's :class:`RateLimiter`, which a ``Retry-After`` also
holds back, so the provider's other feeds wait too. The API key travels only in the request
itself: URLs, messages and errors carry :attr:`FeedEndpoint.public_url` or redacted text.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import quote, quote_plus, urlencode

import aiohttp
from multidict import CIMultiDictProxy
from pydantic import SecretStr
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)
from yarl import URL

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

REDACTED = "***"
# Statuses that say "try again later" rather than "this request is wrong".
RETRYABLE_CLIENT_STATUSES = frozenset({408, 429})
# Enough of a refused response's body to tell why (e.g. the Odds API's "invalid key" message).
REJECTION_EXCERPT_CHARS = 200


class FetchError(Exception):
    """A request that gave no usable response. Its message never contains the API key."""

    def __init__(self, reason: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


class TransientFetchError(FetchError):
    """Worth retrying: a timeout, a broken connection, a 429 or a 5xx."""

    def __init__(
        self,
        reason: str,
        message: str,
        status: int | None = None,
        retry_after_seconds: float | None = None,
    ) -> None:
        super().__init__(reason, message, status)
        self.retry_after_seconds = retry_after_seconds


class RequestRejectedError(FetchError):
    """A 4xx other than 408/429: the same request would be refused again."""


@dataclass(frozen=True)
class FeedEndpoint:
    """The URL of one feed; the API key goes in as the query parameter ``api_key_param``."""

    name: str
    url: str
    params: Mapping[str, str] = field(default_factory=dict)
    api_key: SecretStr | None = None
    api_key_param: str = "apiKey"

    def request_params(self) -> dict[str, str]:
        if self.api_key is None:
            return dict(self.params)
        return {**self.params, self.api_key_param: self.api_key.get_secret_value()}

    @property
    def public_url(self) -> str:
        """The URL as logs, errors and dead letters show it: every parameter but the key."""
        if not self.params:
            return self.url
        separator = "&" if "?" in self.url else "?"
        return f"{self.url}{separator}{urlencode(self.params)}"

    def redact(self, text: str) -> str:
        """``text`` with the API key, raw or URL-encoded, replaced by ``***``."""
        if self.api_key is None:
            return text
        secret = self.api_key.get_secret_value()
        # As typed, as urllib encodes it, and as yarl puts it in aiohttp's request URLs.
        in_yarl_query = URL.build(query={"k": secret}).raw_query_string.removeprefix("k=")
        for form in {secret, quote(secret, safe=""), quote_plus(secret), in_yarl_query}:
            text = text.replace(form, REDACTED)
        return text


@dataclass(frozen=True)
class FeedResponse:
    """A 2xx response read whole, or a 304 (``body`` empty): what a feed's parser receives."""

    feed: str
    url: str
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    received_at: float

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True)
class RetryPolicy:
    """Per request: its timeout; per poll: the attempts (the first included) and the
    backoff before attempt n, ``base * 2**(n-2)`` plus up to ``base`` of jitter, capped."""

    timeout_seconds: float = 10.0
    max_attempts: int = 4
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 60.0


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delta-seconds or HTTP-date form)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        until = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, until.timestamp() - now)


class RateLimiter:
    """Spaces the requests of all feeds of one provider: ``burst`` at once, then one per
    ``1 / requests_per_second`` (a token bucket kept as the time the next turn is due)."""

    def __init__(
        self,
        requests_per_second: float,
        burst: int = 1,
        *,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._spacing = 1.0 / requests_per_second
        self._burst_allowance = (burst - 1) * self._spacing
        self._clock = clock
        self._sleep = sleep
        self._next_turn_at = float("-inf")

    async def acquire(self) -> None:
        now = self._clock()
        # The turn is booked before sleeping, so concurrent callers queue up in order.
        self._next_turn_at = max(self._next_turn_at, now)
        wait = self._next_turn_at - self._burst_allowance - now
        self._next_turn_at += self._spacing
        if wait > 0:
            await self._sleep(wait)

    def hold_back(self, seconds: float) -> None:
        """No request before ``seconds`` from now (the provider's ``Retry-After``)."""
        self._next_turn_at = max(
            self._next_turn_at, self._clock() + seconds + self._burst_allowance
        )


RetryListener = Callable[[TransientFetchError], None]


class FeedFetcher:
    """Fetches one endpoint: conditional headers in, a :class:`FeedResponse` or a
    :class:`FetchError` out, after the retries the :class:`RetryPolicy` allows."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        endpoint: FeedEndpoint,
        limiter: RateLimiter,
        policy: RetryPolicy,
        *,
        on_retry: RetryListener,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._session = session
        self._endpoint = endpoint
        self._limiter = limiter
        self._policy = policy
        self._on_retry = on_retry
        self._clock = clock
        self._sleep = sleep
        self._backoff = wait_exponential_jitter(
            multiplier=policy.backoff_base_seconds,
            max=policy.backoff_max_seconds,
            jitter=policy.backoff_base_seconds,
        )

    async def fetch(self, headers: Mapping[str, str], *, retry: bool = True) -> FeedResponse:
        """One response; with ``retry=False`` a single attempt (a circuit breaker's probe)."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._policy.max_attempts if retry else 1),
            wait=self._wait_before_retry,
            retry=retry_if_exception_type(TransientFetchError),
            before_sleep=self._report_retry,
            sleep=self._sleep,
            reraise=True,
        )
        return await retrying(self._attempt, headers)

    def _wait_before_retry(self, state: RetryCallState) -> float:
        error = state.outcome.exception()
        return max(self._backoff(state), error.retry_after_seconds or 0.0)

    def _report_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception()
        logger.info(
            "%s: %s; retrying in %.1fs", self._endpoint.name, error, state.next_action.sleep
        )
        self._on_retry(error)

    async def _attempt(self, headers: Mapping[str, str]) -> FeedResponse:
        await self._limiter.acquire()
        url = self._endpoint.public_url
        try:
            async with self._session.get(
                self._endpoint.url,
                params=self._endpoint.request_params(),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self._policy.timeout_seconds),
            ) as response:
                body = await response.read()
        # `from None`: aiohttp's own exception may print the URL with the key in it.
        except TimeoutError:
            raise TransientFetchError(
                "timeout", f"no response from {url} within {self._policy.timeout_seconds}s"
            ) from None
        except aiohttp.ClientError as error:
            detail = self._endpoint.redact(f"{type(error).__name__}: {error}")
            raise TransientFetchError("connection", f"{url}: {detail}") from None
        return self._checked(response, body)

    def _checked(self, response: aiohttp.ClientResponse, body: bytes) -> FeedResponse:
        status = response.status
        url = self._endpoint.public_url
        if status == 304 or 200 <= status < 300:
            return FeedResponse(
                self._endpoint.name, url, status, response.headers, body, self._clock()
            )
        if status >= 500 or status in RETRYABLE_CLIENT_STATUSES:
            wait = retry_after_seconds(response.headers.get("Retry-After"), self._clock())
            if wait is not None:
                self._limiter.hold_back(wait)
            raise TransientFetchError(f"http_{status}", f"{url} answered {status}", status, wait)
        excerpt = self._endpoint.redact(
            body[:REJECTION_EXCERPT_CHARS].decode("utf-8", errors="replace")
        )
        raise RequestRejectedError(
            f"http_{status}", f"{url} refused the request ({status}): {excerpt}", status
        )
