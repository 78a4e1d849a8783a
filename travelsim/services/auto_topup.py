"""Automatic top-up of one eSIM: the traveler's rule, what the eSIM page shows of it, and the
pure rules the firing (``services.auto_topup_fire``) applies
(docs/business-rules.md#automatic-top-up).

A rule says: when the live data left (bytes, summed over the waiting and active add-ons) falls
to a threshold (bytes, or a percentage of the current add-on's initial bytes), buy one of the
top-up plans offered for this eSIM today with one of the traveler's saved cards, at most
``monthly_cap`` times per calendar month (UTC). It is off until the traveler turns it on, and
every call here re-checks that the eSIM is theirs (``ownership.owned_esim``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.esim.addons import order_addons
from travelsim.i18n import N_
from travelsim.models import (
    AutoTopupCharge,
    AutoTopupChargeStatus,
    AutoTopupRule,
    EsimAddon,
    EsimSync,
    Order,
    OrderStatus,
    Plan,
    SavedCard,
    utcnow,
)
from travelsim.services import catalogue, consent, ownership, saved_cards, topup
from travelsim.services.my_esims import data_state, live_totals

__all__ = [
    "CHARGED",
    "DEFAULT_CAP",
    "MAX_CAP",
    "STOP_MESSAGES",
    "AutoTopupError",
    "AutoTopupView",
    "ChargeRow",
    "Figures",
    "charges_this_month",
    "disable",
    "enable",
    "figures_of",
    "month_of",
    "offered_plans",
    "threshold_bytes",
    "validity_ends_first",
    "view",
]

DEFAULT_CAP = 2
MAX_CAP = 10
#: A percentage threshold: 1 to 90 % of the current add-on's data.
PERCENT_RANGE = (1, 90)
#: A byte threshold: 1 MiB to 100 GiB.
BYTES_RANGE = (1_048_576, 100 * 1_073_741_824)
#: Charge statuses that count against the monthly cap (an amount was held or is being held).
CHARGED = (
    AutoTopupChargeStatus.PENDING,
    AutoTopupChargeStatus.CHARGED,
    AutoTopupChargeStatus.REQUIRES_ACTION,
)

#: Why a rule stopped, in the traveler's words (English catalog texts, translated where shown).
STOP_MESSAGES: dict[str, str] = {
    "cap_reached": N_("It stopped: the monthly limit of automatic top-ups was reached."),
    "declined": N_("It stopped: your card was declined. Nothing was charged."),
    "authentication_required": N_(
        "It stopped: your bank asks you to confirm the payment. Finish it on the payment page."
    ),
    "suspended": N_("It stopped: this eSIM is suspended."),
    "card_removed": N_("It stopped: the saved card was removed."),
    "validity": N_("It stopped: the new data could not be used before its validity ends."),
    "plan_unavailable": N_("It stopped: the chosen plan is no longer offered for this eSIM."),
    "addon_limit": N_("It stopped: this eSIM already holds as many plans as it can."),
    "payment_error": N_("It stopped: the payment service did not answer. Nothing was charged."),
    "not_delivered": N_(
        "It stopped: the last top-up could not be delivered, so nothing was charged. Turn it "
        "on again to try once more."
    ),
}


class AutoTopupError(Exception):
    """A rule that cannot be saved: ``code`` is ``not_found`` (not the traveler's eSIM),
    ``bad_threshold``, ``bad_cap``, ``bad_plan`` (not offered for this eSIM today) or
    ``no_card`` (not one of the traveler's saved cards)."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(code)


def month_of(at: datetime) -> str:
    """The calendar month (UTC) of aware ``at``: ``"2026-12"``."""
    return at.astimezone(UTC).strftime("%Y-%m")


def threshold_bytes(kind: str, value: int, current: EsimAddon | None) -> int | None:
    """The threshold in bytes of data left: ``value`` for ``bytes``; for ``percent``,
    ``value`` % of ``current``'s initial bytes (rounded down), ``None`` when there is no
    current add-on or its size is unknown."""
    if kind == "bytes":
        return value
    if current is None or current.initial_bytes is None:
        return None
    return current.initial_bytes * value // 100


@dataclass(frozen=True)
class Figures:
    """An eSIM's live figures as a rule reads them: ``data_state`` (``my_esims.DataState``),
    ``remaining`` (bytes left over the live add-ons; ``None`` unknown), ``current`` (the
    add-on data is drawn from, else the one that ran last)."""

    data_state: str
    remaining: int | None
    current: EsimAddon | None


def figures_of(addons: Sequence[EsimAddon], synced: bool, now: datetime) -> Figures:
    """:class:`Figures` of stored ``addons`` at aware ``now`` (``synced``: ever read)."""
    ordered = order_addons(addons, now)
    remaining, total = live_totals(ordered.live, synced)
    return Figures(
        data_state(ordered, remaining, total, synced), remaining, ordered.current or ordered.last
    )


def validity_ends_first(
    addons: Sequence[EsimAddon], plan: Plan, now: datetime, endpoint_status: str | None
) -> bool:
    """True when ``plan`` bought at ``now`` could not be used before its validity ends.

    On the platform's add-on queue (docs/esim.md#f11-add-on-queue) a new On Usage add-on waits
    and starts its own clock when data first comes from it, so it never expires unused. An
    Immediate one starts its clock at purchase (``topup.preview``) while data is still drawn
    from the add-ons ahead of it: if one of those that still has data runs at least as long
    as the new one, the new one would expire before the traveler could use it (inferred from
    the draw rules, docs/business-rules.md#add-on-life)."""
    previews = topup.preview(addons, plan, now, endpoint_status=endpoint_status)
    new = next(p for p in previews if p.is_new)
    if new.expires_at is None:
        return False
    ahead = [
        p.expires_at
        for p in previews
        if p.order < new.order and p.expires_at is not None and (p.remaining_bytes or 0) > 0
    ]
    return bool(ahead) and max(ahead) >= new.expires_at


async def offered_plans(
    session: AsyncSession, user_id: int, esim_id: int, now: datetime
) -> list[Plan]:
    """The top-up plans offered for the traveler's eSIM today: sellable plans covering its
    destination (every sellable plan when it has none), when ``topup.topup_offer`` allows a
    top-up. Empty for an eSIM that is not theirs or that may not take another plan."""
    esim = await ownership.owned_esim(session, user_id, esim_id)
    if esim is None:
        return []
    plans = await catalogue.sellable_plans(session)
    if esim.destination:
        plans = [p for p in plans if esim.destination.upper() in p.destinations]
    if not plans:
        return []
    offer = await topup.topup_offer(
        session, user_id=user_id, esim_id=esim_id, plan_id=plans[0].plan_id, now=now
    )
    return plans if offer is not None and offer.decision.allowed else []


async def _rule_of(session: AsyncSession, esim_id: int) -> AutoTopupRule | None:
    return (
        await session.exec(
            select(AutoTopupRule)
            .where(col(AutoTopupRule.esim_id) == esim_id)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()


async def enable(
    session: AsyncSession,
    *,
    user_id: int,
    esim_id: int,
    kind: str,
    value: int,
    plan_id: str,
    saved_card_id: int,
    monthly_cap: int = DEFAULT_CAP,
    currency: str | None = None,
    acceptance: consent.Acceptance | None = None,
) -> AutoTopupRule:
    """Turn the eSIM's automatic top-up on with these settings (the traveler confirmed the
    statement); commits. ``acceptance``: the terms and the immediate-start request the
    confirmation also gave, recorded on the rule and copied onto every checkout it opens
    (docs/legal.md#automatic-top-up-and-other-orders). ``kind`` ``bytes`` (``value``
    bytes) or ``percent`` (``value`` %);
    ``currency``: ISO 4217 the checkout is priced in (``None``: the base price). The rule is
    armed unless the add-on its last charge bought is still being delivered; charges made
    before stay listed. Raises :class:`AutoTopupError`."""
    now = utcnow()
    if await ownership.owned_esim(session, user_id, esim_id) is None:
        raise AutoTopupError("not_found")
    low, high = PERCENT_RANGE if kind == "percent" else BYTES_RANGE
    if kind not in ("bytes", "percent") or not low <= value <= high:
        raise AutoTopupError("bad_threshold")
    if not 1 <= monthly_cap <= MAX_CAP:
        raise AutoTopupError("bad_cap")
    if plan_id not in {p.plan_id for p in await offered_plans(session, user_id, esim_id, now)}:
        raise AutoTopupError("bad_plan")
    card = await session.get(SavedCard, saved_card_id)
    if card is None or card.user_id != user_id:
        raise AutoTopupError("no_card")
    rule = await _rule_of(session, esim_id) or AutoTopupRule(
        esim_id=esim_id,
        user_id=user_id,
        threshold_kind=kind,
        threshold_value=value,
        plan_id=plan_id,
    )
    rule.user_id, rule.threshold_kind, rule.threshold_value = user_id, kind, value
    rule.plan_id, rule.saved_card_id, rule.monthly_cap = plan_id, saved_card_id, monthly_cap
    rule.currency = currency
    rule.enabled, rule.stop_reason, rule.stopped_at = True, None, None
    if acceptance is not None:
        consent.apply(rule, acceptance)
    rule.armed = rule.id is None or not await _purchase_in_flight(session, rule.id)
    rule.updated_at = now
    session.add(rule)
    await session.commit()
    return rule


async def _purchase_in_flight(session: AsyncSession, rule_id: int) -> bool:
    """True when the rule's last charge bought an add-on that is not delivered yet (order
    ``paid`` or ``provisioning``): turning the rule off and on again before it arrives must
    not buy a second time for the same crossing, so the rule stays disarmed until the data
    reads above the threshold."""
    last = (
        await session.exec(
            select(AutoTopupCharge)
            .where(col(AutoTopupCharge.rule_id) == rule_id)
            .order_by(col(AutoTopupCharge.id).desc())
            .limit(1)
        )
    ).first()
    if last is None or last.order_id is None:
        return False
    order = await session.get(Order, last.order_id)
    return order is not None and order.status in (OrderStatus.PAID, OrderStatus.PROVISIONING)


async def disable(session: AsyncSession, *, user_id: int, esim_id: int) -> bool:
    """Turn the traveler's automatic top-up of ``esim_id`` off (no reason: their choice);
    commits. ``False`` when the eSIM is not theirs or has no rule on."""
    if await ownership.owned_esim(session, user_id, esim_id) is None:
        return False
    rule = await _rule_of(session, esim_id)
    if rule is None or not rule.enabled:
        return False
    rule.enabled, rule.stop_reason, rule.stopped_at = False, None, utcnow()
    rule.updated_at = utcnow()
    session.add(rule)
    await session.commit()
    return True


@dataclass(frozen=True)
class ChargeRow:
    """A charge of the rule as the page lists it: ``at`` (UTC), ``plan_id``, ``status``,
    ``amount_minor``/``currency``, ``card_label``, ``order_id`` (``None``: no order),
    ``checkout_id`` (where a 3-D Secure payment is finished)."""

    at: datetime
    plan_id: str
    status: str
    amount_minor: int
    currency: str
    card_label: str
    order_id: str | None
    checkout_id: str | None


@dataclass(frozen=True)
class AutoTopupView:
    """What the eSIM page shows of the automatic top-up.

    ``rule``: the stored rule (``None``: never turned on). ``plans``: the top-up plans it may
    buy today; ``cards``: the traveler's saved cards. ``threshold``: the trigger point in
    bytes now (``None`` unknown), ``remaining``: live bytes left now (``None`` unknown).
    ``charges``: newest first. ``this_month``: charges counted against the cap this month.
    """

    rule: AutoTopupRule | None
    plans: list[Plan]
    cards: list[saved_cards.CardRow]
    threshold: int | None
    remaining: int | None
    charges: list[ChargeRow]
    this_month: int


async def view(
    session: AsyncSession, *, user_id: int, esim_id: int, now: datetime | None = None
) -> AutoTopupView | None:
    """The :class:`AutoTopupView` of the traveler's eSIM (``None``: not theirs). No
    platform call: the figures are the stored ones."""
    now = now or utcnow()
    if await ownership.owned_esim(session, user_id, esim_id) is None:
        return None
    rule = await _rule_of(session, esim_id)
    addons = (await session.exec(select(EsimAddon).where(col(EsimAddon.esim_id) == esim_id))).all()
    figures = figures_of(addons, await session.get(EsimSync, esim_id) is not None, now)
    threshold = (
        threshold_bytes(rule.threshold_kind, rule.threshold_value, figures.current)
        if rule is not None
        else None
    )
    charges: list[ChargeRow] = []
    month_count = 0
    if rule is not None:
        rows = (
            await session.exec(
                select(AutoTopupCharge)
                .where(col(AutoTopupCharge.rule_id) == rule.id)
                .order_by(col(AutoTopupCharge.id).desc())
            )
        ).all()
        charges = [
            ChargeRow(
                r.created_at,
                r.plan_id,
                r.status,
                r.amount_minor,
                r.currency,
                r.card_label,
                r.order_id,
                r.checkout_id,
            )
            for r in rows
        ]
        month_count = await charges_this_month(session, rule.id or 0, now)
    return AutoTopupView(
        rule=rule,
        plans=await offered_plans(session, user_id, esim_id, now),
        cards=await saved_cards.list_cards(session, user_id),
        threshold=threshold,
        remaining=figures.remaining,
        charges=charges,
        this_month=month_count,
    )


async def charges_this_month(session: AsyncSession, rule_id: int, now: datetime) -> int:
    """Charges of rule ``rule_id`` in ``now``'s calendar month (UTC) that count against the
    cap (:data:`CHARGED`)."""
    count = await session.exec(
        select(func.count())
        .select_from(AutoTopupCharge)
        .where(
            col(AutoTopupCharge.rule_id) == rule_id,
            col(AutoTopupCharge.month) == month_of(now),
            col(AutoTopupCharge.status).in_(CHARGED),
        )
    )
    return int(count.one())
