"""Gifts: a new eSIM bought for someone else, and the claim links sent to its recipient
(docs/business-rules.md#gifts)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Column
from sqlmodel import Field, SQLModel

from travelsim.models.columns import UTCDateTime, utc_column, utcnow
from travelsim.models.statuses import GiftStatus

#: Longest gift message, in characters (plain text).
GIFT_MESSAGE_MAX = 300


class Gift(SQLModel, table=True):
    """A new-eSIM checkout marked as a gift for ``recipient_email`` (normalised, lower-case).

    ``status``: :class:`~travelsim.models.statuses.GiftStatus`. ``buyer_id`` is the buyer
    (``Order.user_id`` keeps the order, receipt and refunds); ``claimed_by`` the account that
    claimed it (then ``Esim.user_id``). ``locale``: the buyer's chosen language for the claim
    email when the recipient has no account language. ``message``: optional plain text, at
    most :data:`GIFT_MESSAGE_MAX` characters. ``sent_at``: first claim email queued;
    ``resent_at``: the last re-send.
    """

    __tablename__ = "gift"
    __table_args__ = (
        CheckConstraint(
            "status IN ('draft', 'ordered', 'sent', 'claimed', 'cancelled')",
            name="ck_gift_status",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    checkout_id: str = Field(foreign_key="checkout.id", max_length=36, unique=True)
    order_id: str | None = Field(
        default=None, foreign_key="purchase_order.id", max_length=36, unique=True
    )
    esim_id: int | None = Field(default=None, foreign_key="esim.id", index=True)
    buyer_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    recipient_email: str = Field(max_length=254, index=True)
    message: str | None = Field(default=None, max_length=GIFT_MESSAGE_MAX)
    locale: str = Field(default="en", max_length=8)
    status: str = Field(default=GiftStatus.DRAFT, max_length=12, index=True)
    claimed_by: int | None = Field(default=None, foreign_key="app_user.id")
    sent_at: datetime | None = utc_column()
    resent_at: datetime | None = utc_column()
    claimed_at: datetime | None = utc_column()
    cancelled_at: datetime | None = utc_column()
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class GiftLink(SQLModel, table=True):
    """One claim link of a gift: only the SHA-256 of its raw token is kept
    (:mod:`travelsim.services.auth.tokens`). A link works while its gift is ``sent`` and
    until ``expires_at`` (UTC); ``used_at`` is set by the claim it made."""

    __tablename__ = "gift_link"

    id: int | None = Field(default=None, primary_key=True)
    gift_id: int = Field(foreign_key="gift.id", index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used_at: datetime | None = utc_column()
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
