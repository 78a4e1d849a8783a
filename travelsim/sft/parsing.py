"""Turn SFT response bodies into :mod:`travelsim.sft.models`, or raise SFTMalformedResponse.

Every structural surprise (empty body, HTML, non-JSON, missing envelope, a list where an
object belongs, an unparseable date or number) becomes :class:`SFTMalformedResponse` carrying
the operation and HTTP status: never ``KeyError``, ``AttributeError``, ``TypeError`` or
``ValueError``. Conventions (docs/sft-platform.md#conventions): scalars may be strings or
numbers; ``"-"`` and ``""`` mean absent; date-times are ``dd/mm/yyyy HH:MM:SS`` in UTC.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any

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
    RatePlan,
    RateZone,
    SimRecord,
    SubscribeResult,
)


# --- scalars --------------------------------------------------------------------------------
def to_str(value: Any) -> str | None:
    """A wire scalar as a stripped string; ``None`` for absent (``None``, ``"-"``, ``""``).

    Raises ``ValueError`` for objects, lists and booleans (callers wrap it)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("expected a scalar, got a boolean")
    if isinstance(value, int | float | Decimal):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise ValueError(f"expected a scalar, got {type(value).__name__}")
    return None if text in wire.ABSENT_VALUES else text


_MAX_MAGNITUDE = Decimal(10) ** 24  # far above any byte count or id the platform sends


def _decimal(text: str) -> Decimal:
    try:
        number = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {text!r}") from exc
    if not number.is_finite() or abs(number) >= _MAX_MAGNITUDE:
        raise ValueError(f"not a finite number in range: {text!r}")
    return number


def _round(number: Decimal) -> int:
    with localcontext() as ctx:
        ctx.prec = 60  # enough for any in-range value times BYTES_PER_MB
        return int(number.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_int(value: Any) -> int | None:
    """A wire number (int, float, or numeric string, e.g. ``"1073741824"``/``"7.0"``) as an int
    rounded half-up; ``None`` for absent. Raises ``ValueError`` otherwise."""
    text = to_str(value)
    return None if text is None else _round(_decimal(text))


def mb_to_bytes(value: Any) -> int | None:
    """Megabytes (wire string such as ``"1.500"``) to bytes: 1 MB = 1,048,576 bytes, rounded
    half-up to an int (docs/sft-platform.md#getstatistics). ``None`` for absent."""
    text = to_str(value)
    return None if text is None else _round(_decimal(text) * wire.BYTES_PER_MB)


def to_datetime(value: Any) -> dt.datetime | None:
    """``dd/mm/yyyy HH:MM:SS`` (or ``dd/mm/yyyy``) as an aware UTC datetime; ``None`` for
    absent. Raises ``ValueError`` for other formats."""
    text = to_str(value)
    if text is None:
        return None
    for fmt in (wire.DATETIME_FORMAT, wire.DATE_ONLY_FORMAT):
        try:
            return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
    raise ValueError(f"not a dd/mm/yyyy HH:MM:SS date-time: {text!r}")


def to_stats_date(value: Any) -> dt.date | None:
    """``YYYYMMDD`` (GetStatistics) as a date; ``None`` for absent."""
    text = to_str(value)
    if text is None:
        return None
    return dt.datetime.strptime(text, wire.STATS_DATE_FORMAT).date()


# --- a checked view of a JSON object ---------------------------------------------------------
class Reader:
    """Read fields of one JSON object; any surprise raises SFTMalformedResponse."""

    def __init__(self, data: Any, operation: str, http_status: int | None, where: str) -> None:
        if not isinstance(data, Mapping):
            raise SFTMalformedResponse(operation, http_status, None, f"{where}: expected an object")
        self.data = data
        self.operation = operation
        self.http_status = http_status
        self.where = where

    def _fail(self, key: str, problem: str) -> SFTMalformedResponse:
        return SFTMalformedResponse(
            self.operation, self.http_status, None, f"{self.where}.{key}: {problem}"
        )

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str) -> Any:
        return self.data.get(key)

    def opt_str(self, key: str) -> str | None:
        try:
            return to_str(self.data.get(key))
        except ValueError as exc:
            raise self._fail(key, str(exc)) from None

    def req_str(self, key: str) -> str:
        value = self.opt_str(key)
        if value is None:
            raise self._fail(key, "missing")
        return value

    def opt_int(self, key: str) -> int | None:
        try:
            return to_int(self.data.get(key))
        except ValueError as exc:
            raise self._fail(key, str(exc)) from None

    def req_int(self, key: str) -> int:
        value = self.opt_int(key)
        if value is None:
            raise self._fail(key, "missing")
        return value

    def opt_mb_bytes(self, key: str) -> int | None:
        try:
            return mb_to_bytes(self.data.get(key))
        except ValueError as exc:
            raise self._fail(key, str(exc)) from None

    def opt_datetime(self, key: str) -> dt.datetime | None:
        try:
            return to_datetime(self.data.get(key))
        except ValueError as exc:
            raise self._fail(key, str(exc)) from None

    def opt_obj(self, key: str) -> Reader | None:
        value = self.data.get(key)
        if value is None or (isinstance(value, str) and value.strip() in wire.ABSENT_VALUES):
            return None
        return Reader(value, self.operation, self.http_status, f"{self.where}.{key}")

    def obj(self, key: str) -> Reader:
        value = self.opt_obj(key)
        if value is None:
            raise self._fail(key, "missing")
        return value

    def objs(self, key: str, *, required: bool = False) -> list[Reader]:
        """A list of objects; absent/``"-"`` is an empty list unless ``required``."""
        value = self.data.get(key)
        if value is None or (isinstance(value, str) and value.strip() in wire.ABSENT_VALUES):
            if required:
                raise self._fail(key, "missing")
            return []
        if not isinstance(value, Sequence) or isinstance(value, str | bytes):
            raise self._fail(key, "expected a list")
        return [
            Reader(item, self.operation, self.http_status, f"{self.where}.{key}[{i}]")
            for i, item in enumerate(value)
        ]

    def str_list(self, key: str) -> list[str]:
        value = self.data.get(key)
        if value is None:
            return []
        if isinstance(value, str):
            # Tolerate "DE|FR" / "DE,FR" as well as a JSON list.
            parts = value.replace("|", ",").split(",")
            return [p.strip() for p in parts if p.strip() not in wire.ABSENT_VALUES]
        if not isinstance(value, Sequence):
            raise self._fail(key, "expected a list")
        out: list[str] = []
        for item in value:
            try:
                text = to_str(item)
            except ValueError as exc:
                raise self._fail(key, str(exc)) from None
            if text is not None:
                out.append(text)
        return out


# --- body and envelope -----------------------------------------------------------------------
def decode_json(operation: str, http_status: int | None, content: bytes) -> Any:
    """Decode a response body; empty, HTML or invalid JSON raises SFTMalformedResponse."""
    stripped = content.strip()
    if not stripped:
        raise SFTMalformedResponse(operation, http_status, None, "empty body")
    if stripped[:1] == b"<":
        raise SFTMalformedResponse(operation, http_status, None, "HTML instead of JSON")
    try:
        return json.loads(stripped)
    except (ValueError, UnicodeDecodeError):
        raise SFTMalformedResponse(operation, http_status, None, "body is not JSON") from None


@dataclass(frozen=True, slots=True)
class Envelope:
    """The ``Response`` envelope: ``result_code`` "0"/"1", operation ``op_code``/``description``
    from ``resultParam``, and the whole ``Response`` object as ``response``."""

    result_code: str
    op_code: str | None
    description: str | None
    response: Reader

    @property
    def ok(self) -> bool:
        return self.result_code == wire.ENVELOPE_SUCCESS

    @property
    def token_rejected(self) -> bool:
        """The HTTP-200 expiry shape: resultParam.resultCode "401"
        (docs/sft-platform.md#token-expiry)."""
        return self.op_code == wire.CODE_TOKEN_INVALID

    def param(self) -> Reader:
        """``responseParam`` (an empty object when absent)."""
        return self.response.opt_obj(wire.RESPONSE_PARAM) or Reader(
            {}, self.response.operation, self.response.http_status, "Response.responseParam"
        )


def parse_envelope(operation: str, http_status: int | None, data: Any) -> Envelope:
    """Check ``{"Response": {"resultCode", "resultParam": {...}, ...}}``."""
    top = Reader(data, operation, http_status, "body")
    response = top.obj(wire.RESPONSE) if top.has(wire.RESPONSE) else None
    if response is None:
        raise SFTMalformedResponse(operation, http_status, None, "no Response envelope")
    response.where = wire.RESPONSE
    result_code = response.opt_str(wire.RESULT_CODE)
    result_param = response.opt_obj(wire.RESULT_PARAM)
    op_code = result_param.opt_str(wire.RESULT_CODE) if result_param else None
    description = result_param.opt_str(wire.RESULT_DESCRIPTION) if result_param else None
    if result_code is None:
        raise SFTMalformedResponse(operation, http_status, op_code, "Response.resultCode missing")
    return Envelope(result_code, op_code, description, response)


def parse_tokens(operation: str, http_status: int | None, data: Any) -> tuple[str, str | None]:
    """Login/RefreshToken body ``{"AccessToken", "RefreshToken"}`` (top level,
    docs/sft-platform.md#login; also accepted inside ``Response``). Returns (access, refresh or
    None)."""
    top = Reader(data, operation, http_status, "body")
    source = top
    if not top.has(wire.ACCESS_TOKEN) and top.has(wire.RESPONSE):
        source = top.obj(wire.RESPONSE)
    return source.req_str(wire.ACCESS_TOKEN), source.opt_str(wire.REFRESH_TOKEN_FIELD)


def jwt_claims(token: str) -> dict[str, Any]:
    """The unverified claims of a JWT (only used to schedule a refresh); ``{}`` if the token
    is not a readable JWT. The token itself is never logged."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        return {}
    return claims if isinstance(claims, dict) else {}


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
        esim_profile_status=row.opt_str(wire.SIM_ESIM_PROFILE_STATUS),
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


def _activated_by(code: str | None, name: str | None) -> ActivatedBy | None:
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
        activated_by=_activated_by(
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
    return [parse_addon_row(r) for r in env.param().objs(wire.ROWS)]


def parse_profile(env: Envelope) -> EndpointProfile:
    """GetEndPointProfile ``Response.info`` (docs/sft-platform.md#getendpointprofile)."""
    info = env.response.obj(wire.PROFILE_INFO)
    basic = info.opt_obj(wire.PROFILE_BASIC_INFO) or Reader(
        {}, info.operation, info.http_status, "info.basicInfo"
    )
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
        esim_profile_status=basic.opt_str(wire.PROFILE_ESIM_PROFILE_STATUS),
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
            stamp = to_datetime(raw)
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


def parse_rate_plan(row: Reader) -> RatePlan:
    validity = row.opt_obj(wire.RP_VALIDITY)
    validity_type = validity.opt_str(wire.RP_VALIDITY_TYPE) if validity else None
    validity_factor = validity.opt_int(wire.RP_VALIDITY_FACTOR) if validity else None
    if validity is None and row.opt_str(wire.RP_VALIDITY) is not None:
        # Tolerate a flat "validity": "<days>".
        validity_factor = row.opt_int(wire.RP_VALIDITY)
    days = validity_factor if validity_type in (None, wire.VALIDITY_TYPE_DAYS) else None
    zone = row.opt_obj(wire.RP_RATE_ZONE)
    return RatePlan(
        plan_id=row.req_str(wire.RP_PLAN_ID),
        name=row.opt_str(wire.RP_PLAN_NAME),
        category=row.opt_str(wire.RP_PLAN_CATEGORY),
        plan_type=row.opt_str(wire.RP_PLAN_TYPE),
        status=row.opt_str(wire.RP_STATUS),
        volume_bytes=row.opt_int(wire.RP_VOLUME),
        validity_type=validity_type,
        validity_factor=validity_factor,
        validity_days=days,
        activated_by=_activated_by(
            row.opt_str(wire.RP_ACTIVATED_BY), row.opt_str(wire.RP_ACTIVATED_BY_NAME)
        ),
        priority=row.opt_int(wire.RP_PRIORITY),
        rate_zone=(
            RateZone(
                id=zone.opt_str(wire.RP_RATE_ZONE_ID), name=zone.opt_str(wire.RP_RATE_ZONE_NAME)
            )
            if zone
            else None
        ),
        countries=tuple(row.str_list(wire.RP_COUNTRIES)),
    )


def parse_rate_plans(env: Envelope) -> list[RatePlan]:
    return [parse_rate_plan(r) for r in env.param().objs(wire.ROWS)]


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
