"""The SFT client's transport: one logical HTTP request, the rate budget, timeouts, retries.

Behaviour follows docs/sft-platform.md:

* **Rate limit** (docs/sft-platform.md#rate-limit): every request, login included, first
  awaits the shared :class:`~travelsim.sft.ratelimit.RateBudget` with the caller's
  :class:`~travelsim.sft.models.Priority`. A rate-limited answer pauses the budget
  (exponential back-off, or ``Retry-After``) and resends the *same* request. Two shapes count
  as rate-limited (:func:`is_rate_limited`): HTTP 429 (published) and an HTTP 2xx failure
  envelope whose ``resultDescription`` contains "rate limit" in any case (the shape a public
  production client detects besides 429; not published). Resending is safe for POSTs too:
  the published rate-limit page says a request over the account's TPS is answered with 429,
  i.e. rejected, and a rate limiter rejects before the request is processed, so nothing was
  changed (that last step is inferred; docs/sft-platform.md#rate-limit).
* **Timeouts and retries** (docs/sft-platform.md#timeouts-and-retries): 30 s by default, 180 s
  for the long operations of ``wire`` (``long_timeout``). Reads (GET) are retried on
  connection errors, timeouts and 5xx with bounded exponential back-off (tenacity).
  State-changing calls (POST/PATCH) are never resent after they may have reached the platform:
  a timeout, dropped connection or 5xx raises :class:`~travelsim.sft.errors.SFTOutcomeUnknown`.
* **Logs** carry operation, status, attempt and timing; never tokens, passwords,
  request/response bodies or matching IDs.

Nothing here reads tokens or envelopes beyond an error description: authentication lives in
:mod:`travelsim.sft.auth`, the operations in :mod:`travelsim.sft.operations`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from travelsim import metrics
from travelsim.sft import parsing, wire
from travelsim.sft.errors import (
    SFTError,
    SFTMalformedResponse,
    SFTOutcomeUnknown,
    SFTRateLimited,
    SFTTransportError,
)
from travelsim.sft.models import Priority
from travelsim.sft.ratelimit import RateBudget

__all__ = ["RetryPolicy", "Transient", "Transport", "description_or_none", "is_rate_limited"]

#: Logged as the SFT client (one logger name for the whole client, as before the split).
logger = logging.getLogger("travelsim.sft.client")

#: Extra seconds on top of the per-request timeout for the overall asyncio deadline.
DEADLINE_GRACE_S = 1.0

_T = TypeVar("_T")


class Transient(Exception):
    """A failure worth retrying (idempotent request, or one that never reached the server)."""

    def __init__(self, error: SFTError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry (all durations in seconds).

    ``attempts``: total attempts for retryable failures (GETs, or requests that never left the
    client); ``backoff``/``backoff_max``: exponential back-off between them.
    ``rate_limit_backoff``/``rate_limit_backoff_max``: budget pause after the n-th consecutive
    429 of one request: ``min(backoff * 2**(n-1), max)`` (``Retry-After`` wins if larger).
    ``max_rate_limited``: consecutive 429s on one request before :class:`SFTRateLimited`.
    """

    attempts: int = 4
    backoff: float = 0.5
    backoff_max: float = 8.0
    rate_limit_backoff: float = 1.0
    rate_limit_backoff_max: float = 16.0
    max_rate_limited: int = 10


def description_or_none(op: wire.Operation, response: httpx.Response) -> str | None:
    """``resultParam.resultDescription`` of ``response``'s envelope, or ``None`` if the body is
    not a readable envelope (never raises)."""
    try:
        env = parsing.parse_envelope(
            op.name,
            response.status_code,
            parsing.decode_json(op.name, response.status_code, response.content),
        )
    except SFTMalformedResponse:
        return None
    return env.description


def is_rate_limited(op: wire.Operation, response: httpx.Response) -> bool:
    """Whether ``response`` says "rate limited" (docs/sft-platform.md#rate-limit): HTTP 429
    (published), or an HTTP 2xx envelope with ``resultCode`` other than "0" whose
    ``resultParam.resultDescription`` contains :data:`wire.RATE_LIMIT_TEXT` in any case (what a
    public production client treats as a rate limit; e.g. ``{"Response": {"resultCode": "1",
    "resultParam": {"resultCode": "1", "resultDescription": "Rate limit exceeded"}}}``). A
    success envelope never counts, whatever its text: resending it could apply a change twice.
    Never raises."""
    status = response.status_code
    if status == httpx.codes.TOO_MANY_REQUESTS:
        return True
    if not 200 <= status < 300:
        return False
    if wire.RATE_LIMIT_TEXT.encode() not in response.content.lower():
        return False  # cheap test first: nearly every answer stops here
    try:
        env = parsing.parse_envelope(
            op.name, status, parsing.decode_json(op.name, status, response.content)
        )
    except SFTMalformedResponse:
        return False
    return not env.ok and wire.RATE_LIMIT_TEXT in (env.description or "").lower()


class Transport:
    """HTTP to one SFT base URL under the shared rate budget.

    Args:
        base_url: e.g. ``https://sft.bics.com`` (paths from ``wire`` are appended).
        rate_budget: the process-wide budget, awaited before every request.
        transport: optional httpx transport (in-process simulator, mock transport in tests).
        timeout / long_timeout: seconds per request (docs/sft-platform.md#timeouts-and-retries).
        policy: retry and 429 back-off (:class:`RetryPolicy`).
        clock: monotonic clock (seconds) for request timing.
    """

    def __init__(
        self,
        base_url: str,
        *,
        rate_budget: RateBudget,
        transport: httpx.AsyncBaseTransport | None,
        timeout: float,
        long_timeout: float,
        policy: RetryPolicy,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.budget = rate_budget
        self.timeout = float(timeout)
        self.long_timeout = float(long_timeout)
        self.policy = policy
        self._clock = clock
        self._http = httpx.AsyncClient(
            base_url=base_url,
            transport=transport,
            timeout=httpx.Timeout(self.timeout),
            follow_redirects=False,
        )
        #: Last ``X-Rate-Limit-TPS`` the platform announced (informational).
        self.announced_tps: float | None = None

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._http.aclose()

    async def with_retries(self, op: wire.Operation, fn: Callable[[], Awaitable[_T]]) -> _T:
        """Run ``fn`` up to ``policy.attempts`` times while it raises :class:`Transient`
        (exponential back-off with jitter); the last failure is raised as its ``SFTError``."""

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            logger.warning(
                "sft retry",
                extra={
                    "sft_operation": op.name,
                    "attempt": state.attempt_number,
                    "error": str(exc.error) if isinstance(exc, Transient) else repr(exc),
                },
            )

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.policy.attempts),
            wait=wait_exponential_jitter(
                initial=self.policy.backoff, max=self.policy.backoff_max, jitter=0.1
            ),
            retry=retry_if_exception_type(Transient),
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await fn()
        except Transient as exc:
            raise exc.error from exc.__cause__
        raise AssertionError("unreachable")  # pragma: no cover

    async def exchange(
        self,
        op: wire.Operation,
        path: str,
        priority: Priority,
        params: Mapping[str, Any] | None,
        body: Any,
        *,
        bearer: str | None,
    ) -> httpx.Response:
        """One logical HTTP request: waits for the budget, resends the same request when the
        answer is rate-limited (HTTP 429 or a "rate limit" failure envelope,
        :func:`is_rate_limited`; the budget is paused first), and classifies transport failures
        and 5xx. Returns any other response (2xx/4xx) for the caller to interpret.

        Raises :class:`Transient` (retryable: not sent, or a read that failed), SFTOutcomeUnknown
        (a state-changing request that may have been processed), SFTRateLimited (more than
        ``policy.max_rate_limited`` consecutive rate-limited answers).
        """
        headers = {
            wire.HEADER_REQUESTED_WITH: wire.REQUESTED_WITH_VALUE,
            wire.HEADER_CONTENT_TYPE: wire.CONTENT_TYPE_JSON,
            wire.HEADER_ACCEPT: wire.CONTENT_TYPE_JSON,
        }
        if bearer is not None:
            headers[wire.HEADER_AUTHORIZATION] = wire.BEARER_PREFIX + bearer
        timeout = self.long_timeout if op.long_timeout else self.timeout
        rate_limited = 0
        while True:
            waited = time.perf_counter()
            await self.budget.acquire(priority)
            metrics.SFT_RATE_WAIT.observe(time.perf_counter() - waited)
            started = self._clock()
            response = await self._send(op, path, params, body, headers, timeout)
            elapsed = self._clock() - started
            status = response.status_code
            self._note_rate_header(response)
            if is_rate_limited(op, response):
                metrics.SFT_RATE_LIMITED.labels(op.name).inc()
                rate_limited += 1
                if rate_limited > self.policy.max_rate_limited:
                    raise SFTRateLimited(
                        op.name, status, None, f"still rate limited after {rate_limited} tries"
                    )
                pause = self._rate_limit_pause(rate_limited, response)
                logger.warning(
                    "sft rate limited; pausing the budget and resending",
                    extra={
                        "sft_operation": op.name,
                        "http_status": status,
                        "try": rate_limited,
                        "pause_s": pause,
                    },
                )
                self.budget.penalize(pause)
                continue
            if status >= 500:
                description = description_or_none(op, response) or f"HTTP {status}"
                if op.state_changing:
                    logger.warning(
                        "sft outcome unknown (5xx)",
                        extra={"sft_operation": op.name, "http_status": status},
                    )
                    raise SFTOutcomeUnknown(op.name, status, None, description)
                raise Transient(SFTTransportError(op.name, status, None, description))
            logger.debug(
                "sft response",
                extra={
                    "sft_operation": op.name,
                    "http_status": status,
                    "elapsed_ms": round(elapsed * 1000),
                },
            )
            return response

    async def _send(
        self,
        op: wire.Operation,
        path: str,
        params: Mapping[str, Any] | None,
        body: Any,
        headers: dict[str, str],
        timeout_s: float,
    ) -> httpx.Response:
        """One HTTP round trip within ``timeout_s`` seconds (plus a grace for the asyncio
        deadline); transport failures become :class:`Transient` or SFTOutcomeUnknown."""
        try:
            async with asyncio.timeout(timeout_s + DEADLINE_GRACE_S):
                return await self._http.request(
                    op.method,
                    path,
                    params=dict(params) if params else None,
                    json=body,
                    headers=headers,
                    timeout=timeout_s,
                )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # The request never left the client: retrying is safe for every method.
            raise Transient(
                SFTTransportError(op.name, None, None, f"not sent: {type(exc).__name__}")
            ) from exc
        except (httpx.TimeoutException, TimeoutError) as exc:
            self._lost(op, f"no response within {timeout_s:g} s", exc)
        except httpx.TransportError as exc:
            self._lost(op, f"connection failed mid-request: {type(exc).__name__}", exc)

    @staticmethod
    def _lost(op: wire.Operation, why: str, exc: BaseException) -> NoReturn:
        """The request may have reached the platform but no (complete) answer came back."""
        if op.state_changing:
            logger.warning("sft outcome unknown", extra={"sft_operation": op.name, "why": why})
            raise SFTOutcomeUnknown(op.name, None, None, why) from exc
        raise Transient(SFTTransportError(op.name, None, None, why)) from exc

    def _rate_limit_pause(self, n: int, response: httpx.Response) -> float:
        policy = self.policy
        pause = min(policy.rate_limit_backoff * 2 ** (n - 1), policy.rate_limit_backoff_max)
        retry_after = response.headers.get(wire.HEADER_RETRY_AFTER)
        if retry_after:
            try:
                pause = max(pause, min(float(retry_after), policy.rate_limit_backoff_max))
            except ValueError:
                pass
        return pause

    def _note_rate_header(self, response: httpx.Response) -> None:
        value = response.headers.get(wire.HEADER_RATE_LIMIT_TPS)
        if value:
            try:
                self.announced_tps = float(value)
            except ValueError:
                pass
