"""Card payments: the :class:`PaymentProvider` protocol and a test-mode demo processor.

The portal talks to a card processor through :class:`PaymentProvider`. Idempotency is the service
layer's job (``travelsim.services.checkout``): every charge carries an idempotency key derived from
the checkout id, and the portal database holds at most one ``Payment`` row per key (unique
``payment.idempotency_key``), so a double click, a reload or a retry never charges twice
(docs/esim.md#f13-charged-twice, docs/business-rules.md#one-payment-per-checkout). A real provider
additionally replays the stored answer for a key it has seen; :class:`DemoCardProvider` is stateless
and deterministic, so replaying a key with the same card gives the same answer by construction.

Card data: the full card number, expiry and CVC are only passed through to the provider. They
are never stored, logged or put in exception messages; only the last four digits are kept
(``ChargeResult.card_last4`` → ``Payment.card_last4``).

Demo test cards (like a processor's test mode):

================================  =====================================================
``4242 4242 4242 4242``           succeeds
``4000 0000 0000 0002``           declined, ``card_declined``
``4000 0025 0000 3155``           ``requires_action``: confirm with code ``123456``
any other Luhn-valid number       declined, ``test_mode_live_card`` (no real cards here)
Luhn-invalid / wrong length       ``invalid_number``
expiry month in the past          ``expired_card`` (bad month/year: ``invalid_expiry``)
CVC not 3-4 digits                ``invalid_cvc``
================================  =====================================================
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol, runtime_checkable

from travelsim.models import Payment, PaymentStatus, utcnow

__all__ = [
    "DEMO_CONFIRMATION_CODE",
    "FAILURE_MESSAGES",
    "Card",
    "ChargeResult",
    "ChargeStatus",
    "ConfirmResult",
    "DemoCardProvider",
    "PaymentProvider",
    "PaymentProviderError",
    "demo_provider",
    "failure_message",
    "get_provider",
    "luhn_valid",
    "normalize_card_number",
    "void_payment",
]

ChargeStatus = Literal["succeeded", "requires_action", "declined"]

#: The code that completes the demo's second step (like a 3-D Secure test challenge).
DEMO_CONFIRMATION_CODE = "123456"

CARD_SUCCEEDS = "4242424242424242"
CARD_DECLINED = "4000000000000002"
CARD_REQUIRES_ACTION = "4000002500003155"

#: Traveler-facing text per failure code (never contains card data).
FAILURE_MESSAGES: dict[str, str] = {
    "card_declined": "Your card was declined. Please try another card.",
    "test_mode_live_card": (
        "This is a demo shop: use a test card such as 4242 4242 4242 4242. No real card is charged."
    ),
    "invalid_number": "The card number is not valid. Please check it.",
    "invalid_expiry": "The expiry date is not valid.",
    "expired_card": "The card has expired. Please use another card.",
    "invalid_cvc": "The security code (CVC) must be 3 or 4 digits.",
    "authentication_failed": "The card could not be verified. Please try again.",
    "invalid_state": "This payment cannot be confirmed any more. Please start again.",
    "provider_error": "The payment could not be processed. You have not been charged.",
}


def failure_message(code: str | None) -> str:
    """Human text for a failure ``code`` (a generic sentence for unknown codes)."""
    return FAILURE_MESSAGES.get(code or "", "The payment did not go through.")


class PaymentProviderError(Exception):
    """The provider could not perform an operation (network, unknown reference, wrong state).

    ``code`` is machine-readable (e.g. ``"invalid_state"``, ``"unknown_ref"``); the message
    never contains card data.
    """

    def __init__(self, code: str, message: str | None = None) -> None:
        self.code = code
        super().__init__(message or code)


@dataclass(frozen=True, slots=True)
class ChargeResult:
    """The answer to :meth:`PaymentProvider.charge`.

    ``status``: ``succeeded`` (captured), ``requires_action`` (second step pending: call
    :meth:`PaymentProvider.confirm` with ``provider_ref``) or ``declined`` (``failure_code``
    says why; nothing was charged). ``provider_ref`` identifies the charge at the provider
    (``None`` when the card was rejected before a charge existed). ``card_last4`` is the only
    card data ever returned.
    """

    status: ChargeStatus
    provider_ref: str | None
    card_last4: str | None
    failure_code: str | None = None

    @property
    def message(self) -> str:
        """Traveler-facing text (empty on success)."""
        return "" if self.failure_code is None else failure_message(self.failure_code)


@dataclass(frozen=True, slots=True)
class ConfirmResult:
    """The answer to :meth:`PaymentProvider.confirm`: ``succeeded`` or ``declined``."""

    status: Literal["succeeded", "declined"]
    provider_ref: str
    failure_code: str | None = None


@runtime_checkable
class PaymentProvider(Protocol):
    """A card processor. Amounts are integer minor units (cents) with an ISO 4217 code.

    Implementations must treat ``idempotency_key`` as the identity of a charge: sending the same
    key again must not create a second charge.
    """

    name: str

    async def charge(
        self,
        *,
        amount_minor: int,
        currency: str,
        card_number: str,
        exp_month: int,
        exp_year: int,
        cvc: str,
        idempotency_key: str,
    ) -> ChargeResult:
        """Authorise and capture ``amount_minor``. Card problems come back as a ``declined``
        result (never raised); raises :class:`PaymentProviderError` only when the provider
        itself failed (outcome unknown: retry with the SAME key)."""
        ...

    async def confirm(self, provider_ref: str, code: str) -> ConfirmResult:
        """Complete the second step of a ``requires_action`` charge. Raises
        :class:`PaymentProviderError` (``invalid_state``) for a charge that needs no step."""
        ...

    async def void(self, provider_ref: str) -> None:
        """Release/cancel a charge the portal cannot honour (before settlement). Raises
        :class:`PaymentProviderError` when it could not be voided (a human must look)."""
        ...

    async def refund(self, provider_ref: str) -> None:
        """Refund a settled charge in full. Raises :class:`PaymentProviderError`."""
        ...


# --- card data -------------------------------------------------------------------------------
_SEPARATORS = re.compile(r"[\s-]+")
_EXPIRY = re.compile(r"^\s*(\d{1,2})\s*/?\s*(\d{2}|\d{4})\s*$")


@dataclass(frozen=True, slots=True, repr=False)
class Card:
    """Card data as typed in a payment form; passed through to the provider, never stored.

    ``number`` may contain spaces/dashes; ``expiry`` is ``MM/YY``, ``MM/YYYY`` or ``MMYY``;
    ``cvc`` 3-4 digits. Validation is the provider's job (it answers ``invalid_number``,
    ``invalid_expiry``, ``expired_card``, ``invalid_cvc``). ``repr``/``str`` show only the
    last four digits, so a card that reaches a log or a traceback reveals nothing more.
    """

    number: str
    expiry: str
    cvc: str

    @property
    def digits(self) -> str:
        """The number without separators."""
        return normalize_card_number(self.number)

    @property
    def last4(self) -> str | None:
        """The last four digits, the only part ever stored (``Payment.card_last4``)."""
        return _last4(self.digits)

    def _expiry_parts(self) -> tuple[int, int]:
        match = _EXPIRY.match(self.expiry or "")
        if match is None:
            return (0, 0)  # the provider answers invalid_expiry
        month, year = int(match.group(1)), int(match.group(2))
        return (month, year + 2000 if year < 100 else year)

    @property
    def exp_month(self) -> int:
        """Expiry month 1-12 (0 when ``expiry`` is unreadable)."""
        return self._expiry_parts()[0]

    @property
    def exp_year(self) -> int:
        """Four-digit expiry year (0 when ``expiry`` is unreadable)."""
        return self._expiry_parts()[1]

    def __repr__(self) -> str:
        return f"Card(last4={self.last4!r})"

    __str__ = __repr__


def normalize_card_number(number: str) -> str:
    """``number`` without spaces and dashes (``"4242 4242-4242 4242"`` → ``"4242...4242"``)."""
    return _SEPARATORS.sub("", number or "")


def luhn_valid(digits: str) -> bool:
    """ISO/IEC 7812 Luhn check of a digit string (``False`` for non-digits or empty)."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _last4(digits: str) -> str | None:
    return digits[-4:] if len(digits) >= 4 and digits[-4:].isdigit() else None


def _card_problem(
    digits: str, exp_month: int, exp_year: int, cvc: str, now: datetime
) -> str | None:
    """The first validation failure code, or ``None`` when the card data is well formed."""
    if not digits.isdigit() or not 12 <= len(digits) <= 19 or not luhn_valid(digits):
        return "invalid_number"
    if not 1 <= exp_month <= 12:
        return "invalid_expiry"
    year = exp_year + 2000 if 0 <= exp_year < 100 else exp_year
    if not 2000 <= year <= 2100:
        return "invalid_expiry"
    # A card is valid through the last day of its expiry month.
    if (year, exp_month) < (now.year, now.month):
        return "expired_card"
    if not (cvc.isdigit() and 3 <= len(cvc) <= 4):
        return "invalid_cvc"
    return None


class DemoCardProvider:
    """A stateless, deterministic card processor in test mode (see the module docstring).

    ``provider_ref`` values are derived from the idempotency key (``demo_ch_<hash>`` for a
    captured charge, ``demo_ra_<hash>`` for one awaiting its second step), so the same key
    always yields the same reference and no state is needed. ``clock`` returns the current
    aware UTC time (injectable for expiry tests).
    """

    name = "demo"

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))

    @staticmethod
    def _ref(prefix: str, idempotency_key: str) -> str:
        digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:24]
        return f"{prefix}{digest}"

    async def charge(
        self,
        *,
        amount_minor: int,
        currency: str,
        card_number: str,
        exp_month: int,
        exp_year: int,
        cvc: str,
        idempotency_key: str,
    ) -> ChargeResult:
        """See :meth:`PaymentProvider.charge`. Raises ``ValueError`` for a negative amount,
        a malformed currency or an empty idempotency key (programming errors)."""
        if amount_minor < 0:
            raise ValueError("amount_minor must be >= 0")
        if not re.fullmatch(r"[A-Z]{3}", currency or ""):
            raise ValueError("currency must be an ISO 4217 code")
        if not idempotency_key:
            raise ValueError("idempotency_key is required")
        digits = normalize_card_number(card_number)
        last4 = _last4(digits)
        problem = _card_problem(digits, exp_month, exp_year, (cvc or "").strip(), self._clock())
        if problem is not None:
            return ChargeResult("declined", None, last4, problem)
        if digits == CARD_SUCCEEDS:
            return ChargeResult("succeeded", self._ref("demo_ch_", idempotency_key), last4)
        if digits == CARD_REQUIRES_ACTION:
            return ChargeResult("requires_action", self._ref("demo_ra_", idempotency_key), last4)
        if digits == CARD_DECLINED:
            return ChargeResult(
                "declined", self._ref("demo_dc_", idempotency_key), last4, "card_declined"
            )
        return ChargeResult("declined", None, last4, "test_mode_live_card")

    async def confirm(self, provider_ref: str, code: str) -> ConfirmResult:
        """Code ``123456`` completes a ``demo_ra_`` charge; any other code declines it
        (``authentication_failed``). Raises :class:`PaymentProviderError` ``invalid_state``
        for references that had no second step."""
        if not provider_ref.startswith("demo_ra_"):
            raise PaymentProviderError("invalid_state", "this charge has no pending step")
        if (code or "").strip() == DEMO_CONFIRMATION_CODE:
            return ConfirmResult("succeeded", provider_ref)
        return ConfirmResult("declined", provider_ref, "authentication_failed")

    async def void(self, provider_ref: str) -> None:
        """Voiding any demo reference succeeds (nothing real was charged). Raises
        :class:`PaymentProviderError` ``unknown_ref`` for a reference not made here."""
        if not provider_ref.startswith("demo_"):
            raise PaymentProviderError("unknown_ref", "not a demo charge")

    async def refund(self, provider_ref: str) -> None:
        """Same rules as :meth:`void`."""
        await self.void(provider_ref)


_PROVIDERS: dict[str, Callable[[], PaymentProvider]] = {"demo": DemoCardProvider}


def demo_provider() -> PaymentProvider:
    """The demo card processor (what the portal uses until a real provider is configured)."""
    return DemoCardProvider()


def get_provider(name: str = "demo") -> PaymentProvider:
    """The provider registered as ``name`` (the value stored in ``Payment.provider``).
    Raises ``KeyError`` for an unknown name."""
    return _PROVIDERS[name]()


async def void_payment(payment: Payment, provider: PaymentProvider | None = None) -> None:
    """Void ``payment``'s charge at the provider (a charge the portal cannot honour: sold out
    after paying, provisioning given up). ``provider`` defaults to the one named in
    ``Payment.provider``. Sets ``status`` ``voided``, or ``flagged`` with ``failure_reason``
    ``"void failed: <code>"`` (at most 200 characters) when it could not be voided (provider
    error, no provider reference, unknown provider): a human must look. Sets ``updated_at``
    (aware UTC); the caller adds and commits. Never raises for a provider failure."""
    try:
        prov = provider or get_provider(payment.provider)
        if not payment.provider_ref:
            raise PaymentProviderError("no_ref", "payment has no provider reference")
        await prov.void(payment.provider_ref)
        payment.status = PaymentStatus.VOIDED
    except (PaymentProviderError, KeyError) as exc:
        payment.status = PaymentStatus.FLAGGED
        code = exc.code if isinstance(exc, PaymentProviderError) else type(exc).__name__
        payment.failure_reason = f"void failed: {code}"[:200]
    payment.updated_at = utcnow()
