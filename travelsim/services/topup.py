"""Buying another add-on for an eSIM: what the eSIM will have afterwards, and whether it may.

Pure rules (no I/O) plus one async platform step (:func:`resume_if_system_suspended`).

The add-on life rules it builds on (effective status, draw order, live count) are in
:mod:`travelsim.esim.addons`; the endpoint lifecycle reasons in :mod:`travelsim.esim.lifecycle`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db
from travelsim.db import SessionFactory
from travelsim.esim.addons import (
    LIVE_ADDON_LIMIT,
    LIVE_STATUSES,
    draw_key,
    effective_status,
    live_count,
)
from travelsim.esim.lifecycle import STAFF_REASONS, SYSTEM_REASONS, endpoint_state
from travelsim.i18n import N_
from travelsim.models import AddonState, Esim, EsimAddon, EsimSync, Plan, utcnow
from travelsim.services import ownership
from travelsim.sft.client import SFTClient
from travelsim.sft.errors import SFTBusinessError, SFTOutcomeUnknown
from travelsim.sft.models import Priority

__all__ = [
    "AddonPreview",
    "ResumeOutcome",
    "TopupDecision",
    "TopupOffer",
    "check_topup_allowed",
    "preview",
    "preview_totals",
    "resume_if_system_suspended",
    "topup_offer",
]

log = logging.getLogger(__name__)

_DAY = timedelta(days=1)


# --------------------------------------------------------------------------- preview
StartRule = Literal["started", "now", "first_use", "after_previous", "at_activation"]


@dataclass(frozen=True)
class AddonPreview:
    """One add-on of the eSIM as it will be right after subscribing the previewed plan.

    Attributes:
        unique_id: SFT ``uniqueId``; ``None`` for the add-on being bought.
        is_new: True for the add-on being bought.
        plan_id, plan_name: the add-on plan.
        state: ``"active"`` (validity running) or ``"waiting"`` (not started), at ``now``.
        remaining_bytes / total_bytes: bytes (``None`` = unknown, never 0 by default).
        started_at: aware UTC start if known (already started, or ``now`` for an Immediate
            add-on bought on an activated endpoint), else ``None``.
        expires_at: aware UTC expiry if the clock runs (start + ``validity_days`` days), else
            ``None`` (it will be start + ``validity_days`` once started).
        validity_days: validity in days, ``None`` if the platform did not report it.
        starts: what starts its clock: ``"started"`` (already running), ``"now"`` (at
            purchase), ``"first_use"`` (first data used), ``"after_previous"`` (first data used
            once every add-on in ``waits_for`` is used up or expired), ``"at_activation"``
            (when the endpoint is first activated).
        order: 1-based position in which data will be drawn (1 = data comes from it now or
            first); running add-ons by draw order, then waiting ones in queue order.
        waits_for: ``uniqueId`` values (``"new"`` for the bought one) that must be used up or
            expired before this one starts.
        clock_runs_before_use: its validity is running (or starts now) although data is drawn
            from another add-on first, so part of it may expire unused (rule 2).
    """

    unique_id: str | None
    is_new: bool
    plan_id: str
    plan_name: str | None
    state: Literal["active", "waiting"]
    remaining_bytes: int | None
    total_bytes: int | None
    started_at: datetime | None
    expires_at: datetime | None
    validity_days: int | None
    starts: StartRule
    order: int
    waits_for: tuple[str, ...]
    clock_runs_before_use: bool


@dataclass
class _Item:
    ref: str
    unique_id: str | None
    plan_id: str
    plan_name: str | None
    started: bool
    immediate: bool
    key: tuple[int, datetime, tuple[int, int, str]]
    remaining: int | None
    total: int | None
    started_at: datetime | None
    expires_at: datetime | None
    validity_days: int | None
    is_new: bool = False


def preview(
    current_addons: Sequence[EsimAddon],
    plan: Plan,
    now: datetime,
    *,
    endpoint_status: str | None = None,
) -> list[AddonPreview]:
    """What the eSIM will have right after subscribing ``plan`` at ``now`` (module rules 1-4).

    Args:
        current_addons: the eSIM's stored add-ons (any status; only live ones are shown).
        plan: the plan to buy (``volume_bytes``, ``validity_days``, ``activated_by``
            ``immediate``/``on_usage``, ``priority``).
        now: aware UTC purchase time.
        endpoint_status: the endpoint's status; ``"Pre-Active"`` means never activated, so an
            Immediate add-on starts at activation instead of now. ``None``: assumed activated.

    Returns the live add-ons plus the new one, ordered by ``order``. Existing add-ons keep
    their data and expiry. Raises ``ValueError`` for a naive ``now``.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware UTC datetime")
    activated = endpoint_state(endpoint_status) != "preactive"
    items: list[_Item] = []
    for a in current_addons:
        status = effective_status(a, now)
        if status not in LIVE_STATUSES:
            continue
        items.append(
            _Item(
                ref=a.unique_id,
                unique_id=a.unique_id,
                plan_id=a.plan_id,
                plan_name=a.plan_name,
                started=status == AddonState.ACTIVE,
                immediate=a.activated_by == "immediate",
                key=draw_key(a),
                remaining=a.remaining_bytes,
                total=a.initial_bytes,
                started_at=a.started_at if status == AddonState.ACTIVE else None,
                expires_at=a.expires_at if status == AddonState.ACTIVE else None,
                validity_days=a.validity_days,
            )
        )
    immediate = plan.activated_by == "immediate"
    starts_now = immediate and activated
    items.append(
        _Item(
            ref="new",
            unique_id=None,
            plan_id=plan.plan_id,
            plan_name=plan.display_name or plan.sft_name,
            started=starts_now,
            immediate=immediate,
            # The youngest subscription: after every existing add-on of equal priority.
            key=(plan.priority, now, (2, 0, "")),
            remaining=plan.volume_bytes,
            total=plan.volume_bytes,
            started_at=now if starts_now else None,
            expires_at=now + plan.validity_days * _DAY if starts_now else None,
            validity_days=plan.validity_days,
            is_new=True,
        )
    )
    # Group 0: clock running, or Immediate (starts at activation); drawn by key.
    # Group 1: waiting On Usage (or unknown activation) add-ons, queued by key (rule 3).
    running = sorted((i for i in items if i.started or i.immediate), key=lambda i: i.key)
    queued = sorted((i for i in items if not (i.started or i.immediate)), key=lambda i: i.key)
    out: list[AddonPreview] = []
    for n, item in enumerate(running, start=1):
        out.append(_view(item, n, (), clock_early=n > 1 and item.started))
    ahead = [i.ref for i in running]
    for n, item in enumerate(queued, start=len(running) + 1):
        out.append(_view(item, n, tuple(ahead), clock_early=False))
        ahead.append(item.ref)
    return out


def _view(
    item: _Item, order: int, waits_for: tuple[str, ...], *, clock_early: bool
) -> AddonPreview:
    starts: StartRule
    if item.started:
        starts = "now" if item.is_new else "started"
    elif item.immediate:
        starts = "at_activation"
    else:
        starts = "after_previous" if waits_for else "first_use"
    return AddonPreview(
        unique_id=item.unique_id,
        is_new=item.is_new,
        plan_id=item.plan_id,
        plan_name=item.plan_name,
        state="active" if item.started else "waiting",
        remaining_bytes=item.remaining,
        total_bytes=item.total,
        started_at=item.started_at,
        expires_at=item.expires_at,
        validity_days=item.validity_days,
        starts=starts,
        order=order,
        waits_for=waits_for,
        clock_runs_before_use=clock_early,
    )


def preview_totals(previews: Sequence[AddonPreview]) -> tuple[int | None, int | None]:
    """``(remaining_bytes, total_bytes)`` summed over ``previews``; each is ``None`` if any
    add-on's figure is unknown."""
    remaining = [p.remaining_bytes for p in previews]
    total = [p.total_bytes for p in previews]
    return (
        None if any(r is None for r in remaining) else sum(r or 0 for r in remaining),
        None if any(t is None for t in total) else sum(t or 0 for t in total),
    )


# --------------------------------------------------------------------------- may we sell it?
TopupRefusal = Literal["addon_limit", "suspended_by_staff", "suspended_unknown", "no_sim"]


@dataclass(frozen=True)
class TopupDecision:
    """Whether a top-up may be sold, decided **before payment**.

    Attributes:
        allowed: True if the traveler may pay for another add-on.
        resume_first: the endpoint is suspended by the system (reason "1"/"2"): provisioning must
            resume it (``EndPointLifeCycleChange "A"``, docs/business-rules.md#top-up-rules) before
            subscribing.
        refusal: why not (``None`` when allowed): ``addon_limit`` (15 live add-ons),
            ``suspended_by_staff`` (reason "3" CSR), ``suspended_unknown`` (suspended, reason
            not reported), ``no_sim`` (endpoint in Hold).
        message: traveler-facing explanation when refused (or a hint when ``resume_first``): an
            English catalog text (``N_``), translated by the page that shows it.
        live_addons: live (waiting + active) add-ons counted.
    """

    allowed: bool
    resume_first: bool
    refusal: TopupRefusal | None
    message: str | None
    live_addons: int


def check_topup_allowed(
    addons: Sequence[EsimAddon],
    endpoint_status: str | None,
    lifecycle_reason: str | None,
    *,
    now: datetime | None = None,
) -> TopupDecision:
    """Decide whether another add-on may be sold for this eSIM (checked before payment).

    Rules, in this order:

    * Endpoint in **Hold** (no SIM linked; the platform refuses add-ons, code 6420) → refused
      ``no_sim``.
    * **Suspended** with reason "3" (CSR, i.e. by staff) → refused ``suspended_by_staff``,
      "contact support". Suspended with no reason reported → refused ``suspended_unknown``
      (the portal cannot tell who suspended it; also "contact support").
    * :data:`LIVE_ADDON_LIMIT` live add-ons or more (waiting + active at ``now``; ``unknown``
      statuses are not counted, the platform's 9010 answer stays the backstop) → refused
      ``addon_limit``.
    * Suspended with reason "1" System or "2" Dunning (automatic, e.g. out of balance) →
      allowed with ``resume_first=True``.
    * Anything else (Active, Pre-Active, unknown status) → allowed.

    The lifecycle reason only matters while the endpoint is Suspended (the platform keeps the
    reason of the last suspension after a resume). Follows docs/business-rules.md#top-up-rules.
    """
    live = live_count(addons, now)
    state = endpoint_state(endpoint_status)
    reason = (lifecycle_reason or "").strip() or None
    if state == "hold":
        return TopupDecision(
            False,
            False,
            "no_sim",
            N_("This eSIM is no longer linked to a SIM. Please contact support."),
            live,
        )
    suspended = state == "suspended"
    if suspended and reason in STAFF_REASONS:
        return TopupDecision(
            False,
            False,
            "suspended_by_staff",
            N_("This eSIM has been suspended by our team. Please contact support."),
            live,
        )
    if suspended and reason not in SYSTEM_REASONS:
        return TopupDecision(
            False,
            False,
            "suspended_unknown",
            N_("This eSIM is suspended. Please contact support."),
            live,
        )
    if live >= LIVE_ADDON_LIMIT:
        return TopupDecision(
            False,
            False,
            "addon_limit",
            # No figure in the text: the callers translate the catalog text as is.
            N_(
                "This eSIM already holds as many plans as it can, waiting or active. Buy more "
                "once one of them is used up or expired."
            ),
            live,
        )
    if suspended:
        return TopupDecision(
            True,
            True,
            None,
            N_("Your eSIM is paused because its data ran out; it resumes with this purchase."),
            live,
        )
    return TopupDecision(True, False, None, None, live)


# --------------------------------------------------------------------------- page loader
@dataclass(frozen=True)
class TopupOffer:
    """Everything the top-up page shows before payment.

    Attributes:
        esim_id, plan_id: what is being bought for which eSIM.
        decision: :func:`check_topup_allowed` on the stored add-ons and endpoint status.
        previews: :func:`preview` (the eSIM right after the purchase), ordered by ``order``.
        remaining_after / total_after: :func:`preview_totals` (bytes; ``None`` = unknown).
        figures_at: when the stored figures were last read (``EsimSync.synced_at``), ``None``
            if never: the preview is only as fresh as they are.
    """

    esim_id: int
    plan_id: str
    decision: TopupDecision
    previews: list[AddonPreview]
    remaining_after: int | None
    total_after: int | None
    figures_at: datetime | None


async def topup_offer(
    session: AsyncSession, *, user_id: int, esim_id: int, plan_id: str, now: datetime
) -> TopupOffer | None:
    """Load the stored add-ons and status of ``user_id``'s eSIM and combine
    :func:`check_topup_allowed` with :func:`preview` for ``plan_id`` at ``now`` (aware UTC).
    No platform call (refresh first with ``usage_refresh.refresh_now`` for fresher figures).
    Returns ``None`` if the eSIM is not this user's (``ownership.is_owner``) or the plan is
    unknown.
    """
    esim = await ownership.owned_esim(session, user_id, esim_id)
    plan = await session.get(Plan, plan_id)
    if esim is None or plan is None:
        return None
    addons = list(
        (await session.exec(select(EsimAddon).where(col(EsimAddon.esim_id) == esim_id))).all()
    )
    sync = await session.get(EsimSync, esim_id)
    status = (sync.endpoint_status if sync else None) or esim.endpoint_status
    reason = sync.lifecycle_reason if sync else None
    decision = check_topup_allowed(addons, status, reason, now=now)
    previews = preview(addons, plan, now, endpoint_status=status)
    remaining, total = preview_totals(previews)
    return TopupOffer(
        esim_id=esim_id,
        plan_id=plan_id,
        decision=decision,
        previews=previews,
        remaining_after=remaining,
        total_after=total,
        figures_at=sync.synced_at if sync else None,
    )


# --------------------------------------------------------------------------- resume
@dataclass(frozen=True)
class ResumeOutcome:
    """Result of :func:`resume_if_system_suspended`.

    Attributes:
        status: ``"resumed"`` (Suspended → Active by this call, or found Active after an
            uncertain call), ``"not_suspended"`` (nothing to do), ``"refused"`` (suspended by
            staff or for an unknown reason: left alone).
        endpoint_status: the endpoint status last read/reported (e.g. ``"Active"``).
        lifecycle_reason: the suspension reason last read (``None`` if not reported).
    """

    status: Literal["resumed", "not_suspended", "refused"]
    endpoint_status: str | None
    lifecycle_reason: str | None


async def resume_if_system_suspended(
    client: SFTClient,
    esim: Esim,
    *,
    priority: Priority = Priority.PROVISIONING,
    session_factory: SessionFactory | None = db.session,
) -> ResumeOutcome:
    """Resume ``esim``'s endpoint if it is Suspended by the system (reason "1"/"2").

    Reads the endpoint profile first (never trusts the stored status), then sends
    ``EndPointLifeCycleChange lifeCycle "A" reason "1"``
    (docs/sft-platform.md#endpointlifecyclechange). The call is never resent: on
    :class:`SFTOutcomeUnknown` (timeout, 5xx, 10239/10240) or 9005 (invalid transition: someone else
    changed it) the status is re-read (``simStatus`` of ``fetchSIM?iccid=``,
    docs/sft-platform.md#fetchsim), and the endpoint counts as resumed only if it now reads
    Active (docs/business-rules.md#top-up-rules); an unreadable status is "unknown: re-check
    later" (SFTOutcomeUnknown), never "not resumed yet".

    With ``session_factory`` (default: the app database) the status read is mirrored into
    ``Esim.endpoint_status`` and ``EsimSync``; pass ``None`` to write nothing.

    Raises SFTOutcomeUnknown (still Suspended after an uncertain call: re-check later, do not
    resend), SFTBusinessError (other refusals), and the client's read errors (SFTTransportError,
    SFTAuthError, SFTRateLimited, SFTMalformedResponse).
    """
    profile = await client.endpoint_profile(esim.endpoint_id, priority=priority)
    status, reason = profile.status, profile.lifecycle_reason
    if endpoint_state(status) != "suspended":
        outcome = ResumeOutcome("not_suspended", status, reason)
    elif (reason or "").strip() not in SYSTEM_REASONS:
        outcome = ResumeOutcome("refused", status, reason)
    else:
        try:
            result = await client.change_lifecycle(esim.endpoint_id, "A", "1", priority=priority)
            outcome = ResumeOutcome("resumed", result.current_status or "Active", reason)
        except (SFTOutcomeUnknown, SFTBusinessError) as exc:
            if isinstance(exc, SFTBusinessError) and exc.result_code != "9005":
                raise
            again = await client.sim_status(
                esim.iccid, endpoint_id=esim.endpoint_id, priority=priority
            )
            if again is None:
                log.warning("resume outcome unknown; status unreadable", extra={"esim_id": esim.id})
                why = "status unreadable after resume"
                raise SFTOutcomeUnknown(
                    exc.operation, exc.http_status, exc.result_code, why
                ) from exc
            if endpoint_state(again) != "active":
                log.warning(
                    "resume outcome unknown; endpoint still not active",
                    extra={"esim_id": esim.id, "status": again},
                )
                raise
            outcome = ResumeOutcome("resumed", again, None)
    if session_factory is not None and esim.id is not None:
        await _mirror_status(session_factory, esim.id, outcome)
    return outcome


async def _mirror_status(factory: SessionFactory, esim_id: int, outcome: ResumeOutcome) -> None:
    async with factory() as s:
        row = await s.get(Esim, esim_id)
        if (
            row is not None
            and outcome.endpoint_status
            and row.endpoint_status != (outcome.endpoint_status)
        ):
            row.endpoint_status = outcome.endpoint_status
            row.updated_at = utcnow()
            s.add(row)
        sync = await s.get(EsimSync, esim_id)
        if sync is not None and (
            sync.endpoint_status != outcome.endpoint_status
            or sync.lifecycle_reason != outcome.lifecycle_reason
        ):
            sync.endpoint_status = outcome.endpoint_status
            sync.lifecycle_reason = outcome.lifecycle_reason
            s.add(sync)
        await s.commit()
