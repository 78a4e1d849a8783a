"""Gifts: a new eSIM bought for someone else (docs/business-rules.md#gifts).

The buyer marks an open new-eSIM checkout as a gift (:func:`mark_checkout`); the order takes
the gift over (:func:`attach_to_order`: the eSIM is ``gift_pending``, held by nobody); once the
eSIM is delivered the recipient is emailed a claim link (:func:`deliver`) and the buyer a
confirmation without installation data. Until the claim (``services.gift_claim``) the buyer
may re-send the email (:func:`resend`, rate-limited) or take the gift back (:func:`take_back`).

Claim links are single-use, unguessable tokens (:mod:`travelsim.services.auth.tokens`:
256 random bits) of which only the SHA-256 is stored (``GiftLink``), valid
:data:`CLAIM_LINK_TTL`. Functions take the caller's session and do not commit unless their
docstring says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import i18n
from travelsim.models import (
    GIFT_MESSAGE_MAX,
    Checkout,
    CheckoutStatus,
    Esim,
    Gift,
    GiftLink,
    GiftStatus,
    Order,
    Plan,
    PurchaseKind,
    User,
    utcnow,
)
from travelsim.services import email, gift_emails, ownership, plan_texts, rate_limits
from travelsim.services.auth.credentials import normalise_email, user_by_email
from travelsim.services.auth.errors import AccountError
from travelsim.services.auth.tokens import new_token

#: How long a claim link works, from when its email was queued (each re-send makes a new
#: link with its own expiry; earlier links keep theirs).
CLAIM_LINK_TTL = timedelta(days=14)
#: Re-sends of one gift's email: at most one every 10 minutes and 5 a day.
RESEND_SPACING = rate_limits.Limit("gift-resend-spacing", "1/10 minutes")
RESEND_DAILY = rate_limits.Limit("gift-resend-daily", "5/day")
#: Gifts that are still the buyer's to re-send or take back.
OUTSTANDING = (GiftStatus.ORDERED, GiftStatus.SENT)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class GiftError(Exception):
    """A gift action refused; ``code``: ``email_invalid``, ``own_address``,
    ``message_too_long``, ``not_giftable`` (a top-up, or a checkout no longer open),
    ``not_found``, ``not_outstanding`` (already claimed or cancelled), ``not_sent``,
    ``rate_limited``, and for claims ``link_invalid``, ``link_expired``, ``claimed``,
    ``cancelled``, ``unverified``, ``wrong_account``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def mask_email(address: str) -> str:
    """``address`` with its local part hidden but the first character:
    ``"ana@example.com"`` → ``"a•••@example.com"`` (an address without ``@``: ``"•••"``)."""
    local, at, domain = address.partition("@")
    if not at or not local:
        return "•••"
    return f"{local[0]}•••@{domain}"


def clean_message(raw: str | None) -> str | None:
    """The gift message as stored: plain text, control characters (but line breaks) removed,
    stripped; ``None`` when empty. Raises :class:`GiftError` ``message_too_long`` beyond
    :data:`GIFT_MESSAGE_MAX` characters."""
    text = _CONTROL.sub("", (raw or "").replace("\r\n", "\n")).strip()
    if len(text) > GIFT_MESSAGE_MAX:
        raise GiftError("message_too_long")
    return text or None


def normalise_recipient(raw: str, buyer: User) -> str:
    """``raw`` validated with email-validator (syntax, no DNS) and lower-cased, as sign-up
    does (``credentials.normalise_email``). Raises :class:`GiftError` ``email_invalid``, or
    ``own_address`` for the buyer's own address."""
    try:
        address = normalise_email(raw)
    except AccountError:
        raise GiftError("email_invalid") from None
    if address == buyer.email.lower():
        raise GiftError("own_address")
    return address


async def checkout_gift(session: AsyncSession, checkout_id: str) -> Gift | None:
    """The draft gift of ``checkout_id``, if it is marked as one."""
    return (
        await session.exec(
            select(Gift)
            .where(Gift.checkout_id == checkout_id)
            .where(Gift.status == GiftStatus.DRAFT)
        )
    ).first()


async def _open_new_esim_checkout(
    session: AsyncSession, user_id: int, checkout_id: str
) -> Checkout:
    checkout = await session.get(Checkout, checkout_id)
    if checkout is None or checkout.user_id != user_id:
        raise GiftError("not_found")
    if checkout.kind != PurchaseKind.NEW_ESIM or checkout.status != CheckoutStatus.OPEN:
        raise GiftError("not_giftable")
    return checkout


async def mark_checkout(
    session: AsyncSession,
    *,
    buyer: User,
    checkout_id: str,
    recipient: str,
    message: str | None,
    locale: str,
) -> Gift:
    """Mark ``buyer``'s open new-eSIM checkout as a gift for ``recipient`` (or change the
    gift's details); ``locale``: the buyer's chosen language (one of ``i18n.LOCALES``, else
    English), used for the claim email when the recipient has no account language. Flushes.
    Raises :class:`GiftError` (``not_found``, ``not_giftable``, ``email_invalid``,
    ``own_address``, ``message_too_long``)."""
    assert buyer.id is not None
    checkout = await _open_new_esim_checkout(session, buyer.id, checkout_id)
    address = normalise_recipient(recipient, buyer)
    text = clean_message(message)
    gift = (
        await checkout_gift(session, checkout_id)
        or (await session.exec(select(Gift).where(Gift.checkout_id == checkout_id))).first()
    )
    if gift is None:
        gift = Gift(checkout_id=checkout_id, buyer_id=buyer.id, recipient_email=address)
    gift.recipient_email, gift.message, gift.status = address, text, GiftStatus.DRAFT
    gift.locale = locale if locale in i18n.LOCALES else i18n.DEFAULT
    checkout.is_gift = True
    session.add_all([gift, checkout])
    await session.flush()
    return gift


async def unmark_checkout(session: AsyncSession, *, user_id: int, checkout_id: str) -> None:
    """The open checkout ``checkout_id`` of ``user_id`` is no longer a gift (its draft is
    cancelled; nothing for a checkout that was none). Raises :class:`GiftError` as
    :func:`mark_checkout` for a checkout that is not the user's or no longer open."""
    checkout = await _open_new_esim_checkout(session, user_id, checkout_id)
    gift = await checkout_gift(session, checkout_id)
    checkout.is_gift = False
    session.add(checkout)
    if gift is not None:
        gift.status, gift.cancelled_at = GiftStatus.CANCELLED, utcnow()
        session.add(gift)
    await session.flush()


async def attach_to_order(
    session: AsyncSession, order: Order, esim: Esim, checkout: Checkout
) -> Gift | None:
    """Inside ``order_creation.create_order``: when the order's checkout is a gift
    (``checkout.is_gift``; no query otherwise), the gift becomes ``ordered`` for this order
    and its eSIM ``gift_pending`` (held by nobody). Returns the gift, or ``None`` when the
    checkout is not one. Does not flush."""
    if not checkout.is_gift:
        return None
    gift = await checkout_gift(session, order.checkout_id)
    if gift is None or order.kind != PurchaseKind.NEW_ESIM:
        return None
    gift.order_id, gift.esim_id, gift.status = order.id, esim.id, GiftStatus.ORDERED
    esim.gift_pending = True
    session.add_all([gift, esim])
    return gift


async def order_gift(session: AsyncSession, order_id: str) -> Gift | None:
    """The gift of the order ``order_id`` (any status but ``draft``), or ``None``."""
    return (await session.exec(select(Gift).where(Gift.order_id == order_id))).first()


def _new_link(session: AsyncSession, gift: Gift, now: datetime) -> tuple[str, datetime]:
    raw, digest = new_token()
    assert gift.id is not None
    expires = now + CLAIM_LINK_TTL
    session.add(GiftLink(gift_id=gift.id, token_hash=digest, expires_at=expires, created_at=now))
    return raw, expires


async def _queue_claim_email(
    session: AsyncSession, gift: Gift, order: Order, now: datetime, public_url: str | None
) -> None:
    """A new claim link for ``gift`` and its email to the recipient, in the recipient's
    account language if they have an account, else the buyer's chosen one
    (docs/i18n.md#emails)."""
    raw, expires = _new_link(session, gift, now)
    account = await user_by_email(session, gift.recipient_email)
    lang = email.recipient_locale(account, gift.locale)
    buyer = await session.get(User, gift.buyer_id) if gift.buyer_id else None
    message = gift_emails.claim_email(
        gift,
        sender=buyer.email if buyer else "",
        title=await _title(session, order.plan_id, lang),
        token=raw,
        expires_at=expires,
        locale=lang,
        public_url=public_url,
    )
    await email.enqueue(session, to=gift.recipient_email, user_id=None, **message)


async def _title(session: AsyncSession, plan_id: str, lang: str) -> str:
    plan = await session.get(Plan, plan_id)
    texts = await plan_texts.texts_for(session, [plan_id], locale=lang)
    return plan_texts.plan_title(plan, texts) if plan else plan_id


async def deliver(
    session: AsyncSession, order: Order, *, public_url: str | None = None
) -> str | None:
    """The ``deliver`` step of a gift's order: the recipient's claim email (a new link) and the
    buyer's "your gift is on its way" email (no QR, no install link) are queued and the gift
    becomes ``sent``. Returns the step's detail, or ``None`` when the order is not a gift
    waiting to be sent (the caller sends the usual installation email then). Raises
    ``ValueError`` from ``email.enqueue`` for an address it refuses."""
    gift = await order_gift(session, order.id)
    if gift is None or gift.status != GiftStatus.ORDERED:
        return None if gift is None or gift.status != GiftStatus.SENT else "gift already sent"
    now = utcnow()
    await _queue_claim_email(session, gift, order, now, public_url)
    buyer = await session.get(User, order.user_id) if order.user_id else None
    if buyer is not None:
        lang = email.recipient_locale(buyer)
        note = gift_emails.gift_sent_email(
            order,
            recipient=mask_email(gift.recipient_email),
            title=await _title(session, order.plan_id, lang),
            locale=lang,
            public_url=public_url,
        )
        await email.enqueue(session, to=buyer.email, user_id=buyer.id, **note)
    gift.status, gift.sent_at = GiftStatus.SENT, now
    session.add(gift)
    return "gift claim email queued"


async def _buyers_gift(session: AsyncSession, user_id: int, order_id: str) -> tuple[Order, Gift]:
    order = await ownership.bought_order(session, user_id, order_id)
    gift = await order_gift(session, order_id) if order is not None else None
    if order is None or gift is None:
        raise GiftError("not_found")
    return order, gift


async def resend(
    session: AsyncSession, *, user_id: int, order_id: str, public_url: str | None = None
) -> None:
    """Queue the claim email again with a new link (earlier links keep working until their
    own expiry) for the buyer ``user_id`` of ``order_id``; at most :data:`RESEND_SPACING`
    and :data:`RESEND_DAILY` per gift. Flushes, does not commit. Raises :class:`GiftError`
    ``not_found``, ``not_sent`` (not delivered yet, claimed or cancelled), ``rate_limited``."""
    order, gift = await _buyers_gift(session, user_id, order_id)
    if gift.status != GiftStatus.SENT:
        raise GiftError("not_sent")
    key = str(gift.id)
    if not await rate_limits.allowed(RESEND_DAILY, key) or not await rate_limits.hit(
        RESEND_SPACING, key
    ):
        raise GiftError("rate_limited")
    await rate_limits.hit(RESEND_DAILY, key)
    now = utcnow()
    await _queue_claim_email(session, gift, order, now, public_url)
    gift.resent_at = now
    session.add(gift)
    await session.flush()


async def take_back(
    session: AsyncSession, *, user_id: int, order_id: str, public_url: str | None = None
) -> None:
    """Cancel the unclaimed gift of ``order_id`` for its buyer ``user_id``: every claim link
    stops working and the eSIM becomes the buyer's own (``gift_pending`` off), with its
    installation email queued to them once the code is stored. Compare-and-set on the gift's
    status, so a claim and a take-back never both win; flushes, does not commit. Raises
    :class:`GiftError` ``not_found``, ``not_outstanding`` (claimed or cancelled already)."""
    order, gift = await _buyers_gift(session, user_id, order_id)
    now = utcnow()
    done: Any = await session.exec(
        update(Gift)
        .where(col(Gift.id) == gift.id)
        .where(col(Gift.status).in_(OUTSTANDING))
        .values(status=GiftStatus.CANCELLED, cancelled_at=now)
    )
    if done.rowcount != 1:
        raise GiftError("not_outstanding")
    await session.exec(
        update(Esim)
        .where(col(Esim.id) == gift.esim_id)
        .where(col(Esim.user_id) == user_id)
        .values(gift_pending=False, updated_at=now)
    )
    await session.refresh(gift)
    esim = await session.get(Esim, order.esim_id, populate_existing=True)
    buyer = await session.get(User, user_id)
    if esim is not None and esim.activation_code_enc and buyer is not None:
        await gift_emails.queue_installation(session, order, esim, buyer, public_url)
    await session.flush()


@dataclass(frozen=True)
class GiftPanel:
    """What the buyer's order page says about the gift: ``status`` (``GiftStatus``),
    ``recipient`` masked (``a•••@example.com``), ``sent_at``/``claimed_at`` (UTC, ``None``
    when not yet), and which actions are open."""

    status: str
    recipient: str
    sent_at: datetime | None
    claimed_at: datetime | None
    can_resend: bool
    can_take_back: bool


async def buyer_panel(session: AsyncSession, order: Order) -> GiftPanel | None:
    """The gift panel of ``order`` (the caller checked it is the viewer's), ``None`` when the
    order is no gift or its gift was taken back."""
    gift = await order_gift(session, order.id)
    if gift is None or gift.status == GiftStatus.CANCELLED:
        return None
    return GiftPanel(
        status=gift.status,
        recipient=mask_email(gift.recipient_email),
        sent_at=gift.resent_at or gift.sent_at,
        claimed_at=gift.claimed_at,
        can_resend=gift.status == GiftStatus.SENT,
        can_take_back=gift.status in OUTSTANDING,
    )


async def forget_person(session: AsyncSession, user_id: int, now: datetime) -> None:
    """Inside an account deletion (``privacy.deletion``): the gifts ``user_id`` bought and
    had not seen claimed are cancelled (their links stop working; their eSIMs are retired with
    the buyer's other eSIMs), and every gift they bought loses its buyer and message; gifts
    they claimed keep only the masked address and no claimant (the eSIM went with their
    account). Does not commit."""
    await session.exec(
        update(Gift)
        .where(col(Gift.buyer_id) == user_id)
        .where(col(Gift.status).in_((GiftStatus.DRAFT, *OUTSTANDING)))
        .values(status=GiftStatus.CANCELLED, cancelled_at=now)
    )
    await session.exec(
        update(Gift).where(col(Gift.buyer_id) == user_id).values(buyer_id=None, message=None)
    )
    for gift in (await session.exec(select(Gift).where(Gift.claimed_by == user_id))).all():
        gift.recipient_email, gift.claimed_by = mask_email(gift.recipient_email), None
        session.add(gift)


def export_rows(sent: list[Gift], received: list[Gift]) -> dict[str, list[dict[str, Any]]]:
    """The privacy export's ``gifts`` section: ``sent`` (recipient, message, status, dates)
    and ``received`` (status, dates), times ISO 8601 UTC."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    def row(g: Gift) -> dict[str, Any]:
        return {
            "order_id": g.order_id,
            "status": g.status,
            "sent_at": iso(g.sent_at),
            "claimed_at": iso(g.claimed_at),
        }

    return {
        "sent": [{**row(g), "recipient": g.recipient_email, "message": g.message} for g in sent],
        "received": [row(g) for g in received],
    }
