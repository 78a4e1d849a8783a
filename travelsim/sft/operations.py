"""The SFT operations the portal uses, as methods of :class:`SFTOperations`.

:class:`~travelsim.sft.client.SFTClient` inherits them; each builds the request from ``wire``
names, sends it through the client's ``_call`` (authentication, rate budget, retries) and
parses the envelope into :mod:`travelsim.sft.models` (volumes in bytes, date-times UTC,
converted from the platform's zone). Each
docstring names its section of docs/sft-platform.md#operations and the errors it raises.
"""

from __future__ import annotations

import datetime as dt
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from travelsim.sft import parsing, wire
from travelsim.sft.errors import (
    SFTBusinessError,
    SFTMalformedOutcomeUnknown,
    SFTMalformedResponse,
    SFTTransportError,
)
from travelsim.sft.models import (
    AddonDetail,
    DailyUsage,
    EndpointProfile,
    LifecycleResult,
    OperationResult,
    Priority,
    RatePlan,
    RatePlanCatalogue,
    SimRecord,
    SubscribeResult,
)

__all__ = ["SFTOperations"]

logger = logging.getLogger(__name__)

#: The fallback to GetEndPointProfile is logged once per process (then at debug level).
_fallback_logged = False


def _log_fallback(
    exc: SFTBusinessError | SFTMalformedResponse | SFTTransportError, path: str
) -> None:
    global _fallback_logged
    level = logging.DEBUG if _fallback_logged else logging.WARNING
    _fallback_logged = True
    logger.log(
        level,
        "sft add-on details unavailable; reading add-ons from GetEndPointProfile",
        extra={
            "sft_operation": wire.ADDON_DETAILS.name,
            "path": path,
            "http_status": exc.http_status,
            "result_code": exc.result_code,
            "error": type(exc).__name__,
        },
    )


class SFTOperations(ABC):
    """The typed SFT operations. A subclass provides :meth:`_call` (one authorised request
    with the retry policy) and ``_addon_details_path``."""

    #: Path of Get Endpoint Add-on Details (docs/sft-platform.md#get-endpoint-add-on-details).
    _addon_details_path: str
    #: Set once the add-on details path answered 404/405: later reads go straight to the
    #: profile (per client).
    _addon_details_unavailable: bool = False

    @abstractmethod
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
        """An authorised request; returns the envelope of a success (``resultCode "0"`` or an
        op code in ``accept_codes``). Raises the client's SFTError subclasses."""

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

    async def sim_status(
        self, iccid: str, *, endpoint_id: str | None = None, priority: Priority
    ) -> str | None:
        """The lifecycle status of the SIM ``iccid``, hence of the endpoint it is linked to:
        ``simStatus`` of ``GET fetchSIM?iccid=`` (docs/sft-platform.md#fetchsim), e.g.
        ``"Pre-Active"``, ``"Active"``, ``"Suspended"``, ``"Ready To Activate"`` (the values
        public production clients read). Activation and suspension change the endpoint and its
        SIM together (docs/sft-platform.md#endpointlifecyclechange).

        ``None`` means *unreadable*, never "unchanged": the ICCID is not listed, the row has
        no ``simStatus``, or (with ``endpoint_id``) the SIM is linked to another endpoint or to
        none. A caller that verifies a lifecycle change treats ``None`` as "unknown: re-read
        later" and sends nothing. Raises as :meth:`fetch_sims`.
        """
        sim = await self.find_sim(iccid, priority=priority)
        if sim is None or not sim.sim_status:
            return None
        if endpoint_id is not None and sim.endpoint_id != endpoint_id:
            return None
        return sim.sim_status

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
        fallback: bool = True,
    ) -> list[AddonDetail]:
        """Get Endpoint Add-on Details (docs/sft-platform.md#get-endpoint-add-on-details; path
        configurable): all add-ons of ``endpoint_id``, one instance by ``unique_id``, or every
        instance of a plan by ``addon_id`` (at least one required, else ``ValueError``).
        Volumes in bytes, dates UTC, ``started_at``/``expires_at`` ``None`` until validity
        starts. Values lag traffic. 1359 "no data" is an empty list.

        **Fallback** (same section): when the read fails with HTTP 404/405, another business
        error, or a malformed/unknown shape, and ``endpoint_id`` is given, the add-ons are built
        from GetEndPointProfile (:func:`~travelsim.sft.records.addons_from_profile`: status
        inferred, ``status_raw="inferred"``, live add-ons only). After a 404/405 this client
        reads the profile directly. Raises SFTMalformedResponse, SFTTransportError,
        SFTAuthError, SFTRateLimited, SFTBusinessError (of the profile when falling back, else
        of add-on details). ``fallback=False`` (``sft check``) asks add-on details only and
        raises its errors.
        """
        addons, _ = await self._addons(
            priority=priority,
            endpoint_id=endpoint_id,
            unique_id=unique_id,
            addon_id=addon_id,
            fallback=fallback,
        )
        return addons

    async def addons_and_profile(
        self, endpoint_id: str, *, priority: Priority
    ) -> tuple[list[AddonDetail], EndpointProfile]:
        """The endpoint's add-ons (:meth:`addon_details`, with its fallback) and its profile
        (:meth:`endpoint_profile`), reading the profile once when the fallback used it. Raises
        as both."""
        addons, profile = await self._addons(priority=priority, endpoint_id=endpoint_id)
        if profile is None:
            profile = await self.endpoint_profile(endpoint_id, priority=priority)
        return addons, profile

    async def _addons(
        self,
        *,
        priority: Priority,
        endpoint_id: str | None = None,
        unique_id: str | None = None,
        addon_id: str | None = None,
        fallback: bool = True,
    ) -> tuple[list[AddonDetail], EndpointProfile | None]:
        """Add-on details, or the profile fallback: ``(add-ons, the profile if it was read)``."""
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
        if endpoint_id is not None and self._addon_details_unavailable and fallback:
            return await self._addons_from_profile(endpoint_id, priority, unique_id, addon_id)
        try:
            env = await self._call(
                wire.ADDON_DETAILS,
                path=self._addon_details_path,
                priority=priority,
                params=params,
                accept_codes={wire.CODE_NO_DATA},
            )
            return parsing.parse_addon_rows(env), None
        except (SFTBusinessError, SFTMalformedResponse, SFTTransportError) as exc:
            # Any failure of this unpublished call reads the profile instead, a 5xx or a
            # timeout that outlasted the GET retries included (docs/sft-platform.md
            # #get-endpoint-add-on-details); the profile raises its own error if it fails too.
            if endpoint_id is None or not fallback:
                raise
            if exc.http_status in wire.HTTP_NO_SUCH_OPERATION:
                self._addon_details_unavailable = True
            _log_fallback(exc, self._addon_details_path)
        return await self._addons_from_profile(endpoint_id, priority, unique_id, addon_id)

    async def _addons_from_profile(
        self,
        endpoint_id: str,
        priority: Priority,
        unique_id: str | None,
        addon_id: str | None,
    ) -> tuple[list[AddonDetail], EndpointProfile]:
        profile = await self.endpoint_profile(endpoint_id, priority=priority)
        rows = parsing.addons_from_profile(profile, dt.datetime.now(dt.UTC))
        rows = [
            r
            for r in rows
            if (unique_id is None or r.unique_id == unique_id)
            and (addon_id is None or r.plan_id == addon_id)
        ]
        return rows, profile

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
        """Every add-on plan: ``GET QueryRatePlan?planCategory=ADDON&planType=0``
        (docs/sft-platform.md#queryrateplan; nested 4.13 rows or the older flat ones), usable
        or not. Volumes in bytes, validity in days (type "1"). Raises SFTMalformedResponse (one
        unreadable row), SFTTransportError, SFTAuthError, SFTRateLimited, SFTBusinessError
        (1359 "no data" is an empty list).
        """
        env = await self._query_rate_plan(priority, category, plan_type)
        return parsing.parse_rate_plans(env)

    async def rate_plan_catalogue(
        self,
        *,
        priority: Priority,
        category: str = wire.PLAN_CATEGORY_ADDON,
        plan_type: str = wire.PLAN_TYPE_DEFAULT,
    ) -> RatePlanCatalogue:
        """QueryRatePlan for the catalogue sync (docs/sft-platform.md#queryrateplan): the plans
        with a data volume (bytes) and a validity in days, and every other row in ``skipped``
        with its reason (each logged at warning level). An unreadable row is skipped, not
        fatal. Raises SFTTransportError, SFTAuthError, SFTRateLimited, SFTBusinessError,
        SFTMalformedResponse (envelope); 1359 is an empty catalogue.
        """
        env = await self._query_rate_plan(priority, category, plan_type)
        catalogue = parsing.parse_rate_plan_catalogue(env)
        for skip in catalogue.skipped:
            logger.warning(
                "sft rate plan skipped: %s",
                skip.reason,
                extra={"sft_operation": wire.QUERY_RATE_PLAN.name, "plan_id": skip.plan_id},
            )
        return catalogue

    async def _query_rate_plan(
        self, priority: Priority, category: str, plan_type: str
    ) -> parsing.Envelope:
        return await self._call(
            wire.QUERY_RATE_PLAN,
            priority=priority,
            params={wire.Q_PLAN_CATEGORY: category, wire.Q_PLAN_TYPE: plan_type},
            accept_codes={wire.CODE_NO_DATA},
        )

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
