"""Stripe webhook events: verify, apply once, answer (docs/payments.md#webhooks).

:func:`apply_event` is what ``POST /stripe/webhook`` (``travelsim.routes.stripe_webhook``)
runs for every delivery:

1. **Verify** the ``Stripe-Signature`` header against the endpoint's signing secret with
   ``stripe.Webhook.construct_event`` and the timestamp tolerance
   (https://docs.stripe.com/webhooks#verify-events). Unsigned, wrongly signed, stale
   (timestamp older than the tolerance) or malformed deliveries raise
   :class:`WebhookRefused` (the route answers 400) and change nothing.
2. **Claim** the event id: a ``StripeEvent`` row is inserted (and committed) before anything
   is applied. Its primary key is the event id, so a second delivery of the same event (a
   Stripe retry, or a replay of a captured request inside the tolerance) finds the row and
   is answered "already applied" with no change
   (https://docs.stripe.com/webhooks#handle-duplicate-events).
3. **Apply**, trusting Stripe's *current* state rather than the event's snapshot, because
   events may arrive late and in any order (https://docs.stripe.com/webhooks#event-ordering):

   * ``payment_intent.amount_capturable_updated`` / ``.succeeded`` / ``.payment_failed`` /
     ``.canceled``: ``checkout_payment.settle_payment_intent``, which re-reads the
     PaymentIntent at Stripe and moves the payment by conditional updates (the same
     idempotent step as the browser's return path and the status read): a hold creates the
     order and starts provisioning even when the traveler closed the tab;
   * ``charge.refunded`` (fully refunded): the payment of that PaymentIntent becomes
     ``refunded`` if it was ``succeeded`` (a refund made in the Stripe dashboard), with a
     log line and an audit-log row (actor ``stripe``) that staff see; never a second refund;
   * ``charge.dispute.created``: the payment becomes ``flagged`` with ``failure_reason``
     ``"dispute opened at Stripe: <reason>"`` (the admin's orders page and the overview's
     flagged count show it), with an audit-log row;
   * an unknown PaymentIntent or charge is logged and ignored; other event types are
     ignored. Both are answered 200 so Stripe stops resending.

   If Stripe cannot be read now (``PaymentProviderError``), the claim is withdrawn (the row
   deleted) and :class:`WebhookUnavailable` raised: the route answers 503 and Stripe
   retries later. What applying did is stored as ``StripeEvent.outcome``.

A claim left by a crashed worker (outcome still :data:`APPLYING` after
:data:`STALE_CLAIM`) is taken over by the next delivery of that event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import stripe
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db, metrics
from travelsim.db import SessionFactory
from travelsim.models import AuditLog, Order, Payment, PaymentStatus, StripeEvent, utcnow
from travelsim.services import checkout_payment, invoices, platform
from travelsim.services.order_creation import StartProvisioning
from travelsim.services.payments import PaymentProvider, PaymentProviderError

__all__ = [
    "APPLYING",
    "PAYMENT_INTENT_EVENTS",
    "STALE_CLAIM",
    "EventResult",
    "WebhookConfig",
    "WebhookRefused",
    "WebhookUnavailable",
    "apply_event",
]

log = logging.getLogger(__name__)

#: Event types settled by re-reading the PaymentIntent at Stripe.
PAYMENT_INTENT_EVENTS = frozenset(
    {
        "payment_intent.amount_capturable_updated",
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
    }
)
#: ``StripeEvent.outcome`` while an event is being applied.
APPLYING = "applying"
#: A claim older than this, still :data:`APPLYING`, belongs to a worker that died.
STALE_CLAIM = timedelta(minutes=5)
#: Actor of the audit-log rows written for events (no staff member did it).
AUDIT_ACTOR = "stripe"


class WebhookConfig(Protocol):
    """What verification needs (``travelsim.stripe_config.StripeConfig`` has both):
    ``webhook_secret`` (``whsec_…``) and ``webhook_tolerance_seconds``."""

    @property
    def webhook_secret(self) -> str: ...

    @property
    def webhook_tolerance_seconds(self) -> int: ...


class WebhookRefused(Exception):
    """The delivery is not a genuine, fresh Stripe event: ``reason`` is ``unsigned`` (no
    ``Stripe-Signature`` header), ``bad_signature`` (wrong secret, altered body, or a
    timestamp older than the tolerance) or ``malformed`` (not a JSON event). Nothing was
    changed."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class WebhookUnavailable(Exception):
    """Stripe could not be read to apply the event (``code`` of the
    ``PaymentProviderError``). The event was NOT recorded: Stripe's retry applies it."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(code)


@dataclass(frozen=True, slots=True)
class EventResult:
    """What :func:`apply_event` did with a verified event: ``event_id`` (``evt_…``),
    ``type``, ``outcome`` (text, also stored on the ``StripeEvent`` row; at most 200
    characters) and ``duplicate`` (True: this event id was already applied, nothing done)."""

    event_id: str
    type: str
    outcome: str
    duplicate: bool = False


def _verify(payload: bytes, sig_header: str | None, config: WebhookConfig) -> dict[str, Any]:
    """The verified event as a dict. Raises :class:`WebhookRefused`."""
    if not sig_header:
        raise WebhookRefused("unsigned")
    try:
        event = stripe.Webhook.construct_event(
            payload,
            sig_header,
            config.webhook_secret,
            tolerance=config.webhook_tolerance_seconds,
        )
    except stripe.SignatureVerificationError:
        raise WebhookRefused("bad_signature") from None
    except (ValueError, UnicodeDecodeError):  # signed, but not a JSON event
        raise WebhookRefused("malformed") from None
    data = event.to_dict()
    if not isinstance(data.get("id"), str) or not isinstance(data.get("type"), str):
        raise WebhookRefused("malformed")
    return data


def _object(event: dict[str, Any]) -> dict[str, Any]:
    obj = (event.get("data") or {}).get("object")
    return obj if isinstance(obj, dict) else {}


def _ref(value: Any) -> str | None:
    """An id field that may come expanded (a dict with ``id``) or as the id string."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _object_ref(event_type: str, obj: dict[str, Any]) -> str | None:
    """The PaymentIntent (``pi_…``) the event is about, else the object's own id."""
    if event_type.startswith("payment_intent."):
        return _ref(obj.get("id"))
    return _ref(obj.get("payment_intent")) or _ref(obj.get("id"))


async def apply_event(
    payload: bytes,
    sig_header: str | None,
    *,
    config: WebhookConfig,
    provider: PaymentProvider,
    session_factory: SessionFactory = db.session,
    start_provisioning: StartProvisioning | None = platform.ensure_provisioning,
) -> EventResult:
    """Verify, claim and apply one webhook delivery (module docstring).

    Args:
        payload: the raw request body, exactly as received (the signature covers it).
        sig_header: the ``Stripe-Signature`` header (``t=<unix seconds>,v1=<hex>``), or None.
        config: the webhook secret and the timestamp tolerance in seconds.
        provider: Stripe, to re-read PaymentIntents.
        session_factory: database sessions (one short session per step).
        start_provisioning: started with the order id when the event creates an order.

    Returns an :class:`EventResult` (answered 200 by the route). Raises
    :class:`WebhookRefused` (400, nothing changed) and :class:`WebhookUnavailable` (503,
    the event not recorded, Stripe retries)."""
    event = _verify(payload, sig_header, config)
    event_id, event_type = str(event["id"])[:255], str(event["type"])[:64]
    obj = _object(event)
    object_ref = _object_ref(event_type, obj)
    if not await _claim(session_factory, event_id, event_type, object_ref):
        log.info("Stripe event already applied", extra={"event_id": event_id, "type": event_type})
        return EventResult(event_id, event_type, "already applied", duplicate=True)
    created = event.get("created")
    if isinstance(created, int | float):  # first delivery only: a retry's lag is Stripe's
        metrics.observe_lag(metrics.WEBHOOK_LAG, utcnow().timestamp() - float(created))
    try:
        outcome = await _apply(
            session_factory, provider, event_type, obj, object_ref, start_provisioning
        )
    except PaymentProviderError as exc:
        await _release(session_factory, event_id)
        log.warning(
            "Stripe event postponed: Stripe unreadable",
            extra={"event_id": event_id, "type": event_type, "code": exc.code},
        )
        raise WebhookUnavailable(exc.code) from None
    except Exception:
        await _release(session_factory, event_id)
        raise
    outcome = outcome[:200]
    async with session_factory() as s:
        await s.execute(
            update(StripeEvent)
            .where(col(StripeEvent.id) == event_id)
            .values(outcome=outcome)
            .execution_options(synchronize_session=False)
        )
        await s.commit()
    log.info(
        "Stripe event applied",
        extra={"event_id": event_id, "type": event_type, "outcome": outcome},
    )
    return EventResult(event_id, event_type, outcome)


async def _claim(
    session_factory: SessionFactory, event_id: str, event_type: str, object_ref: str | None
) -> bool:
    """Insert the event's row (committed). False when it already exists, unless it is a
    stale :data:`APPLYING` claim, which is taken over (one conditional update)."""
    async with session_factory() as s:
        s.add(
            StripeEvent(
                id=event_id,
                type=event_type,
                object_ref=(object_ref or "")[:64] or None,
                outcome=APPLYING,
                received_at=utcnow(),
            )
        )
        try:
            await s.commit()
            return True
        except IntegrityError:
            await s.rollback()
        now = utcnow()
        taken: Any = await s.execute(
            update(StripeEvent)
            .where(
                col(StripeEvent.id) == event_id,
                col(StripeEvent.outcome) == APPLYING,
                col(StripeEvent.received_at) < now - STALE_CLAIM,
            )
            .values(received_at=now)
            .execution_options(synchronize_session=False)
        )
        await s.commit()
        return bool(taken.rowcount == 1)


async def _release(session_factory: SessionFactory, event_id: str) -> None:
    """Withdraw the claim (the event was not applied): its next delivery applies it."""
    async with session_factory() as s:
        await s.execute(
            delete(StripeEvent).where(
                col(StripeEvent.id) == event_id, col(StripeEvent.outcome) == APPLYING
            )
        )
        await s.commit()


async def _apply(
    session_factory: SessionFactory,
    provider: PaymentProvider,
    event_type: str,
    obj: dict[str, Any],
    object_ref: str | None,
    start_provisioning: StartProvisioning | None,
) -> str:
    """Apply a claimed event; returns its outcome text. Raises PaymentProviderError."""
    if event_type in PAYMENT_INTENT_EVENTS:
        if object_ref is None:
            return "ignored: no PaymentIntent id"
        async with session_factory() as s:
            outcome = await checkout_payment.settle_payment_intent(
                s, provider, object_ref, start_provisioning=start_provisioning
            )
            if outcome is None:
                return "ignored: PaymentIntent unknown to the portal"
            payment = (
                await s.exec(select(Payment.status).where(col(Payment.provider_ref) == object_ref))
            ).first()
        return f"settled: payment {payment}, checkout {outcome.status}"
    if event_type == "charge.refunded":
        return await _refunded(session_factory, obj, object_ref)
    if event_type == "charge.dispute.created":
        return await _disputed(session_factory, obj, object_ref)
    return "ignored: event type not handled"


async def _payment_of(s: AsyncSession, pi_ref: str | None) -> Payment | None:
    if pi_ref is None or not pi_ref.startswith("pi_"):
        return None
    return (
        await s.exec(
            select(Payment)
            .where(col(Payment.provider_ref) == pi_ref)
            .execution_options(populate_existing=True)
        )
    ).first()


async def _order_id(s: AsyncSession, payment_id: int) -> str | None:
    return (await s.exec(select(Order.id).where(col(Order.payment_id) == payment_id))).first()


def _audit(action: str, order_id: str | None, payment_id: int, detail: str) -> AuditLog:
    """An audit-log row for something Stripe reported (no staff actor)."""
    return AuditLog(
        at=utcnow(),
        actor_user_id=None,
        actor=AUDIT_ACTOR,
        action=action[:40],
        target_type="order" if order_id else "payment",
        target_id=(order_id or str(payment_id))[:64],
        result="ok",
        detail=detail[:1000],
    )


async def _refunded(
    session_factory: SessionFactory, charge: dict[str, Any], pi_ref: str | None
) -> str:
    """``charge.refunded``: a full refund made at Stripe (the dashboard, or the portal's own
    refund whose event came first) marks a ``succeeded`` payment ``refunded``; a partial
    refund is only recorded. Never refunds anything itself."""
    async with session_factory() as s:
        payment = await _payment_of(s, pi_ref)
        if payment is None or payment.id is None:
            log.warning("charge.refunded for an unknown PaymentIntent", extra={"ref": pi_ref})
            return "ignored: charge of an unknown PaymentIntent"
        pid = payment.id
        order_id = await _order_id(s, pid)
        amount = int(charge.get("amount") or 0)
        refunded_minor = int(charge.get("amount_refunded") or 0)
        full = bool(charge.get("refunded")) or (amount > 0 and refunded_minor >= amount)
        currency = str(charge.get("currency") or payment.currency).upper()
        if not full:
            s.add(
                _audit(
                    "payment.partial_refund_at_stripe",
                    order_id,
                    pid,
                    f"Stripe reports a partial refund of {refunded_minor} (minor units "
                    f"{currency}) of {amount}; the payment stays {payment.status}",
                )
            )
            await s.commit()
            log.warning("partial refund at Stripe", extra={"payment_id": pid})
            return f"recorded: partial refund, payment stays {payment.status}"
        now = utcnow()
        moved: Any = await s.execute(
            update(Payment)
            .where(col(Payment.id) == pid, col(Payment.status) == PaymentStatus.SUCCEEDED)
            .values(
                status=PaymentStatus.REFUNDED,
                failure_reason="refunded at Stripe",
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:
            await s.commit()
            return f"nothing to do: payment is {payment.status}"
        if order_id:  # the invoice is cancelled by a credit note, in the same transaction
            await invoices.issue_credit_note(s, order_id)
        s.add(
            _audit(
                "payment.refunded_at_stripe",
                order_id,
                pid,
                f"Stripe reports the payment refunded in full ({refunded_minor} minor units "
                f"{currency}), outside the portal's refund action: the eSIM's service was "
                "not withdrawn",
            )
        )
        await s.commit()
    log.warning("payment refunded at Stripe", extra={"payment_id": pid, "order_id": order_id})
    return "payment refunded (refund made at Stripe)"


#: Payment statuses a dispute can concern (money was held or taken).
_DISPUTABLE = (
    PaymentStatus.AUTHORIZED,
    PaymentStatus.SUCCEEDED,
    PaymentStatus.REFUNDED,
    PaymentStatus.FLAGGED,
)


async def _disputed(
    session_factory: SessionFactory, dispute: dict[str, Any], pi_ref: str | None
) -> str:
    """``charge.dispute.created``: flag the payment for staff (module docstring)."""
    reason = str(dispute.get("reason") or "unknown")[:80]
    async with session_factory() as s:
        payment = await _payment_of(s, pi_ref)
        if payment is None or payment.id is None:
            log.warning("dispute for an unknown PaymentIntent", extra={"ref": pi_ref})
            return "ignored: dispute of an unknown PaymentIntent"
        pid = payment.id
        text = f"dispute opened at Stripe: {reason}"
        moved: Any = await s.execute(
            update(Payment)
            .where(col(Payment.id) == pid, col(Payment.status).in_(_DISPUTABLE))
            .values(status=PaymentStatus.FLAGGED, failure_reason=text[:200], updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:
            await s.commit()
            return f"ignored: dispute on a payment that is {payment.status}"
        order_id = await _order_id(s, pid)
        amount = dispute.get("amount")
        s.add(
            _audit(
                "payment.dispute_opened",
                order_id,
                pid,
                f"{text} (amount {amount} minor units, was {payment.status}); answer it in "
                "the Stripe dashboard",
            )
        )
        await s.commit()
    log.error("dispute opened at Stripe", extra={"payment_id": pid, "reason": reason})
    return f"payment flagged: {text}"
