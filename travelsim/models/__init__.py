"""SQLModel tables of the portal database (owned by Alembic: ``alembic/versions``), one
module per area, all importable from here (importing this package registers every table).

Conventions: byte counts are ``BigInteger`` bytes; timestamps are timezone-aware UTC
(:mod:`travelsim.models.columns`); money is an integer count of the currency's minor units
(cents) with an ISO 4217 code beside it; statuses are the enums of
:mod:`travelsim.models.statuses` (stored as their strings).
"""

from __future__ import annotations

from travelsim.models.accounts import (
    AccountDeletion,
    AuthSession,
    EmailToken,
    OidcIdentity,
    SessionFactor,
    User,
    UserTotp,
)
from travelsim.models.auto_topup import AutoTopupCharge, AutoTopupRule
from travelsim.models.catalogue import (
    Plan,
    PlanPrice,
    PlanText,
)
from travelsim.models.columns import (
    UTCDateTime,
    utc_column,
    utcnow,
)
from travelsim.models.commerce import (
    Checkout,
    EsimReplacement,
    Order,
    Payment,
    ProvisioningStep,
    SavedCard,
    StripeEvent,
)
from travelsim.models.esims import (
    Esim,
    EsimAddon,
    EsimSync,
    ReplacementRequest,
    UsageDay,
)
from travelsim.models.gifts import (
    GIFT_MESSAGE_MAX,
    Gift,
    GiftLink,
)
from travelsim.models.operations import (
    AuditLog,
    CallbackEvent,
    JobRun,
    Notification,
    NotificationOptOut,
    OutboxEmail,
    SchedulerLease,
    StaffAlert,
)
from travelsim.models.reconciliation import (
    Discrepancy,
    DiscrepancyKind,
    DiscrepancyStatus,
)
from travelsim.models.statuses import (
    AddonState,
    AutoTopupChargeStatus,
    CallbackStatus,
    CheckoutStatus,
    GiftStatus,
    InventoryState,
    OrderStatus,
    OutboxStatus,
    PaymentStatus,
    PurchaseKind,
    ReplacementRequestStatus,
    ReplacementStatus,
    StepName,
    StepStatus,
)
from travelsim.models.tax import InvoiceCounter, VatRate

__all__ = [
    "GIFT_MESSAGE_MAX",
    "AccountDeletion",
    "AddonState",
    "AuditLog",
    "AuthSession",
    "AutoTopupCharge",
    "AutoTopupChargeStatus",
    "AutoTopupRule",
    "CallbackEvent",
    "CallbackStatus",
    "Checkout",
    "CheckoutStatus",
    "Discrepancy",
    "DiscrepancyKind",
    "DiscrepancyStatus",
    "EmailToken",
    "Esim",
    "EsimAddon",
    "EsimReplacement",
    "EsimSync",
    "Gift",
    "GiftLink",
    "GiftStatus",
    "InventoryState",
    "InvoiceCounter",
    "JobRun",
    "Notification",
    "NotificationOptOut",
    "OidcIdentity",
    "Order",
    "OrderStatus",
    "OutboxEmail",
    "OutboxStatus",
    "Payment",
    "PaymentStatus",
    "Plan",
    "PlanPrice",
    "PlanText",
    "ProvisioningStep",
    "PurchaseKind",
    "ReplacementRequest",
    "ReplacementRequestStatus",
    "ReplacementStatus",
    "SavedCard",
    "SchedulerLease",
    "SessionFactor",
    "StaffAlert",
    "StepName",
    "StepStatus",
    "StripeEvent",
    "UTCDateTime",
    "UsageDay",
    "User",
    "UserTotp",
    "VatRate",
    "utc_column",
    "utcnow",
]
