"""QueryRatePlan rows read into :class:`~travelsim.sft.models.RatePlan`, and the catalogue view
of them (usable plans plus every skipped row with its reason).

Two shapes are read (docs/sft-platform.md#queryrateplan): the nested add-on plan of the 4.13
release (``basicInfo`` with planId/planName/planCategory/addOnPriority, ``benefit[]`` with
benefitId/value/rateZone, ``subscription`` with reSubscription/reSubscriptionRule/occurrences/
activatedBy, ``validity`` with validityType/validityFactor) and the portal's older flat guess
(``volume``, ``activatedBy``, ``addOnPriority``, ``rateZone{id,name}``, ``countries`` beside
``planId``). Where both carry a field the nested one wins. Import through
:mod:`travelsim.sft.parsing`.
"""

from __future__ import annotations

from travelsim.sft import wire
from travelsim.sft.errors import SFTMalformedResponse
from travelsim.sft.models import RatePlan, RatePlanCatalogue, RateZone, SkippedPlan
from travelsim.sft.reader import Envelope, Reader, to_bytes
from travelsim.sft.records import read_activated_by

__all__ = ["parse_rate_plan", "parse_rate_plan_catalogue", "parse_rate_plans"]


def _first_str(readers: list[Reader | None], key: str) -> str | None:
    for r in readers:
        value = r.opt_str(key) if r is not None else None
        if value is not None:
            return value
    return None


def _benefit_bytes(benefit: Reader) -> int | None:
    """``benefit[].value`` in bytes: its ``unit`` when given (B, KB, MB, GB), else bytes (both
    inferred: the unit is not published)."""
    unit = (benefit.opt_str(wire.RP_BENEFIT_UNIT) or "BYTES").upper()
    per_unit = wire.VOLUME_UNITS.get(unit)
    if per_unit is None:
        raise SFTMalformedResponse(
            benefit.operation,
            benefit.http_status,
            None,
            f"{benefit.where}.{wire.RP_BENEFIT_UNIT}: unknown unit {unit!r}",
        )
    try:
        return to_bytes(benefit.raw(wire.RP_BENEFIT_VALUE), per_unit)
    except ValueError as exc:
        raise SFTMalformedResponse(
            benefit.operation, benefit.http_status, None, f"{benefit.where}.value: {exc}"
        ) from None


def _volume_and_zone(row: Reader) -> tuple[int | None, RateZone | None]:
    """Flat ``volume``/``rateZone{id,name}``, else the sum of ``benefit[].value`` (every benefit
    is taken as data: the portal's add-ons are data-only, inferred) and the first benefit's
    ``rateZone`` id."""
    volume = row.opt_int(wire.RP_VOLUME)
    zone_obj = (
        row.opt_obj(wire.RP_RATE_ZONE) if isinstance(row.raw(wire.RP_RATE_ZONE), dict) else None
    )
    zone = (
        RateZone(
            id=zone_obj.opt_str(wire.RP_RATE_ZONE_ID), name=zone_obj.opt_str(wire.RP_RATE_ZONE_NAME)
        )
        if zone_obj
        else None
    )
    if zone is None and row.opt_str(wire.RP_RATE_ZONE) is not None:
        zone = RateZone(id=row.opt_str(wire.RP_RATE_ZONE))
    benefits = row.objs(wire.RP_BENEFIT)
    if volume is None and benefits:
        values = [v for v in (_benefit_bytes(b) for b in benefits) if v is not None]
        volume = sum(values) if values else None
    if zone is None:
        zone_id = next(
            (z for z in (b.opt_str(wire.RP_BENEFIT_RATE_ZONE) for b in benefits) if z), None
        )
        zone = RateZone(id=zone_id) if zone_id else None
    return volume, zone


def parse_rate_plan(row: Reader) -> RatePlan:
    """One QueryRatePlan row, nested (4.13) or flat (module docstring). ``planId`` is required;
    anything unreadable raises SFTMalformedResponse."""
    basic = row.opt_obj(wire.RP_BASIC_INFO)
    sub = row.opt_obj(wire.RP_SUBSCRIPTION)
    ident = [basic, row]
    plan_id = _first_str(ident, wire.RP_PLAN_ID)
    if plan_id is None:
        raise SFTMalformedResponse(
            row.operation, row.http_status, None, f"{row.where}.basicInfo.planId: missing"
        )
    validity = row.opt_obj(wire.RP_VALIDITY)
    validity_type = validity.opt_str(wire.RP_VALIDITY_TYPE) if validity else None
    validity_factor = validity.opt_int(wire.RP_VALIDITY_FACTOR) if validity else None
    if validity is None and row.opt_str(wire.RP_VALIDITY) is not None:
        # Tolerate a flat "validity": "<days>".
        validity_factor = row.opt_int(wire.RP_VALIDITY)
    days = validity_factor if validity_type in (None, wire.VALIDITY_TYPE_DAYS) else None
    priority = basic.opt_int(wire.RP_PRIORITY) if basic is not None else None
    if priority is None:
        priority = row.opt_int(wire.RP_PRIORITY)
    # activatedBy moved from basicInfo into subscription in 4.13: read all three places.
    where_activated = [sub, basic, row]
    activated_by = read_activated_by(
        _first_str(where_activated, wire.RP_ACTIVATED_BY),
        _first_str(where_activated, wire.RP_ACTIVATED_BY_NAME),
    )
    resub = sub.opt_str(wire.RP_RESUBSCRIPTION) if sub is not None else None
    volume, zone = _volume_and_zone(row)
    return RatePlan(
        plan_id=plan_id,
        name=_first_str(ident, wire.RP_PLAN_NAME),
        category=_first_str(ident, wire.RP_PLAN_CATEGORY),
        plan_type=_first_str(ident, wire.RP_PLAN_TYPE),
        status=_first_str(ident, wire.RP_STATUS) or _first_str(ident, wire.RP_PLAN_STATUS),
        volume_bytes=volume,
        validity_type=validity_type,
        validity_factor=validity_factor,
        validity_days=days,
        activated_by=activated_by,
        priority=priority,
        rate_zone=zone,
        countries=tuple(row.str_list(wire.RP_COUNTRIES)),
        recurring=None if resub is None else resub.lower() in wire.TRUE_VALUES,
        resubscription_rule=sub.opt_str(wire.RP_RESUBSCRIPTION_RULE) if sub else None,
        occurrences=sub.opt_int(wire.RP_OCCURRENCES) if sub else None,
    )


def parse_rate_plans(env: Envelope) -> list[RatePlan]:
    """Every QueryRatePlan row (``responseParam.rows[]``) as a RatePlan, usable or not; one
    unreadable row raises SFTMalformedResponse."""
    return [parse_rate_plan(r) for r in env.param().objs(wire.ROWS)]


def _why_unusable(plan: RatePlan) -> str | None:
    if plan.category is not None and plan.category.upper() != wire.PLAN_CATEGORY_ADDON:
        return f"not an add-on plan (planCategory {plan.category})"
    if plan.volume_bytes is None:
        return "no data volume (neither benefit[].value nor volume)"
    if plan.volume_bytes <= 0:
        return "data volume is 0"
    if plan.validity_days is None:
        if plan.validity_type is not None and plan.validity_type != wire.VALIDITY_TYPE_DAYS:
            return f"validity is not in days (validityType {plan.validity_type})"
        return "no validity in days (validity.validityFactor missing)"
    if plan.validity_days <= 0:
        return "validity is 0 days"
    return None


def _row_plan_id(row: Reader) -> str | None:
    for r in (row.raw(wire.RP_BASIC_INFO), row.data):
        if isinstance(r, dict):
            value = r.get(wire.RP_PLAN_ID)
            if isinstance(value, str | int) and not isinstance(value, bool):
                text = str(value).strip()
                if text not in wire.ABSENT_VALUES:
                    return text
    return None


def parse_rate_plan_catalogue(env: Envelope) -> RatePlanCatalogue:
    """QueryRatePlan for the catalogue: plans with a data volume (bytes) and a validity in days
    go to ``plans``; every other row goes to ``skipped`` with its reason (an unreadable row
    too, with the parse error, instead of failing the whole read)."""
    plans: list[RatePlan] = []
    skipped: list[SkippedPlan] = []
    for row in env.param().objs(wire.ROWS):
        try:
            plan = parse_rate_plan(row)
        except SFTMalformedResponse as exc:
            reason = f"unreadable row: {exc.result_description}"
            skipped.append(SkippedPlan(plan_id=_row_plan_id(row), reason=reason))
            continue
        why = _why_unusable(plan)
        if why is None:
            plans.append(plan)
        else:
            skipped.append(SkippedPlan(plan_id=plan.plan_id, reason=why))
    return RatePlanCatalogue(plans=tuple(plans), skipped=tuple(skipped))
