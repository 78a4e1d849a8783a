"""Claiming a gift (docs/business-rules.md#gifts): what the claim page shows for a link, and
the claim itself, which moves the eSIM into the recipient's account.

The claiming account's *verified* email must be the gift's address (case-insensitive: both are
stored lower-cased). The claim is one transaction with two compare-and-sets, the gift
``sent`` → ``claimed`` and the eSIM ``gift_pending`` → held by the claimant, so of two claims
(or a claim and a take-back) exactly one wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.models import Esim, Gift, GiftLink, GiftStatus, Order, User, utcnow
from travelsim.services.auth.tokens import plausible, token_hash
from travelsim.services.gifts import GiftError, mask_email

#: What a link refused for its gift's status says (``GiftError`` codes).
_CLOSED = {GiftStatus.CLAIMED: "claimed", GiftStatus.CANCELLED: "cancelled"}


async def _link_and_gift(session: AsyncSession, token: str | None) -> tuple[GiftLink, Gift]:
    """The link of the raw ``token`` and its gift, while it can still be claimed. Raises
    :class:`GiftError` ``link_invalid`` (unknown or malformed), ``claimed`` (this gift was
    claimed: the link is used), ``cancelled`` (taken back), ``link_expired``."""
    if not plausible(token):
        raise GiftError("link_invalid")
    link = (
        await session.exec(select(GiftLink).where(GiftLink.token_hash == token_hash(token)))
    ).first()
    gift = await session.get(Gift, link.gift_id) if link is not None else None
    if link is None or gift is None or gift.status in (GiftStatus.DRAFT, GiftStatus.ORDERED):
        raise GiftError("link_invalid")
    if gift.status in _CLOSED:
        raise GiftError(_CLOSED[GiftStatus(gift.status)])
    if utcnow() >= link.expires_at:
        raise GiftError("link_expired")
    return link, gift


def _check_account(gift: Gift, user: User) -> None:
    if user.email_verified_at is None:
        raise GiftError("unverified")
    if user.email.lower() != gift.recipient_email.lower():
        raise GiftError("wrong_account")


@dataclass(frozen=True)
class ClaimView:
    """The claim page for one link: ``problem`` is ``""`` when ``user`` may claim now, else a
    :class:`GiftError` code (``signed_out`` when nobody is signed in); ``recipient`` the
    gift's address masked (for ``wrong_account``, empty when the link is unusable);
    ``message`` the buyer's message (only shown to the right account)."""

    problem: str
    recipient: str = ""
    message: str = ""
    order_id: str = ""


async def claim_view(session: AsyncSession, token: str | None, user: User | None) -> ClaimView:
    """What the claim page shows for ``token`` to ``user`` (``None``: signed out). Read-only."""
    try:
        _link, gift = await _link_and_gift(session, token)
    except GiftError as exc:
        return ClaimView(problem=exc.code)
    masked = mask_email(gift.recipient_email)
    if user is None:
        return ClaimView(problem="signed_out", recipient=masked)
    try:
        _check_account(gift, user)
    except GiftError as exc:
        return ClaimView(problem=exc.code, recipient=masked)
    return ClaimView(problem="", recipient=masked, message=gift.message or "")


async def claim(session: AsyncSession, token: str | None, user: User) -> int:
    """Claim the gift of ``token`` for ``user``; **commits**. Returns the eSIM id, now held by
    ``user`` (``Esim.user_id``). Raises :class:`GiftError` ``link_invalid``, ``link_expired``,
    ``claimed`` (used already, or another claim won just now), ``cancelled``, ``unverified``,
    ``wrong_account``; nothing is changed then."""
    link, gift = await _link_and_gift(session, token)
    _check_account(gift, user)
    now = utcnow()
    won: Any = await session.exec(
        update(Gift)
        .where(col(Gift.id) == gift.id)
        .where(col(Gift.status) == GiftStatus.SENT)
        .values(status=GiftStatus.CLAIMED, claimed_by=user.id, claimed_at=now)
    )
    moved: Any = None
    if won.rowcount == 1:
        moved = await session.exec(
            update(Esim)
            .where(col(Esim.id) == gift.esim_id)
            .where(col(Esim.gift_pending).is_(True))
            .values(user_id=user.id, gift_pending=False, nickname=None, updated_at=now)
        )
    if won.rowcount != 1 or moved is None or moved.rowcount != 1:
        await session.rollback()
        raise GiftError("claimed")
    await session.exec(update(GiftLink).where(col(GiftLink.id) == link.id).values(used_at=now))
    await session.commit()
    assert gift.esim_id is not None
    return gift.esim_id


async def admin_gift(session: AsyncSession, order: Order) -> dict[str, str] | None:
    """The staff view of ``order``'s gift: ``recipient`` (in full), ``status``, ``sent_at``,
    ``claimed_at``, ``claimed_by`` (the claimant's email) as text; ``None`` for no gift."""
    gift = (await session.exec(select(Gift).where(Gift.order_id == order.id))).first()
    if gift is None:
        return None
    claimant = await session.get(User, gift.claimed_by) if gift.claimed_by else None

    def when(value: object) -> str:
        return value.isoformat(timespec="minutes") if hasattr(value, "isoformat") else ""

    return {
        "recipient": gift.recipient_email,
        "status": gift.status,
        "sent_at": when(gift.resent_at or gift.sent_at),
        "claimed_at": when(gift.claimed_at),
        "claimed_by": claimant.email if claimant else "",
    }
