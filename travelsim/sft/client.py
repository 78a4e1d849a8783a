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
  :class:`Priority`. An HTTP 429 pauses the budget (exponential back-off, or ``Retry-After``)
  and resends the *same* request: a 429 was not processed, so this is safe for POSTs too.
* **Timeouts and retries** (docs/sft-platform.md#timeouts-and-retries): 30 s by default, 180 s
  for the long operations of ``wire`` (``long_timeout``). Reads (GET) are retried on
  connection errors, timeouts and 5xx with bounded exponential back-off (tenacity).
  State-changing calls (POST/PATCH) are never resent after they may have reached the platform:
  a timeout, dropped connection, 5xx, unparseable 2xx body or a 10239/10240 "verify completion"
  code raises :class:`~travelsim.sft.errors.SFTOutcomeUnknown`; the caller re-reads state.
* **Logs** carry operation, status, result code, attempt and timing; never tokens, passwords,
  request/response bodies or matching IDs.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, Self

import httpx
from pydantic import SecretStr

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
    SFTMalformedOutcomeUnknown,
    SFTMalformedResponse,
    SFTOutcomeUnknown,
)
from travelsim.sft.models import (
    AddonDetail,
    DailyUsage,
    EndpointProfile,
    LifecycleResult,
    OperationResult,
    Priority,
    RatePlan,
    SimRecord,
    SubscribeResult,
)
from travelsim.sft.ratelimit import RateBudget
from travelsim.sft.transport import RetryPolicy, Transient, Transport, description_or_none

__all__ = ["MAX_REAUTHENTICATIONS", "REFRESH_AT_FRACTION", "SFTClient"]

logger = logging.getLogger(__name__)


class SFTClient:
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
            docs/sft-platform.md#get-endpoint-add-on-details).
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
    # Public operations
    # ======================================================================================
    async def fetch_sims(
        self,
        *,
        priority: Priority,
        status_id: int | None = wire.SIM_STATUS_ID_PRE_ACTIVE,
        attach_status_id: int | None = wire.SIM_ATTACH_STATUS_ID_ATTACHED,
        page: int = 1,
        per_page: int = 10,
    ) -> tuple[list[SimRecord], int]:
        """List SIMs: ``GET fetchSIM?simStatusId&simAttachStatusId&page&perPage``
        (docs/sft-platform.md#fetchsim, with its paging). Defaults select Pre-Active (12) +
        attached (1) SIMs, i.e. free stock. ``page`` is 1-based. ``None`` omits a filter.

        Returns ``(rows, total)``: ``total`` is ``totalCount`` (or the row count if absent).
        The platform gives the same "first free SIM" to concurrent callers: reserve locally.
        Raises SFTMalformedResponse, SFTTransportError, SFTAuthError, SFTRateLimited,
        SFTBusinessError (1359 "no data" is an empty page, not an error).
        """
        params: dict[str, str | int] = {wire.Q_PAGE: page, wire.Q_PER_PAGE: per_page}
        if status_id is not None:
            params[wire.Q_SIM_STATUS_ID] = status_id
        if attach_status_id is not None:
            params[wire.Q_SIM_ATTACH_STATUS_ID] = attach_status_id
        env = await self._call(
            wire.FETCH_SIM, priority=priority, params=params, accept_codes={wire.CODE_NO_DATA}
        )
        return parsing.parse_sim_page(env)

    async def find_sim(self, iccid: str, *, priority: Priority) -> SimRecord | None:
        """One SIM by ICCID: ``GET fetchSIM?iccid=`` (docs/sft-platform.md#fetchsim), including
        its activation code, SM-DP+ address and matching ID. ``None`` if unknown (only an exact
        ICCID match is returned). Raises as :meth:`fetch_sims`.
        """
        env = await self._call(
            wire.FETCH_SIM,
            priority=priority,
            params={wire.Q_ICCID: iccid},
            accept_codes={wire.CODE_NO_DATA},
        )
        rows, _ = parsing.parse_sim_page(env)
        return next((r for r in rows if r.iccid == iccid), None)

    async def activate_endpoint(self, endpoint_id: str, *, priority: Priority) -> LifecycleResult:
        """Pre-Active -> Active: ``POST EndPointActivation {Request:{endPointId}}``
        (docs/sft-platform.md#endpointactivation; 180 s). 5014 = activated; 2507 = already
        active, returned as success with ``already_active=True`` (so a retried provisioning
        step is idempotent).

        Raises SFTBusinessError (6420 no SIM linked, 9005 invalid transition, ...),
        SFTOutcomeUnknown (timeout/5xx/drop: re-read the SIM/profile status), SFTAuthError,
        SFTRateLimited, SFTMalformedResponse.
        """
        env = await self._call(
            wire.ENDPOINT_ACTIVATION,
            priority=priority,
            body={wire.REQUEST: {wire.ENDPOINT_ID: endpoint_id}},
            accept_codes={wire.CODE_ALREADY_ACTIVE},
        )
        return parsing.parse_lifecycle(
            env, endpoint_id, already_active=env.op_code == wire.CODE_ALREADY_ACTIVE
        )

    async def change_lifecycle(
        self,
        endpoint_id: str,
        lifecycle: Literal["A", "S"],
        reason: str = wire.LIFECYCLE_REASON_SYSTEM,
        *,
        priority: Priority,
    ) -> LifecycleResult:
        """``POST EndPointLifeCycleChange {Request:{endPointId, requestParam:{lifeCycle,
        reason}}}`` (docs/sft-platform.md#endpointlifecyclechange; 180 s). ``"A"`` activates
        (Pre-Active/Suspended -> Active), ``"S"`` suspends. ``reason`` "1" System, "2" Dunning,
        "3" CSR.

        Returns current/previous status when the platform reports them (5017/9003 = OK).
        Raises SFTBusinessError (9005 invalid transition), SFTOutcomeUnknown, SFTAuthError,
        SFTRateLimited, SFTMalformedResponse.
        """
        if lifecycle not in (wire.LIFECYCLE_ACTIVE, wire.LIFECYCLE_SUSPENDED):
            raise ValueError("lifecycle must be 'A' or 'S'")
        env = await self._call(
            wire.ENDPOINT_LIFECYCLE_CHANGE,
            priority=priority,
            body={
                wire.REQUEST: {
                    wire.ENDPOINT_ID: endpoint_id,
                    wire.REQUEST_PARAM: {wire.LIFECYCLE: lifecycle, wire.LIFECYCLE_REASON: reason},
                }
            },
        )
        return parsing.parse_lifecycle(env, endpoint_id, already_active=False)

    async def subscribe_addon(
        self, endpoint_id: str, plan_id: str, *, priority: Priority
    ) -> SubscribeResult:
        """Add one add-on instance: ``POST SubscribeAddon {Request:{requestParam:{endPointId,
        planId}}}`` (docs/sft-platform.md#subscribeaddon). Returns the new instance's
        ``unique_id``.

        **Never retry blindly**: on SFTOutcomeUnknown list the endpoint's add-ons
        (:meth:`addon_details`) and look for the new instance first
        (docs/business-rules.md#provisioning-steps).
        Raises SFTBusinessError (9010 = 15 add-on limit), SFTOutcomeUnknown, SFTAuthError,
        SFTRateLimited, SFTMalformedResponse (SFTMalformedOutcomeUnknown on a 2xx).
        """
        env = await self._call(
            wire.SUBSCRIBE_ADDON,
            priority=priority,
            body={
                wire.REQUEST: {
                    wire.REQUEST_PARAM: {wire.ENDPOINT_ID: endpoint_id, wire.PLAN_ID: plan_id}
                }
            },
        )
        try:
            return parsing.parse_subscribe(env, endpoint_id, plan_id)
        except SFTMalformedResponse as exc:
            # Subscribed, but the id is unreadable: the caller must re-read to find it.
            raise SFTMalformedOutcomeUnknown(
                exc.operation, exc.http_status, exc.result_code, exc.result_description
            ) from None

    async def addon_details(
        self,
        *,
        priority: Priority,
        endpoint_id: str | None = None,
        unique_id: str | None = None,
        addon_id: str | None = None,
    ) -> list[AddonDetail]:
        """Get Endpoint Add-on Details (docs/sft-platform.md#get-endpoint-add-on-details; path
        configurable): all add-ons of ``endpoint_id``, one instance by ``unique_id``, or every
        instance of a plan by ``addon_id`` (at least one required, else ``ValueError``).
        Volumes in bytes, dates UTC, ``started_at``/``expires_at`` ``None`` until validity
        starts. Values lag traffic.
        1359 "no data" is an empty list. Raises SFTMalformedResponse, SFTTransportError,
        SFTAuthError, SFTRateLimited, SFTBusinessError.
        """
        params = {
            k: v
            for k, v in (
                (wire.Q_ADDON_ENDPOINT_ID, endpoint_id),
                (wire.Q_ADDON_UNIQUE_ID, unique_id),
                (wire.Q_ADDON_ADDON_ID, addon_id),
            )
            if v is not None
        }
        if not params:
            raise ValueError("give endpoint_id, unique_id or addon_id")
        env = await self._call(
            wire.ADDON_DETAILS,
            path=self._addon_details_path,
            priority=priority,
            params=params,
            accept_codes={wire.CODE_NO_DATA},
        )
        return parsing.parse_addon_rows(env)

    async def endpoint_profile(self, endpoint_id: str, *, priority: Priority) -> EndpointProfile:
        """``GET GetEndPointProfile?endPointId=`` (docs/sft-platform.md#getendpointprofile;
        180 s): basic info, promotional plans and benefits (``actualBalance``/``balance`` in
        bytes). Raises SFTMalformedResponse, SFTTransportError, SFTAuthError, SFTRateLimited,
        SFTBusinessError.
        """
        env = await self._call(
            wire.ENDPOINT_PROFILE, priority=priority, params={wire.ENDPOINT_ID: endpoint_id}
        )
        return parsing.parse_profile(env)

    async def statistics(
        self, endpoint_id: str, from_date: dt.date, to_date: dt.date, *, priority: Priority
    ) -> list[DailyUsage]:
        """Daily data usage: ``GET GetStatistics?endPointId&from_date&to_date`` (YYYYMMDD;
        docs/sft-platform.md#getstatistics). MB strings become bytes (1 MB = 1,048,576 B, rounded).
        1359 "no data" is an empty list. Raises SFTMalformedResponse, SFTTransportError,
        SFTAuthError, SFTRateLimited, SFTBusinessError.
        """
        env = await self._call(
            wire.STATISTICS,
            priority=priority,
            params={
                wire.Q_STATS_ENDPOINT_ID: endpoint_id,
                wire.Q_STATS_FROM_DATE: from_date.strftime(wire.STATS_DATE_FORMAT),
                wire.Q_STATS_TO_DATE: to_date.strftime(wire.STATS_DATE_FORMAT),
            },
            accept_codes={wire.CODE_NO_DATA},
        )
        return parsing.parse_statistics(env)

    async def rate_plans(
        self,
        *,
        priority: Priority,
        category: str = wire.PLAN_CATEGORY_ADDON,
        plan_type: str = wire.PLAN_TYPE_DEFAULT,
    ) -> list[RatePlan]:
        """The add-on catalogue: ``GET QueryRatePlan?planCategory=ADDON&planType=0``
        (docs/sft-platform.md#queryrateplan). Volumes in bytes, validity in days (type "1"). Raises
        SFTMalformedResponse, SFTTransportError, SFTAuthError, SFTRateLimited,
        SFTBusinessError (1359 "no data" is an empty list).
        """
        env = await self._call(
            wire.QUERY_RATE_PLAN,
            priority=priority,
            params={wire.Q_PLAN_CATEGORY: category, wire.Q_PLAN_TYPE: plan_type},
            accept_codes={wire.CODE_NO_DATA},
        )
        return parsing.parse_rate_plans(env)

    async def modify_endpoint_addons(
        self,
        endpoint_id: str,
        *,
        priority: Priority,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
    ) -> OperationResult:
        """``PATCH /api/endpoint {Request:{endPointId, requestParam:{addAddonPlanIds,
        removeAddonUniqueIds}}}`` (docs/sft-platform.md#modify-endpoint): add plans by
        ``planId`` and/or remove instances by ``uniqueId``. The response does not reliably
        carry new ``uniqueId`` values: re-read :meth:`addon_details`. Raises ``ValueError`` if
        both are empty; SFTBusinessError, SFTOutcomeUnknown, SFTAuthError, SFTRateLimited,
        SFTMalformedResponse.
        """
        request_param: dict[str, list[str]] = {}
        if add:
            request_param[wire.ADD_ADDON_PLAN_IDS] = list(add)
        if remove:
            request_param[wire.REMOVE_ADDON_UNIQUE_IDS] = list(remove)
        if not request_param:
            raise ValueError("nothing to add or remove")
        env = await self._call(
            wire.MODIFY_ENDPOINT,
            priority=priority,
            body={wire.REQUEST: {wire.ENDPOINT_ID: endpoint_id, wire.REQUEST_PARAM: request_param}},
        )
        return parsing.parse_operation(env)

    async def delink_sim(self, endpoint_id: str, *, priority: Priority) -> OperationResult:
        """``POST DeLinkSim {Request:{endPointId}}`` (docs/sft-platform.md#delinksim; 180 s):
        endpoint to Hold, SIM back to Ready To Activate. 6413 = OK; 6420 (no SIM linked) is
        also OK, so the call is idempotent. Raises SFTBusinessError, SFTOutcomeUnknown,
        SFTAuthError, SFTRateLimited, SFTMalformedResponse.
        """
        env = await self._call(
            wire.DELINK_SIM,
            priority=priority,
            body={wire.REQUEST: {wire.ENDPOINT_ID: endpoint_id}},
            accept_codes={wire.CODE_DELINK_OK, wire.CODE_SIM_NOT_ATTACHED},
        )
        return parsing.parse_operation(env)

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

        return await self._transport.with_retries(op, attempt)

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
        response = await self._transport.exchange(op, path, priority, params, body, bearer=token)
        status = response.status_code
        if status == httpx.codes.UNAUTHORIZED:
            description = description_or_none(op, response)
            raise TokenRejected(status, description)
        try:
            data = parsing.decode_json(op.name, status, response.content)
            env = parsing.parse_envelope(op.name, status, data)
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
