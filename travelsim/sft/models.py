"""Typed results of SFT calls. Units: volumes in **bytes** (ints), date-times **aware UTC**
(converted from the platform's zone on read).

These models carry no wire names: ``travelsim.sft.parsing`` builds them from SFT responses
(using ``travelsim.sft.wire``), treating ``"-"`` and ``""`` as absent (``None``). Secret
fields (activation code, matching ID) are excluded from ``repr`` so they never reach logs.
"""

from __future__ import annotations

import datetime as dt
from enum import IntEnum, StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Priority(IntEnum):
    """Who waits least for the shared rate budget: lower value is served first."""

    PROVISIONING = 0
    REFRESH = 1
    SYNC = 2


class AddonStatus(StrEnum):
    """Add-on instance status (docs/sft-platform.md#get-endpoint-add-on-details, ``status``).

    ``WAITING`` is the wire's "Subscribed": subscribed but validity not started (On Usage add-on
    before first data, or endpoint not yet active). ``UNKNOWN`` keeps a sync running if the
    platform adds a status; the raw string is kept in ``AddonDetail.status_raw``.
    """

    WAITING = "WAITING"
    ACTIVE = "ACTIVE"
    EXHAUSTED = "EXHAUSTED"
    EXPIRED = "EXPIRED"
    DEACTIVATED = "DEACTIVATED"
    UNKNOWN = "UNKNOWN"


class ActivatedBy(StrEnum):
    """When an add-on's validity starts (``activatedBy`` in
    docs/sft-platform.md#get-endpoint-add-on-details: 0 On Usage, 1 Immediate)."""

    ON_USAGE = "ON_USAGE"
    IMMEDIATE = "IMMEDIATE"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SimRecord(_Model):
    """One fetchSIM row, with its ``activationCode`` fields (docs/sft-platform.md#fetchsim).

    ``endpoint_id`` is ``None`` when the SIM is not linked (wire ``"-"``). ``activation_code``
    is the full LPA string ``LPA:1$<smdp>$<matchingId>``; it and ``matching_id`` are secrets
    (shown only to the owner, encrypted at rest) and are hidden from ``repr``.
    """

    sim_id: str | None = None
    iccid: str
    eid: str | None = None
    endpoint_id: str | None = None
    sim_status: str | None = None
    attach_status: str | None = None
    esim_profile_status: str | None = None
    msisdn: str | None = None
    imsi: str | None = None
    activation_code: str | None = Field(default=None, repr=False)
    smdp_address: str | None = None
    matching_id: str | None = Field(default=None, repr=False)


class AddonDetail(_Model):
    """One add-on instance from Get Endpoint Add-on Details
    (docs/sft-platform.md#get-endpoint-add-on-details), or built from GetEndPointProfile when
    that read fails (the fallback of the same section).

    Built from the profile (``status_raw == "inferred"``): ``status`` is **inferred** from the
    dates and balance (not started -> WAITING, 0 left -> EXHAUSTED, past expiry -> EXPIRED, else
    ACTIVE); ``activated_by``, ``priority``, ``subscribed_at``, ``addon_id`` and ``unit`` cannot
    be known (``None``); ``validity_days`` is inferred from start and expiry when they are whole
    days apart; only live add-ons are listed.

    Volumes in bytes. ``started_at``/``expires_at`` are ``None`` until validity starts (wire
    ``"-"``). ``used_bytes`` falls back to ``initial_bytes - remaining_bytes`` when the wire
    omits it. Figures lag real traffic (rating delay: the same section, and
    docs/esim.md#f9-usage-lag).
    """

    unique_id: str
    addon_id: str | None = None
    plan_id: str
    plan_name: str | None = None
    endpoint_id: str | None = None
    service: str | None = None
    status: AddonStatus
    status_raw: str
    activated_by: ActivatedBy | None = None
    priority: int | None = None
    subscribed_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    deactivated_at: dt.datetime | None = None
    validity_days: int | None = None
    initial_bytes: int
    remaining_bytes: int
    used_bytes: int
    unit: str | None = None


class PromotionalPlan(_Model):
    """``info.promotionalPlans.plan[]`` of GetEndPointProfile
    (docs/sft-platform.md#getendpointprofile)."""

    unique_id: str | None = None
    plan_id: str | None = None
    plan_name: str | None = None
    service: str | None = None
    started_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None


class Benefit(_Model):
    """``info.benefitInfo.benefit[]`` of GetEndPointProfile
    (docs/sft-platform.md#getendpointprofile): ``initial_bytes`` is ``actualBalance``,
    ``remaining_bytes`` is ``balance``."""

    name: str | None = None
    unique_id: str | None = None
    started_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    initial_bytes: int | None = None
    remaining_bytes: int | None = None


class EndpointProfile(_Model):
    """GetEndPointProfile ``Response.info`` (docs/sft-platform.md#getendpointprofile)."""

    endpoint_id: str | None = None
    iccid: str | None = None
    eid: str | None = None
    name: str | None = None
    msisdn: str | None = None
    imsi: str | None = None
    status: str | None = None
    lifecycle_reason: str | None = None
    esim_profile_status: str | None = None
    plans: tuple[PromotionalPlan, ...] = ()
    benefits: tuple[Benefit, ...] = ()


class DailyUsage(_Model):
    """One GetStatistics ``dataUsage[]`` day (docs/sft-platform.md#getstatistics): MB strings
    converted with 1 MB = 1,048,576 bytes, rounded to the nearest byte."""

    date: dt.date
    bytes: int
    uplink_bytes: int | None = None
    downlink_bytes: int | None = None


class RateZone(_Model):
    id: str | None = None
    name: str | None = None


class RatePlan(_Model):
    """One QueryRatePlan row (docs/sft-platform.md#queryrateplan): an add-on product, read from
    the nested 4.13 shape (``basicInfo``/``benefit[]``/``subscription``/``validity``) or the
    older flat one.

    ``validity_days`` is set when the validity type is "Number of Days" (``"1"``); other types
    keep ``validity_type``/``validity_factor`` only. ``volume_bytes`` is the data benefit in
    bytes. ``recurring`` is ``subscription.reSubscription`` (``None`` when not given: a
    One-Time add-on is removed by the platform once expired or used up).
    """

    plan_id: str
    name: str | None = None
    category: str | None = None
    plan_type: str | None = None
    status: str | None = None
    volume_bytes: int | None = None
    validity_type: str | None = None
    validity_factor: int | None = None
    validity_days: int | None = None
    activated_by: ActivatedBy | None = None
    priority: int | None = None
    rate_zone: RateZone | None = None
    countries: tuple[str, ...] = ()
    recurring: bool | None = None
    resubscription_rule: str | None = None
    occurrences: int | None = None


class SkippedPlan(_Model):
    """A QueryRatePlan row the catalogue cannot sell, and why (docs/sft-platform.md#queryrateplan).

    ``plan_id`` is ``None`` when the row has none; ``reason`` is plain English (e.g.
    ``"validity is not in days (validityType 2)"``)."""

    plan_id: str | None
    reason: str


class RatePlanCatalogue(_Model):
    """QueryRatePlan read for the catalogue: the usable add-on ``plans`` (volume in bytes,
    validity in days) and every ``skipped`` row with its reason."""

    plans: tuple[RatePlan, ...] = ()
    skipped: tuple[SkippedPlan, ...] = ()


class LifecycleResult(_Model):
    """Result of EndPointActivation / EndPointLifeCycleChange
    (docs/sft-platform.md#endpointactivation, docs/sft-platform.md#endpointlifecyclechange).

    ``already_active`` is True when EndPointActivation answered 2507 (treated as success).
    """

    endpoint_id: str
    result_code: str | None = None
    description: str | None = None
    current_status: str | None = None
    previous_status: str | None = None
    already_active: bool = False


class SubscribeResult(_Model):
    """SubscribeAddon success (docs/sft-platform.md#subscribeaddon): ``unique_id`` is the new
    add-on instance."""

    unique_id: str
    plan_id: str | None = None
    endpoint_id: str | None = None
    result_code: str | None = None


class OperationResult(_Model):
    """A state change whose response carries only the result (Modify Endpoint, DeLinkSim)."""

    result_code: str | None = None
    description: str | None = None
