"""Firing the automatic top-up once the live data falls to its threshold
(docs/business-rules.md#automatic-top-up).

:func:`on_figures` is registered with ``figures_hooks``: the usage sync and the callback
processing call it after committing new figures. For each eSIM with a rule on:

1. **Claim the crossing** (:func:`_claim`). Data left above the threshold re-arms the rule
   (``armed`` false → true). At or below it, ``UPDATE auto_topup_rule SET armed = false,
   crossings = crossings + 1 WHERE id = … AND enabled AND armed AND crossings = <seen>`` and
   the insert of the crossing's ``AutoTopupCharge`` (unique ``(rule_id, crossing)``) commit
   together: of the sync, a callback and another worker seeing the same crossing, exactly one
   changes the row, the others change nothing and stop.
2. **Check before paying** (:func:`_stop_reason`): suspended (or not linked to a SIM), 15 live
   add-ons, the saved card removed, the plan no longer offered, the validity rule
   (``auto_topup.validity_ends_first``; an add-on that ran out by expiring), the monthly cap.
   Any of them turns the rule off with the reason and queues an email; nothing is charged.
3. **Buy** (:func:`_buy`) through the ordinary top-up path: ``checkout.start_checkout``
   (``topup``) and ``checkout_payment.pay`` with the saved card, ``off_session=True``
   (manual capture; the order, its provisioning with capture on delivery, receipts and
   refunds as for any top-up). A held amount → ``charged`` and the charge email; the bank
   wanting 3-D Secure (``requires_action`` at localstripe, ``CardError``
   ``authentication_required`` at Stripe) → rule off and an email linking to the checkout
   page, which runs ``confirmCardPayment``; declined → rule off and an email.
4. **Given up** (:func:`on_order_given_up`, an ``order_hooks`` hook): a bought top-up whose
   provisioning was given up (hold voided) stops the rule with ``not_delivered``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db, urls
from travelsim.db import SessionFactory
from travelsim.models import (
    AutoTopupCharge,
    AutoTopupChargeStatus,
    AutoTopupRule,
    Esim,
    EsimAddon,
    EsimSync,
    Order,
    Plan,
    PurchaseKind,
    SavedCard,
    User,
    utcnow,
)
from travelsim.services import (
    auto_topup,
    auto_topup_emails,
    checkout,
    checkout_payment,
    consent,
    email,
    figures_hooks,
    live,
    order_hooks,
    ownership,
    platform,
    topup,
)
from travelsim.services.checkout_errors import CheckoutError
from travelsim.services.checkout_outcome import PayStatus
from travelsim.services.my_esims import esim_title
from travelsim.services.order_creation import StartProvisioning
from travelsim.services.payments import PaymentProvider, get_provider

__all__ = ["check_esims", "on_figures", "on_order_given_up"]

log = logging.getLogger(__name__)

_SUSPENDED = frozenset({"no_sim", "suspended_by_staff", "suspended_unknown"})


async def on_figures(esim_ids: list[int], session_factory: SessionFactory) -> None:
    """The ``figures_hooks`` hook: :func:`check_esims` with the app's Stripe and provisioning
    (``platform.ensure_provisioning``, read at call time)."""
    await check_esims(esim_ids, session_factory=session_factory)


figures_hooks.register(on_figures)


async def on_order_given_up(order_id: str) -> None:
    """The ``order_hooks`` hook: a top-up this rule bought was given up (its hold voided:
    nothing charged), so the data it was to add never comes and the crossing that bought it
    cannot re-arm the rule. The charge becomes ``failed`` (it leaves the monthly cap) and
    the rule stops with ``not_delivered``, by email and on the page."""
    async with db.session() as s:
        charge = (
            await s.exec(
                select(AutoTopupCharge).where(
                    col(AutoTopupCharge.order_id) == order_id,
                    col(AutoTopupCharge.status) == AutoTopupChargeStatus.CHARGED,
                )
            )
        ).first()
        if charge is None:
            return
        rule = await s.get(AutoTopupRule, charge.rule_id)
        if rule is None or not rule.enabled:  # turned off meanwhile: only the charge's status
            charge.status = AutoTopupChargeStatus.FAILED
            s.add(charge)
            await s.commit()
            return
        await _stop(s, rule, charge, AutoTopupChargeStatus.FAILED, "not_delivered")


order_hooks.register_given_up(on_order_given_up)


async def check_esims(
    esim_ids: Sequence[int],
    *,
    session_factory: SessionFactory = db.session,
    provider: PaymentProvider | None = None,
    start_provisioning: StartProvisioning | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Apply the rules of ``esim_ids`` (module docstring); one short session per step, no
    transaction held across Stripe. ``start_provisioning``: given the new order's id
    (default ``platform.ensure_provisioning``). Returns, per rule that fired, the charge's
    final status (``charged``, ``requires_action``, ``declined``, ``capped``, ``skipped``,
    ``failed``)."""
    async with session_factory() as s:
        rule_ids = (
            await s.exec(
                select(AutoTopupRule.id).where(
                    col(AutoTopupRule.esim_id).in_(list(esim_ids)), col(AutoTopupRule.enabled)
                )
            )
        ).all()
    done: list[str] = []
    for rule_id in rule_ids:
        assert rule_id is not None
        claimed = await _claim(session_factory, rule_id, now or utcnow())
        if claimed is not None:
            starter = start_provisioning or platform.ensure_provisioning
            done.append(await _fire(session_factory, claimed, provider, starter, now or utcnow()))
    return done


async def _claim(factory: SessionFactory, rule_id: int, now: datetime) -> int | None:
    """Re-arm the rule above its threshold, or claim its crossing at or below it: the id of
    the new ``AutoTopupCharge`` (``None``: nothing to buy, or another caller claimed it)."""
    async with factory() as s:
        rule = await s.get(AutoTopupRule, rule_id, populate_existing=True)
        if rule is None or not rule.enabled:
            return None
        addons = (
            await s.exec(select(EsimAddon).where(col(EsimAddon.esim_id) == rule.esim_id))
        ).all()
        figures = auto_topup.figures_of(
            addons, await s.get(EsimSync, rule.esim_id) is not None, now
        )
        limit = auto_topup.threshold_bytes(
            rule.threshold_kind, rule.threshold_value, figures.current
        )
        if figures.data_state not in ("live", "used_up", "expired") or figures.remaining is None:
            return None  # unknown figures never fire (docs/esim.md#f9-usage-lag)
        if limit is None:
            return None
        if figures.data_state == "live" and figures.remaining > limit:
            if not rule.armed:
                await _set(s, rule.id, {"armed": True}, armed=False)
                await s.commit()
            return None
        if not rule.armed:
            return None
        seen = rule.crossings
        won = await _set(s, rule.id, {"armed": False, "crossings": seen + 1}, armed=True, seen=seen)
        if not won:
            await s.rollback()
            return None
        charge = AutoTopupCharge(
            rule_id=rule_id,
            crossing=seen + 1,
            esim_id=rule.esim_id,
            plan_id=rule.plan_id,
            month=auto_topup.month_of(now),
            detail="expired" if figures.data_state == "expired" else None,
            created_at=now,
        )
        s.add(charge)
        try:
            await s.commit()
        except IntegrityError:  # the crossing's charge row exists: another caller bought
            await s.rollback()
            return None
        log.info("auto top-up crossing claimed", extra={"rule_id": rule_id, "crossing": seen + 1})
        return charge.id


async def _set(
    s: AsyncSession,
    rule_id: int | None,
    values: dict[str, object],
    *,
    armed: bool,
    seen: int | None = None,
) -> bool:
    """Compare-and-set on the rule: ``values`` where it is enabled, ``armed`` as given (and
    ``crossings == seen``). True when this call changed the row."""
    query = update(AutoTopupRule).where(
        col(AutoTopupRule.id) == rule_id,
        col(AutoTopupRule.enabled),
        col(AutoTopupRule.armed) == armed,
    )
    if seen is not None:
        query = query.where(col(AutoTopupRule.crossings) == seen)
    result = await s.execute(
        query.values(**values, updated_at=utcnow()).execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


async def _fire(
    factory: SessionFactory,
    charge_id: int | None,
    provider: PaymentProvider | None,
    start_provisioning: StartProvisioning,
    now: datetime,
) -> str:
    """Check, then buy, for the claimed charge ``charge_id``; its final status."""
    async with factory() as s:
        charge = await s.get(AutoTopupCharge, charge_id)
        assert charge is not None
        rule = await s.get(AutoTopupRule, charge.rule_id)
        assert rule is not None
        card = await s.get(SavedCard, rule.saved_card_id) if rule.saved_card_id else None
        if card is not None and card.user_id == rule.user_id:
            charge.card_label = saved_cards_label(card)
        reason = await _stop_reason(s, rule, charge, card, now)
        if reason is not None:
            status = (
                AutoTopupChargeStatus.CAPPED
                if reason == "cap_reached"
                else AutoTopupChargeStatus.SKIPPED
            )
            await _stop(s, rule, charge, status, reason)
            return status
        s.add(charge)
        await s.commit()
        user = await s.get(User, rule.user_id)
        assert user is not None and card is not None and card.id is not None
        return await _buy(s, rule, charge, user, card.id, provider, start_provisioning)


def saved_cards_label(card: SavedCard) -> str:
    """``"Visa •••• 4242"`` (as ``saved_cards.CardRow.label``)."""
    return f"{card.brand or 'Card'} •••• {card.last4}"


async def _stop_reason(
    s: AsyncSession,
    rule: AutoTopupRule,
    charge: AutoTopupCharge,
    card: SavedCard | None,
    now: datetime,
) -> str | None:
    """Why this crossing may not buy (a ``STOP_MESSAGES`` key), in the module's order."""
    esim = await ownership.owned_esim(s, rule.user_id, rule.esim_id)
    if esim is None or esim.id is None:
        return "suspended"
    offer = await topup.topup_offer(
        s, user_id=rule.user_id, esim_id=esim.id, plan_id=rule.plan_id, now=now
    )
    if offer is None:
        return "plan_unavailable"
    if not offer.decision.allowed:
        return "suspended" if offer.decision.refusal in _SUSPENDED else "addon_limit"
    if card is None or card.user_id != rule.user_id:
        return "card_removed"
    if rule.plan_id not in {
        p.plan_id for p in await auto_topup.offered_plans(s, rule.user_id, esim.id, now)
    }:
        return "plan_unavailable"
    plan = await s.get(Plan, rule.plan_id)
    addons = (await s.exec(select(EsimAddon).where(col(EsimAddon.esim_id) == esim.id))).all()
    sync = await s.get(EsimSync, esim.id)
    status = (sync.endpoint_status if sync else None) or esim.endpoint_status
    if charge.detail == "expired" or (
        plan is not None and auto_topup.validity_ends_first(addons, plan, now, status)
    ):
        return "validity"
    if await auto_topup.charges_this_month(s, rule.id or 0, now) > rule.monthly_cap:
        return "cap_reached"  # this crossing's own pending row is counted too
    return None


async def _stop(
    s: AsyncSession,
    rule: AutoTopupRule,
    charge: AutoTopupCharge,
    status: AutoTopupChargeStatus,
    reason: str,
    pay_path: str | None = None,
) -> None:
    """Record ``status`` on the charge, turn the rule off with ``reason`` and queue the
    stop email, in one commit."""
    charge.status = status
    rule.enabled, rule.stop_reason, rule.stopped_at = False, reason, utcnow()
    rule.updated_at = utcnow()
    s.add(charge)
    s.add(rule)
    user = await s.get(User, rule.user_id)
    esim = await s.get(Esim, rule.esim_id)
    if user is not None and esim is not None and esim.id is not None:
        body = auto_topup_emails.stopped_email(
            esim_id=esim.id,
            esim_title=esim_title(esim),
            reason=reason,
            pay_path=pay_path,
            locale=email.recipient_locale(user),
        )
        await email.enqueue(s, to=user.email, user_id=user.id, **body)
    await s.commit()
    live.notify(rule.esim_id)  # an open eSIM page shows the notice
    log.info("auto top-up stopped", extra={"rule_id": rule.id, "reason": reason})


async def _buy(
    s: AsyncSession,
    rule: AutoTopupRule,
    charge: AutoTopupCharge,
    user: User,
    card_id: int,
    provider: PaymentProvider | None,
    start_provisioning: StartProvisioning,
) -> str:
    """The top-up checkout and its off-session payment; the charge's final status."""
    prov = provider or get_provider()
    try:
        opened = await checkout.start_checkout(
            s,
            user=user,
            plan_id=rule.plan_id,
            destination=None,
            kind=PurchaseKind.TOPUP,
            esim_id=rule.esim_id,
            device_confirmed=True,
            currency=rule.currency,
        )
        consent.copy(rule, opened)  # accepted when the rule was turned on
        s.add(opened)
        charge.checkout_id = opened.id
        charge.amount_minor, charge.currency = opened.amount_minor, opened.currency
        s.add(charge)
        await s.commit()
        outcome = await checkout_payment.pay(
            s,
            prov,
            checkout_id=opened.id,
            user=user,
            card=checkout_payment.SavedCardChoice(card_id),
            device_confirmed=True,
            start_provisioning=start_provisioning,
            off_session=True,
        )
    except CheckoutError as exc:
        log.warning("auto top-up not bought", extra={"rule_id": rule.id, "code": exc.code})
        reason = "suspended" if exc.code in _SUSPENDED else "payment_error"
        reason = "addon_limit" if exc.code == "addon_limit" else reason
        await _stop(s, rule, charge, AutoTopupChargeStatus.FAILED, reason)
        return AutoTopupChargeStatus.FAILED
    if outcome.status == PayStatus.PAID and outcome.order_id:
        return await _charged(s, rule, charge, user, outcome.order_id)
    needs_3ds = outcome.status == PayStatus.REQUIRES_ACTION or (
        outcome.status == PayStatus.DECLINED and outcome.error_code == "authentication_required"
    )
    if needs_3ds:
        path = urls.buy(rule.plan_id, checkout=charge.checkout_id)
        await _stop(
            s, rule, charge, AutoTopupChargeStatus.REQUIRES_ACTION, "authentication_required", path
        )
        return AutoTopupChargeStatus.REQUIRES_ACTION
    if outcome.status == PayStatus.DECLINED:
        await _stop(s, rule, charge, AutoTopupChargeStatus.DECLINED, "declined")
        return AutoTopupChargeStatus.DECLINED
    return (
        AutoTopupChargeStatus.PENDING
    )  # another request is charging this checkout: its outcome decides


async def _charged(
    s: AsyncSession, rule: AutoTopupRule, charge: AutoTopupCharge, user: User, order_id: str
) -> str:
    """The amount is held and the order exists: record it and queue the charge email."""
    charge = await s.get(AutoTopupCharge, charge.id, populate_existing=True) or charge
    charge.status, charge.order_id = AutoTopupChargeStatus.CHARGED, order_id
    s.add(charge)
    order = await s.get(Order, order_id)
    esim = await s.get(Esim, rule.esim_id)
    plan = await s.get(Plan, rule.plan_id)
    if order is not None and esim is not None and esim.id is not None and plan is not None:
        body = auto_topup_emails.charged_email(
            esim_id=esim.id,
            esim_title=esim_title(esim),
            plan_title=plan.display_name or plan.sft_name,
            amount_minor=order.amount_minor,
            currency=order.currency,
            card_label=charge.card_label,
            order_reference=order.reference,
            locale=email.recipient_locale(user),
        )
        await email.enqueue(s, to=user.email, user_id=user.id, **body)
    await s.commit()
    live.notify(rule.esim_id)  # an open eSIM page lists the charge
    log.info("auto top-up charged", extra={"rule_id": rule.id, "order_id": order_id})
    return AutoTopupChargeStatus.CHARGED
