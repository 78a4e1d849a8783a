"""The statuses stored in the portal's tables, one enum per column.

Each is a :class:`~enum.StrEnum`: a member *is* its stored string (``OrderStatus.PAID ==
"paid"``), so rows written before the enums existed read the same, the columns stay plain
strings in the schema, and code names a status instead of spelling it.
"""

from __future__ import annotations

from enum import StrEnum


class InventoryState(StrEnum):
    """``Esim.state``: ``free`` → ``reserved`` (one checkout, until ``reserved_until``) →
    ``assigned`` (sold, for good); ``retired`` (taken out of sale)."""

    FREE = "free"
    RESERVED = "reserved"
    ASSIGNED = "assigned"
    RETIRED = "retired"


class PurchaseKind(StrEnum):
    """``Checkout.kind`` and ``Order.kind``: a new eSIM with its plan, or more data for one
    the traveler has."""

    NEW_ESIM = "new_esim"
    TOPUP = "topup"


class CheckoutStatus(StrEnum):
    """``Checkout.status``: ``open`` → ``paid`` (order created) or ``expired`` /
    ``cancelled`` / ``sold_out``."""

    OPEN = "open"
    PAID = "paid"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    SOLD_OUT = "sold_out"


class PaymentStatus(StrEnum):
    """``Payment.status``: ``processing`` (row claimed, the provider's answer pending),
    ``requires_action`` (3-D Secure pending in the browser), ``authorized`` (the amount is
    held on the card, not captured: the order exists, its eSIM is not delivered yet),
    ``succeeded`` (captured, at delivery), ``declined``, ``voided`` (the hold released before
    capture), ``refunded``, ``flagged`` (needs a human: a failed void or capture, a dispute),
    ``waived`` (a zero-amount staff order: goodwill or replacement; never charged, voided or
    counted as revenue)."""

    PROCESSING = "processing"
    REQUIRES_ACTION = "requires_action"
    AUTHORIZED = "authorized"
    SUCCEEDED = "succeeded"
    DECLINED = "declined"
    VOIDED = "voided"
    REFUNDED = "refunded"
    FLAGGED = "flagged"
    WAIVED = "waived"


class OrderStatus(StrEnum):
    """``Order.status``: ``paid`` → ``provisioning`` → ``delivered``, or ``needs_attention``
    (a step could not complete)."""

    PAID = "paid"
    PROVISIONING = "provisioning"
    DELIVERED = "delivered"
    NEEDS_ATTENTION = "needs_attention"


class StepName(StrEnum):
    """``ProvisioningStep.name``, in the order they run."""

    ACTIVATE = "activate"
    SUBSCRIBE = "subscribe"
    FETCH_CODE = "fetch_code"
    DELIVER = "deliver"


class StepStatus(StrEnum):
    """``ProvisioningStep.status``."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class AddonState(StrEnum):
    """``EsimAddon.status`` (the portal's words for the platform's add-on states,
    docs/sft-platform.md#get-endpoint-add-on-details): ``waiting`` (subscribed, validity not
    started), ``active``, ``used_up``, ``expired``, ``deactivated``, ``unknown`` (a status the
    portal does not know, or an instance the platform no longer lists)."""

    WAITING = "waiting"
    ACTIVE = "active"
    USED_UP = "used_up"
    EXPIRED = "expired"
    DEACTIVATED = "deactivated"
    UNKNOWN = "unknown"


class OutboxStatus(StrEnum):
    """``OutboxEmail.status``: ``queued`` → ``sent``, or ``failed`` after bounded retries."""

    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class CallbackStatus(StrEnum):
    """``CallbackEvent.status``: ``pending`` → ``processed``, ``ignored`` or ``failed``;
    ``unrecognised`` from the start (a body or event the portal does not understand, kept for
    staff and never applied)."""

    PENDING = "pending"
    PROCESSED = "processed"
    IGNORED = "ignored"
    FAILED = "failed"
    UNRECOGNISED = "unrecognised"  # 12 characters: the column's width


class ReplacementRequestStatus(StrEnum):
    """``ReplacementRequest.status``."""

    OPEN = "open"
    CLOSED = "closed"


class ReplacementStatus(StrEnum):
    """``EsimReplacement.status``: ``provisioning`` → ``done`` or ``failed``."""

    PROVISIONING = "provisioning"
    DONE = "done"
    FAILED = "failed"


class GiftStatus(StrEnum):
    """``Gift.status`` (docs/business-rules.md#gifts): ``draft`` (marked on an open checkout)
    → ``ordered`` (paid; the eSIM is being set up) → ``sent`` (delivered, claim email queued)
    → ``claimed`` (the eSIM moved to the recipient), or ``cancelled`` (taken back by the
    buyer, or removed from the checkout)."""

    DRAFT = "draft"
    ORDERED = "ordered"
    SENT = "sent"
    CLAIMED = "claimed"
    CANCELLED = "cancelled"


class AutoTopupChargeStatus(StrEnum):
    """``AutoTopupCharge.status`` (docs/business-rules.md#automatic-top-up)."""

    PENDING = "pending"  # the crossing is claimed; being bought
    CHARGED = "charged"  # held on the card, the order exists
    REQUIRES_ACTION = "requires_action"  # the bank wants 3-D Secure: finish on the page
    DECLINED = "declined"
    CAPPED = "capped"  # the monthly cap was reached: nothing bought
    SKIPPED = "skipped"  # a stop reason applied before any charge
    FAILED = "failed"  # the checkout or Stripe failed: nothing charged
