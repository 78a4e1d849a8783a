"""The async SFT client: authentication, rate budget, retries and typed results.

One :class:`SFTClient` per process (or per test) talks to the real platform or to the simulator
(``transport=httpx.ASGITransport(app)``); the code path is the same. Behaviour follows
docs/sft-platform.md:

* **Auth** (docs/sft-platform.md#authentication, docs/sft-platform.md#token-expiry): log in
  lazily; keep the access token in memory; refresh it with ``GET RefreshToken`` (refresh token
  in ``X-Authorization``) once 80 % of its lifetime has passed (JWT ``exp``/``iat`` when
  readable, else the 15 min default). A rejected
  token, either HTTP 401 or HTTP 200 with ``resultParam.resultCode "401"``, triggers one
  transparent refresh (or re-login) and one replay: the platform rejected the request, so
  replaying it is safe. One ``asyncio.Lock`` makes concurrent callers share a single login.
* **Rate limit** (docs/sft-platform.md#rate-limit): every request, login included, first
  awaits the shared :class:`~travelsim.sft.ratelimit.RateBudget` with the caller's
  :class:`Priority`. A rate-limited answer (HTTP 429, or an HTTP 200 failure envelope whose
  ``resultDescription`` says "rate limit": ``transport.is_rate_limited``) pauses the budget
  (exponential back-off, or ``Retry-After``) and resends the *same* request: a rejected
  request was not processed, so this is safe for POSTs too.
* **Timeouts and retries** (docs/sft-platform.md#timeouts-and-retries): 30 s by default, 180 s
  for the long operations of ``wire`` (``long_timeout``). Reads (GET) are retried on
  connection errors, timeouts and 5xx with bounded exponential back-off (tenacity).
  State-changing calls (POST/PATCH) are never resent after they may have reached the platform:
  a timeout, dropped connection, 5xx, unparseable 2xx body or a 10239/10240 "verify completion"
  code raises :class:`~travelsim.sft.errors.SFTOutcomeUnknown`; the caller re-reads state.
* **Logs** carry operation, status, result code, attempt and timing; never tokens, passwords,
  request/response bodies or matching IDs.

The pieces live apart: :mod:`travelsim.sft.transport` (rate budget, timeouts, retries, 429),
:mod:`travelsim.sft.auth` (login, refresh, token lifetimes), :mod:`travelsim.sft.operations`
(the typed operations :class:`SFTClient` inherits). This module ties them together and reads
each envelope: either 401 shape, accepted op codes, "verify completion" codes, business errors.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self

import httpx
from pydantic import SecretStr

from travelsim import metrics
from travelsim.sft import parsing, wire
from travelsim.sft.auth import (
    MAX_REAUTHENTICATIONS,
    REFRESH_AT_FRACTION,
    Authenticator,
    Token,
    TokenRejected,
)
from travelsim.sft.errors import (
    SFTAuthError,
    SFTBusinessError,
    SFTError,
    SFTMalformedOutcomeUnknown,
    SFTMalformedResponse,
    SFTOutcomeUnknown,
)
from travelsim.sft.models import Priority
from travelsim.sft.operations import SFTOperations
from travelsim.sft.ratelimit import RateBudget
from travelsim.sft.transport import RetryPolicy, Transient, Transport, description_or_none

#: The two auth constants are re-exported from here, where they were first defined (the docs and
#: ``errors.py`` name them).
__all__ = ["MAX_REAUTHENTICATIONS", "REFRESH_AT_FRACTION", "SFTClient"]

logger = logging.getLogger(__name__)


class SFTClient(SFTOperations):
    """Async client for the SFT operations the portal uses. Use as an async context manager
    (or call :meth:`aclose`).

    Args:
        base_url: e.g. ``https://sft.bics.com`` (paths from ``wire`` are appended).
        username, password: API user credentials (password kept as ``SecretStr``).
        rate_budget: the process-wide budget (``factory.get_rate_budget``); shared by every
            client and caller of the account.
        transport: optional httpx transport (``httpx.ASGITransport(app)`` for the in-process
            simulator, a mock transport in tests).
        timeout / long_timeout: seconds per request (30 / 180,
            docs/sft-platform.md#timeouts-and-retries).
        target_account_id: reseller "Support Access" child account, sent at login
            (docs/sft-platform.md#authentication).
        addon_details_path: path of Get Endpoint Add-on Details (inferred, not published:
            docs/sft-platform.md#get-endpoint-add-on-details; setting SFT_ADDON_DETAILS_PATH).
        platform_timezone: IANA zone (or ``tzinfo``) of the platform's date-times, converted
            to UTC on read (docs/sft-platform.md#conventions; setting SFT_PLATFORM_TIMEZONE).
            Raises ``ValueError`` for an unknown zone.
        retry_attempts: total attempts for retryable failures (GETs, or requests that never
            left the client).
        retry_backoff / retry_backoff_max: exponential back-off (seconds) between them.
        rate_limit_backoff / rate_limit_backoff_max: budget pause after the n-th consecutive 429
            of one request: ``min(backoff * 2**(n-1), max)`` (``Retry-After`` wins if larger).
        max_rate_limited: consecutive 429s on one request before :class:`SFTRateLimited`.
        clock / wall_clock: injectable monotonic and epoch clocks (token scheduling).
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str | SecretStr,
        *,
        rate_budget: RateBudget,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        long_timeout: float = 180.0,
        target_account_id: str | None = None,
        addon_details_path: str = wire.DEFAULT_ADDON_DETAILS_PATH,
        platform_timezone: str | dt.tzinfo = "UTC",
        retry_attempts: int = 4,
        retry_backoff: float = 0.5,
        retry_backoff_max: float = 8.0,
        rate_limit_backoff: float = 1.0,
        rate_limit_backoff_max: float = 16.0,
        max_rate_limited: int = 10,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if retry_attempts < 1:
            raise ValueError("retry_attempts must be at least 1")
        self.base_url = base_url
        self._budget = rate_budget
        self._addon_details_path = addon_details_path
        self._platform_tz = parsing.platform_zone(platform_timezone)
        policy = RetryPolicy(
            attempts=retry_attempts,
            backoff=retry_backoff,
            backoff_max=retry_backoff_max,
            rate_limit_backoff=rate_limit_backoff,
            rate_limit_backoff_max=rate_limit_backoff_max,
            max_rate_limited=max_rate_limited,
        )
        self._transport = Transport(
            base_url,
            rate_budget=rate_budget,
            transport=transport,
            timeout=timeout,
            long_timeout=long_timeout,
            policy=policy,
            clock=clock,
        )
        self._auth = Authenticator(
            self._transport,
            username,
            password,
            target_account_id=target_account_id,
            clock=clock,
            wall_clock=wall_clock,
        )

    @property
    def announced_tps(self) -> float | None:
        """Last ``X-Rate-Limit-TPS`` the platform announced (informational)."""
        return self._transport.announced_tps

    @property
    def login_count(self) -> int:
        """Logins actually sent (for metrics and tests)."""
        return self._auth.login_count

    @property
    def refresh_count(self) -> int:
        """Token refreshes actually sent (for metrics and tests)."""
        return self._auth.refresh_count

    async def sign_in(self) -> None:
        """Log in now (``login``, docs/sft-platform.md#login), whatever tokens are held: used
        by ``sft check`` to see the login answer. Raises SFTAuthError (credentials refused),
        SFTMalformedResponse, SFTTransportError."""
        await self._auth.login_now()

    async def renew_with_refresh_token(self) -> bool:
        """Renew the access token with the refresh token now (``RefreshToken``,
        docs/sft-platform.md#refreshtoken); ``False`` when no refresh token is held (the
        login gave none). Raises SFTAuthError (refresh refused), SFTMalformedResponse,
        SFTTransportError."""
        return await self._auth.refresh_now()

    @property
    def _access(self) -> Token | None:
        """The current access token (kept in memory only; its repr never shows the value)."""
        return self._auth.access

    def __repr__(self) -> str:
        return f"SFTClient(base_url={self.base_url!r}, username={self._auth.username!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connection pool. Tokens are dropped."""
        self._auth.forget()
        await self._transport.aclose()

    # ======================================================================================
    # Request pipeline
    # ======================================================================================
    async def _call(
        self,
        op: wire.Operation,
        *,
        priority: Priority,
        path: str | None = None,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        accept_codes: set[str] | frozenset[str] = frozenset(),
    ) -> parsing.Envelope:
        """An authorised request with the retry policy of the module docstring; returns the
        envelope of a success (``resultCode "0"`` or an op code in ``accept_codes``)."""

        async def attempt() -> parsing.Envelope:
            return await self._authorised(
                op, path or op.path, priority, params, body, accept_codes=accept_codes
            )

        try:
            env = await self._transport.with_retries(op, attempt)
        except SFTError as exc:
            metrics.SFT_CALLS.labels(op.name, exc.result_code or type(exc).__name__).inc()
            raise
        metrics.SFT_CALLS.labels(op.name, env.op_code or "0").inc()
        return env

    async def _authorised(
        self,
        op: wire.Operation,
        path: str,
        priority: Priority,
        params: Mapping[str, Any] | None,
        body: Any,
        *,
        accept_codes: set[str] | frozenset[str],
    ) -> parsing.Envelope:
        reauths = 0
        while True:
            token = await self._auth.access_token()
            try:
                return await self._exchange_envelope(
                    op, path, priority, params, body, token, accept_codes
                )
            except TokenRejected as rejected:
                if reauths >= MAX_REAUTHENTICATIONS:
                    raise SFTAuthError(
                        op.name,
                        rejected.http_status,
                        wire.CODE_TOKEN_INVALID,
                        "token rejected again after re-authentication",
                    ) from None
                reauths += 1
                logger.info(
                    "sft token rejected; re-authenticating and replaying",
                    extra={"sft_operation": op.name, "http_status": rejected.http_status},
                )
                await self._auth.token_rejected(token)

    async def _exchange_envelope(
        self,
        op: wire.Operation,
        path: str,
        priority: Priority,
        params: Mapping[str, Any] | None,
        body: Any,
        token: str,
        accept_codes: set[str] | frozenset[str],
    ) -> parsing.Envelope:
        """One authorised exchange, its envelope read: raises TokenRejected (either 401 shape),
        Transient (unreadable answer to a read), SFTMalformedOutcomeUnknown (unreadable 2xx to a
        state-changing call), SFTMalformedResponse (any other unreadable answer),
        SFTOutcomeUnknown (10239/10240 on a state-changing call), SFTBusinessError (any other
        non-zero code not in ``accept_codes``)."""
        response = await self._transport.exchange(op, path, priority, params, body, bearer=token)
        status = response.status_code
        if status == httpx.codes.UNAUTHORIZED:
            description = description_or_none(op, response)
            raise TokenRejected(status, description)
        try:
            data = parsing.decode_json(op.name, status, response.content)
            env = parsing.parse_envelope(op.name, status, data, tz=self._platform_tz)
        except SFTMalformedResponse as exc:
            if op.state_changing and status < 300:
                raise SFTMalformedOutcomeUnknown(
                    op.name, status, exc.result_code, exc.result_description
                ) from None
            if not op.state_changing:
                raise Transient(exc) from None  # a read is safe to ask again
            raise
        if env.token_rejected and not env.ok:
            raise TokenRejected(status, env.description)
        self._log_result(op, status, env.op_code)
        if env.ok or (env.op_code is not None and env.op_code in accept_codes):
            return env
        if op.state_changing and env.op_code in wire.CODES_VERIFY_COMPLETION:
            raise SFTOutcomeUnknown(op.name, status, env.op_code, env.description)
        raise SFTBusinessError(op.name, status, env.op_code, env.description)

    @staticmethod
    def _log_result(op: wire.Operation, status: int, op_code: str | None) -> None:
        logger.debug(
            "sft result",
            extra={"sft_operation": op.name, "http_status": status, "result_code": op_code},
        )
