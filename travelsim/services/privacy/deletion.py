"""Account deletion at its owner's request: preview, suspend live eSIMs, then erase.

The order of the steps and what each removes or keeps is in
:mod:`travelsim.services.privacy`; docs/business-rules.md#data-export-and-deletion.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db
from travelsim.models import (
    AccountDeletion,
    AddonState,
    AuthSession,
    Checkout,
    CheckoutStatus,
    EmailToken,
    Esim,
    EsimAddon,
    EsimSync,
    InventoryState,
    Notification,
    NotificationOptOut,
    OidcIdentity,
    Order,
    OrderStatus,
    OutboxEmail,
    ReplacementRequest,
    SavedCard,
    SessionFactor,
    User,
    UserTotp,
    utcnow,
)
from travelsim.services import gifts
from travelsim.services.auth.credentials import is_deleted
from travelsim.services.auth.errors import AccountError
from travelsim.services.auth.throttling import (
    KIND_PASSWORD,
    KIND_TOTP,
    clear_failures,
    totp_account,
)
from travelsim.services.payments import PaymentProvider, PaymentProviderError
from travelsim.sft.client import SFTClient
from travelsim.sft.errors import SFTBusinessError, SFTError, SFTOutcomeUnknown
from travelsim.sft.models import Priority

log = logging.getLogger(__name__)

#: Add-on statuses that still give data (or will): suspended before a deletion.
LIVE_ADDON_STATUSES = frozenset({AddonState.WAITING, AddonState.ACTIVE, AddonState.UNKNOWN})
#: Order statuses that mean "still in flight": deletion waits for them.
PENDING_ORDER_STATUSES = frozenset({OrderStatus.PAID, OrderStatus.PROVISIONING})
#: SFT lifecycle reason "3" (CSR): a customer-service action
#: (docs/sft-platform.md#endpointlifecyclechange, docs/business-rules.md#staff-suspension).
REASON_CSR = "3"


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
            .where(Esim.state == InventoryState.ASSIGNED)
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


async def delete_account(
    user_id: int, client: SFTClient, provider: PaymentProvider | None = None
) -> DeletionResult:
    """Delete the account ``user_id`` as :mod:`travelsim.services.privacy` describes (own
    database sessions; commits). ``provider``: Stripe, to remove the saved cards from the
    person's Customer (default ``payments.get_provider()``, asked only when there are
    saved cards). Raises :class:`AccountError`: ``delete_pending`` (an order in flight),
    ``delete_failed`` (a suspension failed: nothing deleted), ``forbidden`` (unknown or
    already deleted account)."""
    preview = await _deletable(user_id)
    for esim in preview.live_esims:
        await _suspend(client, esim.endpoint_id)
        log.info("eSIM suspended before account deletion esim_id=%s", esim.esim_id)
    await _remove_saved_cards(user_id, provider)
    orders_detached = await _erase(user_id, [e.esim_id for e in preview.live_esims])
    log.info(
        "account deleted user_id=%s esims_suspended=%s orders_detached=%s",
        user_id,
        len(preview.live_esims),
        orders_detached,
    )
    return DeletionResult(esims_suspended=len(preview.live_esims), orders_detached=orders_detached)


async def _deletable(user_id: int) -> DeletionPreview:
    """The preview of a live account with no order in flight. Raises :class:`AccountError`
    ``forbidden`` (unknown or already deleted) or ``delete_pending``."""
    async with db.session() as s:
        user = await s.get(User, user_id)
        if user is None or await is_deleted(s, user_id):
            raise AccountError("forbidden")
        preview = await deletion_preview(s, user_id)
    if preview.pending_orders:
        raise AccountError("delete_pending")
    return preview


async def _remove_saved_cards(user_id: int, provider: PaymentProvider | None) -> int:
    """Remove the person's saved cards from their Stripe Customer, best effort: a card
    Stripe could not remove is logged and left there (its row goes with the account in
    :func:`_erase`). Returns how many were removed at Stripe."""
    async with db.session() as s:
        user = await s.get(User, user_id)
        customer = user.stripe_customer_id if user is not None else None
        refs = list(
            (await s.exec(select(SavedCard.provider_ref).where(SavedCard.user_id == user_id))).all()
        )
    if not customer or not refs:
        return 0
    removed = 0
    try:
        if provider is None:
            from travelsim.services.payments import get_provider

            provider = get_provider()
        for ref in refs:
            try:
                await provider.detach_card(customer, ref)
                removed += 1
            except PaymentProviderError as exc:
                log.warning("saved card not removed at Stripe on deletion code=%s", exc.code)
    except Exception:  # Stripe not configured: the rows still go
        log.exception("saved cards not removed at Stripe on deletion")
    log.info("saved cards removed before account deletion count=%s", removed)
    return removed


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


async def _erase(user_id: int, suspended_ids: list[int]) -> int:
    """The one transaction of step 3: mirror the suspensions, keep the commerce rows but
    detach them, retire the eSIMs, delete everything personal, leave a tombstone and the
    ``account_deletion`` record. Returns how many orders were detached. Commits."""
    async with db.session() as s:
        user = await s.get(User, user_id)
        if user is None:  # pragma: no cover - checked before the suspensions
            raise AccountError("forbidden")
        email = user.email
        now = utcnow()
        await _mark_suspended(s, suspended_ids)
        orders_detached = await _detach_commerce(s, user_id, now)
        await gifts.forget_person(s, user_id, now)  # docs/business-rules.md#gifts
        await _retire_esims(s, user_id, now)
        await _delete_personal_rows(s, user_id, email)
        _tombstone(user)
        s.add(user)
        s.add(
            AccountDeletion(
                user_id=user_id,
                deleted_at=now,
                esims_suspended=len(suspended_ids),
                orders_detached=orders_detached,
            )
        )
        await s.commit()
    return orders_detached


async def _mark_suspended(s: AsyncSession, esim_ids: list[int]) -> None:
    """Mirror the suspensions just made on SFT (endpoint ``Suspended``, reason CSR)."""
    if not esim_ids:
        return
    await s.exec(
        update(EsimSync)
        .where(col(EsimSync.esim_id).in_(esim_ids))
        .values(endpoint_status="Suspended", lifecycle_reason=REASON_CSR)
    )
    await s.exec(update(Esim).where(col(Esim.id).in_(esim_ids)).values(endpoint_status="Suspended"))


async def _detach_commerce(s: AsyncSession, user_id: int, now: datetime) -> int:
    """Orders kept but detached (``user_id`` NULL), open checkouts cancelled; returns how
    many orders were detached."""
    detached: Any = await s.exec(
        update(Order).where(col(Order.user_id) == user_id).values(user_id=None, updated_at=now)
    )
    await s.exec(
        update(Checkout)
        .where(col(Checkout.user_id) == user_id)
        .where(col(Checkout.status) == CheckoutStatus.OPEN)
        .values(status=CheckoutStatus.CANCELLED, updated_at=now)
    )
    return int(detached.rowcount or 0)


async def _retire_esims(s: AsyncSession, user_id: int, now: datetime) -> None:
    """The person's eSIMs retired and detached, nickname and activation code erased."""
    await s.exec(
        update(Esim)
        .where(col(Esim.user_id) == user_id)
        .values(
            state=InventoryState.RETIRED,
            user_id=None,
            nickname=None,
            activation_code_enc=None,
            updated_at=now,
        )
    )


async def _delete_personal_rows(s: AsyncSession, user_id: int, email: str) -> None:
    """Sessions (and their factors), provider links, TOTP, email tokens, notifications and
    the opt-out, replacement requests, saved cards, emails (by account or address) and
    failed attempts."""
    session_ids = [
        sid
        for sid in (
            await s.exec(select(AuthSession.id).where(AuthSession.user_id == user_id))
        ).all()
        if sid is not None
    ]
    if session_ids:
        await s.exec(delete(SessionFactor).where(col(SessionFactor.session_id).in_(session_ids)))
    await s.exec(delete(AuthSession).where(col(AuthSession.user_id) == user_id))
    await s.exec(delete(OidcIdentity).where(col(OidcIdentity.user_id) == user_id))
    await s.exec(delete(UserTotp).where(col(UserTotp.user_id) == user_id))
    await s.exec(delete(EmailToken).where(col(EmailToken.user_id) == user_id))
    await s.exec(delete(Notification).where(col(Notification.user_id) == user_id))
    await s.exec(delete(NotificationOptOut).where(col(NotificationOptOut.user_id) == user_id))
    await s.exec(delete(ReplacementRequest).where(col(ReplacementRequest.user_id) == user_id))
    await s.exec(delete(SavedCard).where(col(SavedCard.user_id) == user_id))
    await s.exec(
        delete(OutboxEmail).where(
            or_(col(OutboxEmail.user_id) == user_id, col(OutboxEmail.to_address) == email)
        )
    )
    # Sign-in counts live in the shared rate limits: forget the account's now.
    await clear_failures(s, kind=KIND_PASSWORD, account=email)
    await clear_failures(s, kind=KIND_TOTP, account=totp_account(user_id))


def _tombstone(user: User) -> None:
    """The ``app_user`` row made anonymous and unusable, without its Stripe Customer
    reference (purchase attempts and payments kept for accounting still reference it)."""
    assert user.id is not None
    user.email = f"deleted-{user.id}@deleted.invalid"
    user.password_hash = "!deleted"
    user.email_verified_at = None
    user.is_staff = False
    user.stripe_customer_id = None
