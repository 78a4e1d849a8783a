"""A traveler's own data: download it, delete the account.

No Reflex here.

**Export** (:func:`export_user_data`): one JSON document with everything the portal holds
about the person: the account, linked provider identities, sessions (browser, times), eSIMs
(ICCID, EID, name, destination, statuses, add-ons with volumes and dates, daily usage),
replacement requests, purchase attempts, orders and payments (amounts, card's last 4
digits), notifications and the emails sent (kind, subject, dates). Never included: password
hashes, session or email token hashes, the TOTP secret, ID tokens, and eSIM **activation
codes**: an activation code installs the eSIM on any phone, so it stays behind the owner's
signed-in install page instead of lying in a download folder. Email bodies are left out for
the same reason (they carry single-use links); their subjects and dates are included.

**Deletion** (:func:`delete_account`), after the warning page:

1. An order still being paid or provisioned blocks deletion (``delete_pending``).
2. Every eSIM of the person with a live add-on (waiting, active, or not yet mirrored) is
   **suspended first** on SFT (``EndPointLifeCycleChange`` ``S``, reason ``3`` CSR, provisioning
   priority; docs/sft-platform.md#endpointlifecyclechange). The endpoint is re-read before the
   change and after an unknown outcome (never a blind resend). If any suspension fails, nothing is
   deleted (``delete_failed``) and the person can try again.
3. In one transaction: orders are kept for accounting but detached (``user_id`` NULL);
   open checkouts are cancelled; the person's eSIMs are retired and detached (nickname and
   activation code erased); sessions, provider links, TOTP, tokens, notifications,
   replacement requests, emails and failed-attempt records are deleted; the ``app_user``
   row becomes an anonymous tombstone (``deleted-<id>@deleted.invalid``, unusable password,
   not staff) because purchase attempts and payments kept for accounting still reference
   it; an ``account_deletion`` row records the deletion.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db
from travelsim.models import (
    AccountDeletion,
    AuthSession,
    Checkout,
    EmailToken,
    Esim,
    EsimAddon,
    EsimSync,
    LoginAttempt,
    Notification,
    NotificationOptOut,
    OidcIdentity,
    Order,
    OutboxEmail,
    Payment,
    Plan,
    ReplacementRequest,
    SessionFactor,
    UsageDay,
    User,
    UserTotp,
    utcnow,
)
from travelsim.services.auth.errors import AccountError
from travelsim.services.auth.throttling import totp_account
from travelsim.sft.client import SFTClient
from travelsim.sft.errors import SFTBusinessError, SFTError, SFTOutcomeUnknown
from travelsim.sft.models import Priority

log = logging.getLogger(__name__)

EXPORT_FORMAT = "travelsim-export-v1"
#: Add-on statuses that still give data (or will): suspended before a deletion.
LIVE_ADDON_STATUSES = frozenset({"waiting", "active", "unknown"})
#: Order statuses that mean "still in flight": deletion waits for them.
PENDING_ORDER_STATUSES = frozenset({"paid", "provisioning"})
#: SFT lifecycle reason "3" (CSR): a customer-service action
#: (docs/sft-platform.md#endpointlifecyclechange, docs/business-rules.md#staff-suspension).
REASON_CSR = "3"


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


# --- export ---------------------------------------------------------------------------------


async def export_user_data(session: AsyncSession, user: User) -> dict[str, Any]:
    """Everything the portal holds about ``user``, as a JSON-ready dict (see the module
    docstring for what is left out and why). Read-only."""
    assert user.id is not None
    uid = user.id
    totp = await session.get(UserTotp, uid)
    identities = (await session.exec(select(OidcIdentity).where(OidcIdentity.user_id == uid))).all()
    sessions = (
        await session.exec(
            select(AuthSession)
            .where(AuthSession.user_id == uid)
            .order_by(col(AuthSession.created_at))
        )
    ).all()
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
    checkout_ids = [c.id for c in checkouts]
    payments = (
        (
            await session.exec(
                select(Payment)
                .where(col(Payment.checkout_id).in_(checkout_ids))
                .order_by(col(Payment.created_at))
            )
        ).all()
        if checkout_ids
        else []
    )
    plan_ids = {o.plan_id for o in orders} | {c.plan_id for c in checkouts}
    plans = {
        p.plan_id: p
        for p in (await session.exec(select(Plan).where(col(Plan.plan_id).in_(plan_ids)))).all()
    }
    esim_by_id = {e.id: e for e in esims}
    replacement = (
        await session.exec(select(ReplacementRequest).where(ReplacementRequest.user_id == uid))
    ).all()
    notifications = (
        await session.exec(
            select(Notification)
            .where(Notification.user_id == uid)
            .order_by(col(Notification.created_at))
        )
    ).all()
    opted_out = await session.get(NotificationOptOut, uid) is not None
    emails = (
        await session.exec(
            select(OutboxEmail)
            .where(or_(OutboxEmail.user_id == uid, OutboxEmail.to_address == user.email))
            .order_by(col(OutboxEmail.created_at))
        )
    ).all()

    def plan_name(plan_id: str) -> str:
        plan = plans.get(plan_id)
        return (plan.display_name or plan.sft_name) if plan else plan_id

    esim_items: list[dict[str, Any]] = []
    for esim in esims:
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
        esim_items.append(
            {
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
        )

    return {
        "format": EXPORT_FORMAT,
        "exported_at": _iso(utcnow()),
        "account": {
            "email": user.email,
            "created_at": _iso(user.created_at),
            "email_verified_at": _iso(user.email_verified_at),
            "is_staff": user.is_staff,
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
        },
        "sessions": [
            {
                "created_at": _iso(s.created_at),
                "last_seen_at": _iso(s.last_seen_at),
                "expires_at": _iso(s.expires_at),
                "revoked_at": _iso(s.revoked_at),
                "browser": s.user_agent,
            }
            for s in sessions
        ],
        "esims": esim_items,
        "replacement_requests": [
            {
                "iccid": esim_by_id[r.esim_id].iccid if r.esim_id in esim_by_id else None,
                "reason": r.reason,
                "status": r.status,
                "created_at": _iso(r.created_at),
                "closed_at": _iso(r.closed_at),
            }
            for r in replacement
        ],
        "purchase_attempts": [
            {
                "id": c.id,
                "kind": c.kind,
                "plan": plan_name(c.plan_id),
                "destination": c.destination,
                "amount_minor": c.amount_minor,
                "currency": c.currency,
                "status": c.status,
                "created_at": _iso(c.created_at),
            }
            for c in checkouts
        ],
        "payments": [
            {
                "purchase_attempt": p.checkout_id,
                "provider": p.provider,
                "amount_minor": p.amount_minor,
                "currency": p.currency,
                "status": p.status,
                "card_last4": p.card_last4,
                "created_at": _iso(p.created_at),
            }
            for p in payments
        ],
        "orders": [
            {
                "reference": o.reference,
                "kind": o.kind,
                "plan_id": o.plan_id,
                "plan": plan_name(o.plan_id),
                "iccid": esim_by_id[o.esim_id].iccid if o.esim_id in esim_by_id else None,
                "status": o.status,
                "amount_minor": o.amount_minor,
                "tax_minor": o.tax_minor,
                "currency": o.currency,
                "created_at": _iso(o.created_at),
                "delivered_at": _iso(o.delivered_at),
            }
            for o in orders
        ],
        "notifications": [
            {
                "kind": n.kind,
                "title": n.title,
                "body": n.body,
                "created_at": _iso(n.created_at),
                "read_at": _iso(n.read_at),
            }
            for n in notifications
        ],
        "emails": [
            {
                "kind": m.kind,
                "to": m.to_address,
                "subject": m.subject,
                "status": m.status,
                "created_at": _iso(m.created_at),
                "sent_at": _iso(m.sent_at),
            }
            for m in emails
        ],
    }


# --- deletion -------------------------------------------------------------------------------


@dataclass(frozen=True)
class EsimToSuspend:
    """An eSIM of the person with a live add-on: suspended before the account goes."""

    esim_id: int
    iccid: str
    endpoint_id: str
    nickname: str | None


@dataclass(frozen=True)
class DeletionPreview:
    """What deleting the account will do (for the warning page)."""

    live_esims: list[EsimToSuspend] = field(default_factory=list)
    other_esims: int = 0
    orders: int = 0
    pending_orders: int = 0


@dataclass(frozen=True)
class DeletionResult:
    """What :func:`delete_account` did."""

    esims_suspended: int
    orders_detached: int


async def deletion_preview(session: AsyncSession, user_id: int) -> DeletionPreview:
    """Which eSIMs would be suspended, how many orders detached, and whether an order in
    flight blocks the deletion now. Read-only."""
    esims = (
        await session.exec(
            select(Esim)
            .where(Esim.user_id == user_id)
            .where(Esim.state == "assigned")
            .order_by(col(Esim.id))
        )
    ).all()
    orders = (await session.exec(select(Order).where(Order.user_id == user_id))).all()
    live: list[EsimToSuspend] = []
    for esim in esims:
        assert esim.id is not None
        addons = (await session.exec(select(EsimAddon).where(EsimAddon.esim_id == esim.id))).all()
        mirrored = {a.unique_id for a in addons}
        unmirrored = any(
            o.esim_id == esim.id and o.addon_unique_id and o.addon_unique_id not in mirrored
            for o in orders
        )
        if unmirrored or any(a.status in LIVE_ADDON_STATUSES for a in addons):
            live.append(EsimToSuspend(esim.id, esim.iccid, esim.endpoint_id, esim.nickname))
    return DeletionPreview(
        live_esims=live,
        other_esims=len(esims) - len(live),
        orders=len(orders),
        pending_orders=sum(1 for o in orders if o.status in PENDING_ORDER_STATUSES),
    )


def _is_suspended(status: str | None) -> bool:
    return bool(status) and str(status).strip().lower() == "suspended"


async def _suspend(client: SFTClient, endpoint_id: str) -> None:
    """Suspend ``endpoint_id`` unless it already is (read first, and again after an
    unknown outcome or a refused transition). Raises :class:`AccountError`
    ``delete_failed``."""
    try:
        profile = await client.endpoint_profile(endpoint_id, priority=Priority.PROVISIONING)
        if _is_suspended(profile.status):
            return
        await client.change_lifecycle(
            endpoint_id, "S", reason=REASON_CSR, priority=Priority.PROVISIONING
        )
        return
    except (SFTOutcomeUnknown, SFTBusinessError) as exc:
        first_error: SFTError = exc
    except SFTError as exc:
        log.warning("suspension before deletion failed: %s", type(exc).__name__)
        raise AccountError("delete_failed") from exc
    try:
        profile = await client.endpoint_profile(endpoint_id, priority=Priority.PROVISIONING)
    except SFTError as exc:
        raise AccountError("delete_failed") from exc
    if not _is_suspended(profile.status):
        log.warning("suspension before deletion not confirmed: %s", type(first_error).__name__)
        raise AccountError("delete_failed") from first_error


async def delete_account(user_id: int, client: SFTClient) -> DeletionResult:
    """Delete the account ``user_id`` as the module docstring describes (own database
    sessions; commits). Raises :class:`AccountError`: ``delete_pending`` (an order in
    flight), ``delete_failed`` (a suspension failed: nothing deleted), ``forbidden``
    (unknown or already deleted account)."""
    async with db.session() as s:
        user = await s.get(User, user_id)
        if user is None or await s.get(AccountDeletion, user_id) is not None:
            raise AccountError("forbidden")
        preview = await deletion_preview(s, user_id)
    if preview.pending_orders:
        raise AccountError("delete_pending")
    for esim in preview.live_esims:
        await _suspend(client, esim.endpoint_id)
        log.info("eSIM suspended before account deletion esim_id=%s", esim.esim_id)

    async with db.session() as s:
        user = await s.get(User, user_id)
        if user is None:  # pragma: no cover - checked above
            raise AccountError("forbidden")
        email = user.email
        now = utcnow()
        suspended_ids = [e.esim_id for e in preview.live_esims]
        if suspended_ids:
            await s.exec(
                update(EsimSync)
                .where(col(EsimSync.esim_id).in_(suspended_ids))
                .values(endpoint_status="Suspended", lifecycle_reason=REASON_CSR)
            )
            await s.exec(
                update(Esim)
                .where(col(Esim.id).in_(suspended_ids))
                .values(endpoint_status="Suspended")
            )
        detached: Any = await s.exec(
            update(Order).where(col(Order.user_id) == user_id).values(user_id=None, updated_at=now)
        )
        await s.exec(
            update(Checkout)
            .where(col(Checkout.user_id) == user_id)
            .where(col(Checkout.status) == "open")
            .values(status="cancelled", updated_at=now)
        )
        await s.exec(
            update(Esim)
            .where(col(Esim.user_id) == user_id)
            .values(
                state="retired",
                user_id=None,
                nickname=None,
                activation_code_enc=None,
                updated_at=now,
            )
        )
        session_ids = [
            sid
            for sid in (
                await s.exec(select(AuthSession.id).where(AuthSession.user_id == user_id))
            ).all()
            if sid is not None
        ]
        if session_ids:
            await s.exec(
                delete(SessionFactor).where(col(SessionFactor.session_id).in_(session_ids))
            )
        await s.exec(delete(AuthSession).where(col(AuthSession.user_id) == user_id))
        await s.exec(delete(OidcIdentity).where(col(OidcIdentity.user_id) == user_id))
        await s.exec(delete(UserTotp).where(col(UserTotp.user_id) == user_id))
        await s.exec(delete(EmailToken).where(col(EmailToken.user_id) == user_id))
        await s.exec(delete(Notification).where(col(Notification.user_id) == user_id))
        await s.exec(delete(NotificationOptOut).where(col(NotificationOptOut.user_id) == user_id))
        await s.exec(delete(ReplacementRequest).where(col(ReplacementRequest.user_id) == user_id))
        await s.exec(
            delete(OutboxEmail).where(
                or_(col(OutboxEmail.user_id) == user_id, col(OutboxEmail.to_address) == email)
            )
        )
        await s.exec(
            delete(LoginAttempt).where(
                col(LoginAttempt.account).in_([email, totp_account(user_id)])
            )
        )
        user.email = f"deleted-{user_id}@deleted.invalid"
        user.password_hash = "!deleted"
        user.email_verified_at = None
        user.is_staff = False
        s.add(user)
        orders_detached = int(detached.rowcount or 0)
        s.add(
            AccountDeletion(
                user_id=user_id,
                deleted_at=now,
                esims_suspended=len(suspended_ids),
                orders_detached=orders_detached,
            )
        )
        await s.commit()
    log.info(
        "account deleted user_id=%s esims_suspended=%s orders_detached=%s",
        user_id,
        len(preview.live_esims),
        orders_detached,
    )
    return DeletionResult(esims_suspended=len(preview.live_esims), orders_detached=orders_detached)
