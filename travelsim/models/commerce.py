"""Checkouts, payments, orders, their provisioning steps and eSIM replacements.

Money is an integer count of the currency's minor units (cents) with an ISO 4217 code beside
it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from travelsim.models.columns import UTCDateTime, utc_column, utcnow
from travelsim.models.consent import ConsentFields
from travelsim.models.statuses import (
    CheckoutStatus,
    OrderStatus,
    PurchaseKind,
    ReplacementStatus,
    StepStatus,
)

# --- commerce -----------------------------------------------------------------------------


class Checkout(ConsentFields, table=True):
    """One purchase attempt. Its ``id`` is the idempotency key of everything after it:
    one checkout → at most one successful payment → at most one order.

    ``status``: ``open`` → ``paid`` (order created) or ``expired`` / ``cancelled`` /
    ``sold_out``. ``kind``: ``new_esim`` or ``topup`` (``esim_id`` given).
    """

    __tablename__ = "checkout"

    id: str = Field(primary_key=True, max_length=36)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    plan_id: str = Field(foreign_key="plan.plan_id", max_length=32)
    kind: str = Field(default=PurchaseKind.NEW_ESIM, max_length=16)
    esim_id: int | None = Field(default=None, foreign_key="esim.id")
    destination: str | None = Field(default=None, max_length=2)
    amount_minor: int
    currency: str = Field(max_length=3)
    status: str = Field(default=CheckoutStatus.OPEN, max_length=16, index=True)
    device_confirmed: bool = False
    #: A draft gift is attached (``services.gifts.mark_checkout``; docs/business-rules.md#gifts).
    is_gift: bool = False
    reserved_until: datetime | None = utc_column()
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class Payment(SQLModel, table=True):
    """A card payment: one Stripe PaymentIntent (``provider_ref`` ``pi_…``) with manual
    capture. ``idempotency_key`` (the checkout id; ``<id>:<n>`` for the n-th attempt) is
    unique: retries return the same payment instead of charging again.

    ``status`` (``PaymentStatus``): ``processing`` → ``requires_action`` (3-D Secure in the
    browser) → ``authorized`` (held on the card, the order exists) → ``succeeded`` (captured
    when the eSIM was delivered, ``captured_at``), or ``declined``, ``voided`` (the hold
    released: provisioning given up, sold out, staff), ``refunded``, ``flagged`` (a human
    must look: a failed void or capture, a dispute). ``card_ref`` is the Stripe card the
    traveler paid with (``card_…``); ``keep_card`` says whether it stays saved on their
    Customer afterwards (docs/payments.md).
    """

    __tablename__ = "payment"

    id: int | None = Field(default=None, primary_key=True)
    checkout_id: str = Field(foreign_key="checkout.id", max_length=36, index=True)
    idempotency_key: str = Field(max_length=64, unique=True)
    provider: str = Field(max_length=32)
    provider_ref: str | None = Field(default=None, max_length=64, index=True)
    amount_minor: int
    currency: str = Field(max_length=3)
    status: str = Field(max_length=20, index=True)
    card_last4: str | None = Field(default=None, max_length=4)
    #: The card's issuing country as Stripe reports it (``card.country``, ISO alpha-2): VAT
    #: evidence (docs/business-rules.md#vat-evidence).
    card_country: str | None = Field(default=None, max_length=2)
    card_ref: str | None = Field(default=None, max_length=64)
    keep_card: bool = False
    captured_at: datetime | None = utc_column()
    failure_reason: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class Order(ConsentFields, table=True):
    """A paid purchase and its provisioning.

    ``status``: ``paid`` → ``provisioning`` → ``delivered``, or ``needs_attention`` (a step
    could not complete; payment voided or flagged). ``addon_unique_id`` is the SFT add-on
    instance (``uniqueId``) subscribed for this order.

    Automatic retry after a transient platform fault (``services.provisioning``): the order
    goes back to ``paid`` with ``retry_count`` (retries scheduled so far), ``first_failed_at``
    (UTC, start of the retry window) and ``next_attempt_at`` (UTC, when the recovery job may
    run it again; ``None`` when no retry is waiting).
    """

    __tablename__ = "purchase_order"

    id: str = Field(primary_key=True, max_length=36)
    reference: str = Field(max_length=16, unique=True, description="Shown to travelers")
    checkout_id: str = Field(foreign_key="checkout.id", max_length=36, unique=True)
    user_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    plan_id: str = Field(foreign_key="plan.plan_id", max_length=32)
    esim_id: int = Field(foreign_key="esim.id", index=True)
    payment_id: int = Field(foreign_key="payment.id")
    kind: str = Field(default=PurchaseKind.NEW_ESIM, max_length=16)
    status: str = Field(default=OrderStatus.PAID, max_length=20, index=True)
    amount_minor: int
    tax_minor: int = 0
    currency: str = Field(max_length=3)
    #: The invoice (docs/business-rules.md#invoice-numbers): its number (``2026-000001``,
    #: gap-free per year), the customer's country VAT was charged for, the rate (hundredths
    #: of a percent), the rule that decided (``services.tax.TaxRule``) and the evidence
    #: (card issuing country, the country the traveler stated), all as at payment time.
    invoice_number: str | None = Field(default=None, max_length=16, unique=True)
    #: The credit note cancelling the invoice when the payment was refunded (``CN-2026-000001``).
    credit_note_number: str | None = Field(default=None, max_length=20, unique=True)
    tax_country: str | None = Field(default=None, max_length=2)
    tax_rate_bp: int | None = None
    tax_rule: str | None = Field(default=None, max_length=20)
    evidence_card_country: str | None = Field(default=None, max_length=2)
    evidence_stated_country: str | None = Field(default=None, max_length=2)
    addon_unique_id: str | None = Field(default=None, max_length=32)
    last_error: str | None = Field(default=None, max_length=500)
    attempts: int = 0
    retry_count: int = 0
    first_failed_at: datetime | None = utc_column()
    next_attempt_at: datetime | None = utc_column()
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    delivered_at: datetime | None = utc_column()


class ProvisioningStep(SQLModel, table=True):
    """One persisted step of an order's provisioning (``activate``, ``subscribe``,
    ``fetch_code``, ``deliver``). ``status``: ``pending``, ``running``, ``done``, ``failed``."""

    __tablename__ = "provisioning_step"
    __table_args__ = (UniqueConstraint("order_id", "name", name="uq_step_order_name"),)

    id: int | None = Field(default=None, primary_key=True)
    order_id: str = Field(foreign_key="purchase_order.id", max_length=36, index=True)
    seq: int
    name: str = Field(max_length=20)
    status: str = Field(default=StepStatus.PENDING, max_length=12)
    attempts: int = 0
    detail: str | None = Field(default=None, max_length=500)
    error: str | None = Field(default=None, max_length=500)
    started_at: datetime | None = utc_column()
    finished_at: datetime | None = utc_column()


class EsimReplacement(SQLModel, table=True):
    """A replacement eSIM given by staff for ``old_esim_id`` (docs/business-rules.md#replacement).

    One per old eSIM (unique): pressing "replace" twice never hands out two eSIMs.
    ``plan_ids``: the plans of the add-ons still live on the old eSIM, each subscribed anew
    on the new one (``order_ids``: the zero-amount staff orders that provision them, the
    first one a ``new_esim`` order). ``status``: ``provisioning`` → ``done`` (new eSIM
    delivered, old endpoint suspended) or ``failed`` (``detail``; the orders stay visible
    and can be retried).
    """

    __tablename__ = "esim_replacement"
    __table_args__ = (
        CheckConstraint(
            "status IN ('provisioning', 'done', 'failed')", name="ck_esim_replacement_status"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    old_esim_id: int = Field(foreign_key="esim.id", unique=True)
    new_esim_id: int | None = Field(default=None, foreign_key="esim.id", index=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    staff_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    plan_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    order_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=ReplacementStatus.PROVISIONING, max_length=16)
    detail: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    finished_at: datetime | None = utc_column()


class SavedCard(SQLModel, table=True):
    """A card a traveler chose to keep for later top-ups: a card (``provider_ref``
    ``card_…``) on their Stripe Customer (``User.stripe_customer_id``). Only the brand,
    the last four digits and the issuing country are kept here; number, expiry and CVC never
    reach the portal (docs/payments.md#saved-cards)."""

    __tablename__ = "saved_card"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    provider_ref: str = Field(max_length=64, unique=True)
    brand: str = Field(default="", max_length=32)
    last4: str = Field(default="", max_length=4)
    #: Issuing country (ISO alpha-2) as Stripe reported it when the card was added.
    country: str | None = Field(default=None, max_length=2)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class StripeEvent(SQLModel, table=True):
    """A Stripe webhook event the portal received (``id`` = the event id ``evt_…``), kept so
    a retried or replayed event is applied once (docs/payments.md#webhooks). ``object_ref``:
    the PaymentIntent (``pi_…``) or charge it is about; ``outcome``: what applying it did."""

    __tablename__ = "stripe_event"

    id: str = Field(primary_key=True, max_length=255)
    type: str = Field(max_length=64)
    object_ref: str | None = Field(default=None, max_length=64, index=True)
    outcome: str = Field(default="", max_length=200)
    received_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )
