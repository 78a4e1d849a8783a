"""The data download: everything the portal holds about a person, as one JSON document.

What is in it and what is left out (activation codes, secrets, email bodies), and why, is
in :mod:`travelsim.services.privacy`. One function per section of the document; they only
read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.models import (
    AuthSession,
    Checkout,
    Esim,
    EsimAddon,
    Gift,
    Notification,
    NotificationOptOut,
    OidcIdentity,
    Order,
    OutboxEmail,
    Payment,
    Plan,
    ReplacementRequest,
    SavedCard,
    UsageDay,
    User,
    UserTotp,
    utcnow,
)
from travelsim.services import gifts

EXPORT_FORMAT = "travelsim-export-v1"

Section = list[dict[str, Any]]


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


async def export_user_data(session: AsyncSession, user: User) -> dict[str, Any]:
    """Everything the portal holds about ``user``, as a JSON-ready dict: ``format``
    (:data:`EXPORT_FORMAT`), ``exported_at`` (ISO 8601, UTC), then one key per section
    (``account``, ``sessions``, ``esims``, ``replacement_requests``, ``purchase_attempts``,
    ``payments``, ``saved_cards``, ``orders``, ``notifications``, ``emails``, ``gifts``: sent
    and received). Amounts are in minor units, volumes in bytes, times ISO 8601 UTC. Read-only."""
    assert user.id is not None
    uid = user.id
    esims = (
        await session.exec(select(Esim).where(Esim.user_id == uid).order_by(col(Esim.id)))
    ).all()
    orders = (
        await session.exec(
            select(Order).where(Order.user_id == uid).order_by(col(Order.created_at))
        )
    ).all()
    checkouts = (
        await session.exec(
            select(Checkout).where(Checkout.user_id == uid).order_by(col(Checkout.created_at))
        )
    ).all()
    plans = await _plan_names(session, {o.plan_id for o in orders} | {c.plan_id for c in checkouts})
    iccids = {e.id: e.iccid for e in esims}
    return {
        "format": EXPORT_FORMAT,
        "exported_at": _iso(utcnow()),
        "account": await _account(session, user),
        "sessions": await _sessions(session, uid),
        "esims": [await _esim(session, esim) for esim in esims],
        "replacement_requests": await _replacement_requests(session, uid, iccids),
        "purchase_attempts": _purchase_attempts(checkouts, plans),
        "payments": await _payments(session, [c.id for c in checkouts]),
        "saved_cards": await _saved_cards(session, uid),
        "orders": _orders(orders, plans, iccids),
        "notifications": await _notifications(session, uid),
        "emails": await _emails(session, user),
        "gifts": gifts.export_rows(
            list((await session.exec(select(Gift).where(Gift.buyer_id == uid))).all()),
            list((await session.exec(select(Gift).where(Gift.claimed_by == uid))).all()),
        ),
    }


async def _plan_names(session: AsyncSession, plan_ids: set[str]) -> dict[str, str]:
    """Plan id → the name travelers saw (display name, else the platform's name)."""
    plans = (await session.exec(select(Plan).where(col(Plan.plan_id).in_(plan_ids)))).all()
    return {p.plan_id: p.display_name or p.sft_name for p in plans}


async def _account(session: AsyncSession, user: User) -> dict[str, Any]:
    """The account: email, dates, role, two-step verification, notification emails, and
    the linked identity providers."""
    assert user.id is not None
    totp = await session.get(UserTotp, user.id)
    opted_out = await session.get(NotificationOptOut, user.id) is not None
    identities = (
        await session.exec(select(OidcIdentity).where(OidcIdentity.user_id == user.id))
    ).all()
    return {
        "email": user.email,
        "created_at": _iso(user.created_at),
        "email_verified_at": _iso(user.email_verified_at),
        "is_staff": user.is_staff,
        "country_of_residence": user.country,
        "two_step_verification": {
            "enabled": totp is not None and totp.confirmed_at is not None,
            "confirmed_at": _iso(totp.confirmed_at) if totp else None,
        },
        "notification_emails": "unsubscribed" if opted_out else "subscribed",
        "identity_providers": [
            {
                "issuer": i.issuer,
                "subject": i.subject,
                "email": i.email,
                "linked_at": _iso(i.linked_at),
                "last_signin_at": _iso(i.last_signin_at),
            }
            for i in identities
        ],
    }


async def _sessions(session: AsyncSession, uid: int) -> Section:
    """Every session, oldest first: times and the browser's user agent (no token)."""
    rows = (
        await session.exec(
            select(AuthSession)
            .where(AuthSession.user_id == uid)
            .order_by(col(AuthSession.created_at))
        )
    ).all()
    return [
        {
            "created_at": _iso(s.created_at),
            "last_seen_at": _iso(s.last_seen_at),
            "expires_at": _iso(s.expires_at),
            "revoked_at": _iso(s.revoked_at),
            "browser": s.user_agent,
        }
        for s in rows
    ]


async def _esim(session: AsyncSession, esim: Esim) -> dict[str, Any]:
    """One eSIM with its add-ons and daily usage (no activation code)."""
    addons = (
        await session.exec(
            select(EsimAddon).where(EsimAddon.esim_id == esim.id).order_by(col(EsimAddon.id))
        )
    ).all()
    days = (
        await session.exec(
            select(UsageDay).where(UsageDay.esim_id == esim.id).order_by(col(UsageDay.day))
        )
    ).all()
    return {
        "iccid": esim.iccid,
        "eid": esim.eid,
        "nickname": esim.nickname,
        "destination": esim.destination,
        "endpoint_status": esim.endpoint_status,
        "profile_status": esim.profile_status,
        "assigned_at": _iso(esim.assigned_at),
        "add_ons": [
            {
                "plan_id": a.plan_id,
                "plan_name": a.plan_name,
                "status": a.status,
                "subscribed_at": _iso(a.subscribed_at),
                "started_at": _iso(a.started_at),
                "expires_at": _iso(a.expires_at),
                "initial_bytes": a.initial_bytes,
                "remaining_bytes": a.remaining_bytes,
                "used_bytes": a.used_bytes,
            }
            for a in addons
        ],
        "daily_usage_bytes": [{"day": _iso(d.day), "bytes": d.bytes} for d in days],
    }


async def _replacement_requests(
    session: AsyncSession, uid: int, iccids: Mapping[int | None, str]
) -> Section:
    """Replacement requests, by the ICCID of the eSIM (``None`` once it is not theirs)."""
    rows = (
        await session.exec(select(ReplacementRequest).where(ReplacementRequest.user_id == uid))
    ).all()
    return [
        {
            "iccid": iccids.get(r.esim_id),
            "reason": r.reason,
            "status": r.status,
            "created_at": _iso(r.created_at),
            "closed_at": _iso(r.closed_at),
        }
        for r in rows
    ]


def _purchase_attempts(checkouts: Sequence[Checkout], plans: Mapping[str, str]) -> Section:
    """Checkouts (paid or not), oldest first, with the plan's name."""
    return [
        {
            "id": c.id,
            "kind": c.kind,
            "plan": plans.get(c.plan_id, c.plan_id),
            "destination": c.destination,
            "amount_minor": c.amount_minor,
            "currency": c.currency,
            "status": c.status,
            "created_at": _iso(c.created_at),
        }
        for c in checkouts
    ]


async def _payments(session: AsyncSession, checkout_ids: list[str]) -> Section:
    """Payments of those checkouts, oldest first (card's last 4 digits and issuing country only)."""
    if not checkout_ids:
        return []
    rows = (
        await session.exec(
            select(Payment)
            .where(col(Payment.checkout_id).in_(checkout_ids))
            .order_by(col(Payment.created_at))
        )
    ).all()
    return [
        {
            "purchase_attempt": p.checkout_id,
            "provider": p.provider,
            "amount_minor": p.amount_minor,
            "currency": p.currency,
            "status": p.status,
            "card_last4": p.card_last4,
            "card_country": p.card_country,
            "created_at": _iso(p.created_at),
        }
        for p in rows
    ]


async def _saved_cards(session: AsyncSession, uid: int) -> Section:
    """Cards kept for later top-ups, oldest first: brand and last 4 digits only (the card
    itself is held by Stripe; its Stripe id is not the person's data to carry away)."""
    rows = (
        await session.exec(
            select(SavedCard).where(SavedCard.user_id == uid).order_by(col(SavedCard.id))
        )
    ).all()
    return [{"brand": c.brand, "last4": c.last4, "saved_at": _iso(c.created_at)} for c in rows]


def _orders(
    orders: Sequence[Order], plans: Mapping[str, str], iccids: Mapping[int | None, str]
) -> Section:
    """Orders, oldest first, with the plan's name and the eSIM's ICCID."""
    return [
        {
            "reference": o.reference,
            "kind": o.kind,
            "plan_id": o.plan_id,
            "plan": plans.get(o.plan_id, o.plan_id),
            "iccid": iccids.get(o.esim_id),
            "status": o.status,
            "amount_minor": o.amount_minor,
            "tax_minor": o.tax_minor,
            "currency": o.currency,
            "invoice_number": o.invoice_number,
            "tax_country": o.tax_country,
            "tax_rate_bp": o.tax_rate_bp,
            "created_at": _iso(o.created_at),
            "delivered_at": _iso(o.delivered_at),
        }
        for o in orders
    ]


async def _notifications(session: AsyncSession, uid: int) -> Section:
    """In-portal notifications, oldest first."""
    rows = (
        await session.exec(
            select(Notification)
            .where(Notification.user_id == uid)
            .order_by(col(Notification.created_at))
        )
    ).all()
    return [
        {
            "kind": n.kind,
            "title": n.title,
            "body": n.body,
            "created_at": _iso(n.created_at),
            "read_at": _iso(n.read_at),
        }
        for n in rows
    ]


async def _emails(session: AsyncSession, user: User) -> Section:
    """Emails to the person (by account or address), oldest first: kind, subject and dates,
    never the body."""
    rows = (
        await session.exec(
            select(OutboxEmail)
            .where(or_(OutboxEmail.user_id == user.id, OutboxEmail.to_address == user.email))
            .order_by(col(OutboxEmail.created_at))
        )
    ).all()
    return [
        {
            "kind": m.kind,
            "to": m.to_address,
            "subject": m.subject,
            "status": m.status,
            "created_at": _iso(m.created_at),
            "sent_at": _iso(m.sent_at),
        }
        for m in rows
    ]
