"""Per-operation SFT results: envelopes read into :mod:`travelsim.sft.models`.

Volumes in bytes (GetStatistics MB strings: 1 MB = 1,048,576 B), date-times UTC (read in
the platform's zone carried by each ``Reader``), ``None`` for absent values
(docs/sft-platform.md#conventions). Anything malformed raises :class:`SFTMalformedResponse`
(through :class:`~travelsim.sft.reader.Reader`). QueryRatePlan rows are read in
:mod:`travelsim.sft.rateplans`. Import through :mod:`travelsim.sft.parsing`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from travelsim.sft import wire
from travelsim.sft.errors import SFTMalformedResponse
from travelsim.sft.models import (
    ActivatedBy,
    AddonDetail,
    AddonStatus,
    Benefit,
    DailyUsage,
    EndpointProfile,
    LifecycleResult,
    OperationResult,
    PromotionalPlan,
    SimRecord,
    SubscribeResult,
)
from travelsim.sft.reader import Envelope, Reader, to_datetime, to_stats_date

_DAY = dt.timedelta(days=1)


# --- operations -------------------------------------------------------------------------------
def parse_sim_row(row: Reader) -> SimRecord:
    code = row.opt_obj(wire.SIM_ACTIVATION_CODE)
    return SimRecord(
        sim_id=row.opt_str(wire.SIM_ID),
        iccid=row.req_str(wire.SIM_ICCID),
        eid=row.opt_str(wire.SIM_EID),
        endpoint_id=row.opt_str(wire.SIM_ENDPOINT_ID),
        sim_status=row.opt_str(wire.SIM_STATUS),
        attach_status=row.opt_str(wire.SIM_ATTACH_STATUS),
        esim_profile_status=row.opt_str_any_case(wire.SIM_ESIM_PROFILE_STATUS),
        msisdn=row.opt_str(wire.SIM_MSISDN),
        imsi=row.opt_str(wire.SIM_IMSI),
        activation_code=code.opt_str(wire.ACTIVATION_TEXT_QR) if code else None,
        smdp_address=code.opt_str(wire.ACTIVATION_SMDP) if code else None,
        matching_id=code.opt_str(wire.ACTIVATION_MATCHING_ID) if code else None,
    )


def parse_sim_page(env: Envelope) -> tuple[list[SimRecord], int]:
    """fetchSIM ``responseParam{rows[], totalCount}`` -> (rows, total). ``total`` falls back to
    the number of rows when ``totalCount`` is absent (it is inferred, never seen:
    docs/sft-platform.md#fetchsim)."""
    param = env.param()
    rows = [parse_sim_row(r) for r in param.objs(wire.ROWS)]
    total = param.opt_int(wire.TOTAL_COUNT)
    return rows, (len(rows) if total is None else total)


def read_activated_by(code: str | None, name: str | None) -> ActivatedBy | None:
    """``activatedBy`` code (``"0"``/``"1"``) or ``activatedByName`` text as ActivatedBy;
    ``None`` when neither is known (docs/sft-platform.md#get-endpoint-add-on-details)."""
    if code is not None and code in wire.ACTIVATED_BY_CODES:
        return ActivatedBy[wire.ACTIVATED_BY_CODES[code]]
    if name is not None:
        key = name.lower().replace(" ", "").replace("-", "").replace("_", "")
        if key in wire.ACTIVATED_BY_NAMES:
            return ActivatedBy[wire.ACTIVATED_BY_NAMES[key]]
    return None


def parse_addon_row(row: Reader) -> AddonDetail:
    status_raw = row.req_str(wire.ADDON_STATUS)
    member = wire.ADDON_STATUS_VALUES.get(status_raw.lower())
    status = AddonStatus[member] if member else AddonStatus.UNKNOWN
    initial = row.opt_int(wire.ADDON_INITIAL_VOLUME)
    remaining = row.opt_int(wire.ADDON_REMAINING_VOLUME)
    used = row.opt_int(wire.ADDON_USED_VOLUME)
    if initial is None or remaining is None:
        missing = wire.ADDON_INITIAL_VOLUME if initial is None else wire.ADDON_REMAINING_VOLUME
        raise SFTMalformedResponse(
            row.operation, row.http_status, None, f"{row.where}.{missing}: missing"
        )
    plan_id = row.opt_str(wire.ADDON_PLAN_ID) or row.req_str(wire.ADDON_ADDON_ID)
    return AddonDetail(
        unique_id=row.req_str(wire.ADDON_UNIQUE_ID),
        addon_id=row.opt_str(wire.ADDON_ADDON_ID),
        plan_id=plan_id,
        plan_name=row.opt_str(wire.ADDON_PLAN_NAME),
        endpoint_id=row.opt_str(wire.ADDON_ENDPOINT_ID),
        service=row.opt_str(wire.ADDON_SERVICE),
        status=status,
        status_raw=status_raw,
        activated_by=read_activated_by(
            row.opt_str(wire.ADDON_ACTIVATED_BY), row.opt_str(wire.ADDON_ACTIVATED_BY_NAME)
        ),
        priority=row.opt_int(wire.ADDON_PRIORITY),
        subscribed_at=row.opt_datetime(wire.ADDON_SUBSCRIPTION_DATE),
        started_at=row.opt_datetime(wire.ADDON_START_DATE),
        expires_at=row.opt_datetime(wire.ADDON_EXPIRY_DATE),
        deactivated_at=row.opt_datetime(wire.ADDON_DEACTIVATION_DATE),
        validity_days=row.opt_int(wire.ADDON_VALIDITY),
        initial_bytes=initial,
        remaining_bytes=remaining,
        used_bytes=used if used is not None else max(initial - remaining, 0),
        unit=row.opt_str(wire.ADDON_UNIT),
    )


def parse_addon_rows(env: Envelope) -> list[AddonDetail]:
    """Get Endpoint Add-on Details ``responseParam.rows[]``
    (docs/sft-platform.md#get-endpoint-add-on-details). ``1359`` "no data" is an empty list; a
    success without ``rows`` is an unknown shape and raises SFTMalformedResponse (the client
    then falls back to the profile)."""
    if env.op_code == wire.CODE_NO_DATA and not env.ok:
        return []
    param = env.param()
    if not param.has(wire.ROWS):
        raise SFTMalformedResponse(
            param.operation, param.http_status, env.op_code, f"{param.where}.rows: missing"
        )
    return [parse_addon_row(r) for r in param.objs(wire.ROWS)]


def _inferred_status(
    started: dt.datetime | None, expires: dt.datetime | None, remaining: int, now: dt.datetime
) -> AddonStatus:
    if started is None:
        return AddonStatus.WAITING
    if remaining <= 0:
        return AddonStatus.EXHAUSTED
    if expires is not None and now >= expires:
        return AddonStatus.EXPIRED
    return AddonStatus.ACTIVE


def _whole_days(started: dt.datetime | None, expires: dt.datetime | None) -> int | None:
    if started is None or expires is None or expires <= started:
        return None
    span = expires - started
    return span.days if span % _DAY == dt.timedelta(0) else None


def addons_from_profile(profile: EndpointProfile, now: dt.datetime) -> list[AddonDetail]:
    """The endpoint's add-ons built from GetEndPointProfile (the fallback of
    docs/sft-platform.md#get-endpoint-add-on-details): one per ``promotionalPlans.plan[]`` row,
    joined by ``uniqueId`` with its ``benefitInfo.benefit[]`` rows (the ``DATA`` ones when any
    is so named, else all of them, summed): ``actualBalance`` -> ``initial_bytes``,
    ``balance`` -> ``remaining_bytes``. Dates from the benefit, else the plan row.

    **Inferred**: ``status`` from dates and balance at ``now`` (aware UTC), with
    ``status_raw="inferred"``; ``validity_days`` from whole days between start and expiry.
    Unknowable (``None``): ``activated_by``, ``priority``, ``subscribed_at``, ``addon_id``,
    ``unit``. Benefits without a plan row (e.g. a base plan's) are ignored. Raises
    SFTMalformedResponse for a plan row without ``uniqueId``/``planId`` or without any benefit
    with a balance (its volume cannot be known)."""
    benefits: dict[str, list[Benefit]] = defaultdict(list)
    for b in profile.benefits:
        if b.unique_id is not None:
            benefits[b.unique_id].append(b)
    out: list[AddonDetail] = []
    for i, plan in enumerate(profile.plans):
        where = f"Response.info.promotionalPlans.plan[{i}]"
        if plan.unique_id is None or plan.plan_id is None:
            raise SFTMalformedResponse(
                wire.ENDPOINT_PROFILE.name, None, None, f"{where}: uniqueId/planId missing"
            )
        rows = benefits.get(plan.unique_id, [])
        data = [b for b in rows if (b.name or "").lower() == wire.BENEFIT_NAME_DATA] or rows
        data = [b for b in data if b.initial_bytes is not None or b.remaining_bytes is not None]
        if not data:
            raise SFTMalformedResponse(
                wire.ENDPOINT_PROFILE.name,
                None,
                None,
                f"{where}: no benefitInfo.benefit[] with a balance for uniqueId {plan.unique_id}",
            )
        remaining = sum(b.remaining_bytes or 0 for b in data)
        initial = sum(
            b.initial_bytes if b.initial_bytes is not None else (b.remaining_bytes or 0)
            for b in data
        )
        started = next((b.started_at for b in data if b.started_at), None) or plan.started_at
        expires = next((b.expires_at for b in data if b.expires_at), None) or plan.expires_at
        out.append(
            AddonDetail(
                unique_id=plan.unique_id,
                plan_id=plan.plan_id,
                plan_name=plan.plan_name,
                endpoint_id=profile.endpoint_id,
                service=plan.service,
                status=_inferred_status(started, expires, remaining, now),
                status_raw=wire.STATUS_RAW_INFERRED,
                started_at=started,
                expires_at=expires,
                validity_days=_whole_days(started, expires),
                initial_bytes=initial,
                remaining_bytes=remaining,
                used_bytes=max(initial - remaining, 0),
            )
        )
    return out


def parse_profile(env: Envelope) -> EndpointProfile:
    """GetEndPointProfile ``Response.info`` (docs/sft-platform.md#getendpointprofile)."""
    info = env.response.obj(wire.PROFILE_INFO)
    basic = info.opt_obj(wire.PROFILE_BASIC_INFO) or info.child({}, "info.basicInfo")
    plans_obj = info.opt_obj(wire.PROFILE_PROMOTIONAL_PLANS)
    benefits_obj = info.opt_obj(wire.PROFILE_BENEFIT_INFO)
    plans = [
        PromotionalPlan(
            unique_id=p.opt_str(wire.PLAN_UNIQUE_ID),
            plan_id=p.opt_str(wire.PLAN_PLAN_ID),
            plan_name=p.opt_str(wire.PLAN_PLAN_NAME),
            service=p.opt_str(wire.PLAN_SERVICE_NAME),
            started_at=p.opt_datetime(wire.PLAN_START_DATE),
            expires_at=p.opt_datetime(wire.PLAN_EXPIRY_DATE),
        )
        for p in (plans_obj.objs(wire.PROFILE_PLAN_LIST) if plans_obj else [])
    ]
    benefits = [
        Benefit(
            name=b.opt_str(wire.BENEFIT_NAME),
            unique_id=b.opt_str(wire.BENEFIT_UNIQUE_ID),
            started_at=b.opt_datetime(wire.BENEFIT_START_DATE),
            expires_at=b.opt_datetime(wire.BENEFIT_EXPIRY_DATE),
            initial_bytes=b.opt_int(wire.BENEFIT_ACTUAL_BALANCE),
            remaining_bytes=b.opt_int(wire.BENEFIT_BALANCE),
        )
        for b in (benefits_obj.objs(wire.PROFILE_BENEFIT_LIST) if benefits_obj else [])
    ]
    return EndpointProfile(
        endpoint_id=basic.opt_str(wire.PROFILE_ENDPOINT_ID),
        iccid=basic.opt_str(wire.PROFILE_ICCID),
        eid=basic.opt_str(wire.PROFILE_EID),
        name=basic.opt_str(wire.PROFILE_NAME),
        msisdn=basic.opt_str(wire.PROFILE_MSISDN),
        imsi=basic.opt_str(wire.PROFILE_IMSI),
        status=basic.opt_str(wire.PROFILE_STATUS),
        lifecycle_reason=basic.opt_str(wire.PROFILE_LIFECYCLE_REASON),
        esim_profile_status=basic.opt_str_any_case(wire.PROFILE_ESIM_PROFILE_STATUS),
        plans=tuple(plans),
        benefits=tuple(benefits),
    )


def parse_statistics(env: Envelope) -> list[DailyUsage]:
    """GetStatistics ``responseParam.dataUsage[]{date, uplink, downlink, totalVolume}`` with
    MB strings -> bytes. A missing ``totalVolume`` is uplink + downlink."""
    out: list[DailyUsage] = []
    for row in env.param().objs(wire.STATS_DATA_USAGE):
        day = _stats_day(row)
        up = row.opt_mb_bytes(wire.STATS_UPLINK)
        down = row.opt_mb_bytes(wire.STATS_DOWNLINK)
        total = row.opt_mb_bytes(wire.STATS_TOTAL_VOLUME)
        if total is None:
            if up is None and down is None:
                raise SFTMalformedResponse(
                    row.operation, row.http_status, None, f"{row.where}.totalVolume: missing"
                )
            total = (up or 0) + (down or 0)
        out.append(DailyUsage(date=day, bytes=total, uplink_bytes=up, downlink_bytes=down))
    return out


def _stats_day(row: Reader) -> dt.date:
    """A ``dataUsage[]`` row's day: ``YYYYMMDD`` (also tolerated: ``dd/mm/yyyy[ HH:MM:SS]``)."""
    raw = row.raw(wire.STATS_DATE)
    day: dt.date | None = None
    try:
        day = to_stats_date(raw)
    except ValueError:
        try:
            stamp = to_datetime(raw, row.tz)
        except ValueError:
            stamp = None
        day = stamp.date() if stamp is not None else None
        if day is None:
            raise SFTMalformedResponse(
                row.operation, row.http_status, None, f"{row.where}.date: not YYYYMMDD"
            ) from None
    if day is None:
        raise SFTMalformedResponse(
            row.operation, row.http_status, None, f"{row.where}.date: missing"
        )
    return day


def parse_subscribe(env: Envelope, endpoint_id: str, plan_id: str) -> SubscribeResult:
    """SubscribeAddon ``responseParam.addonDetails.uniqueId``
    (docs/sft-platform.md#subscribeaddon); ``uniqueId`` directly under ``responseParam`` or
    ``Response`` is tolerated."""
    param = env.param()
    details = param.opt_obj(wire.ADDON_DETAILS_FIELD)
    unique_id = (
        (details.opt_str(wire.UNIQUE_ID) if details else None)
        or param.opt_str(wire.UNIQUE_ID)
        or env.response.opt_str(wire.UNIQUE_ID)
    )
    if unique_id is None:
        raise SFTMalformedResponse(
            env.response.operation,
            env.response.http_status,
            env.op_code,
            "Response.responseParam.addonDetails.uniqueId: missing",
        )
    return SubscribeResult(
        unique_id=unique_id,
        plan_id=(details.opt_str(wire.PLAN_ID) if details else None) or plan_id,
        endpoint_id=(details.opt_str(wire.ENDPOINT_ID) if details else None) or endpoint_id,
        result_code=env.op_code,
    )


def parse_lifecycle(env: Envelope, endpoint_id: str, *, already_active: bool) -> LifecycleResult:
    param = env.param()
    return LifecycleResult(
        endpoint_id=endpoint_id,
        result_code=env.op_code,
        description=env.description,
        current_status=param.opt_str(wire.CURRENT_STATUS),
        previous_status=param.opt_str(wire.PREVIOUS_STATUS),
        already_active=already_active,
    )


def parse_operation(env: Envelope) -> OperationResult:
    return OperationResult(result_code=env.op_code, description=env.description)
