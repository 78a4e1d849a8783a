"""Card payments through Stripe: the :class:`PaymentProvider` protocol, :class:`StripeProvider`
(the official ``stripe`` library, async over HTTPX), and releasing or capturing a hold.

How the portal charges (docs/payments.md):

* The card is typed into Stripe.js in the browser; the portal only ever sees a single-use
  token (``tok_…``) or the id of a card already on the traveler's Stripe Customer
  (``card_…``). Card number, expiry and CVC never reach the portal server.
* The token becomes a card of the traveler's Customer (:meth:`StripeProvider.attach_card`),
  then ONE PaymentIntent per payment is created and confirmed with ``capture_method=manual``
  (:meth:`StripeProvider.authorize`): the amount is held on the card
  (https://docs.stripe.com/payments/place-a-hold-on-a-payment-method), captured when the eSIM
  is delivered (``payment_holds.capture_payment``) and cancelled when provisioning is given up
  (``payment_holds.void_payment``): the traveler is charged only for a delivered eSIM.
* Every PaymentIntent carries an idempotency key derived from the payment's own key (the
  checkout id), the amount and the currency (:func:`stripe_idempotency_key`): a retry after a
  network failure is answered with the same PaymentIntent by Stripe
  (https://docs.stripe.com/api/idempotent_requests), and the same key with other parameters
  is an error there. The portal database additionally holds at most one ``Payment`` row per
  key (unique ``payment.idempotency_key``): that guard is what holds on localstripe, which
  does not replay keys.

Errors: a card problem (declined, expired, 3-D Secure failed) comes back as a ``declined``
:class:`ChargeResult` or :class:`CardDeclined` with a Stripe code; traveler-facing words per
code are :data:`FAILURE_MESSAGES`. Stripe unreachable, 5xx or a refused request raises
:class:`PaymentProviderError`. The library's own retries (``max_network_retries``) resend with
the same idempotency key.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

import stripe

from travelsim.models import Payment
from travelsim.services.payment_failures import FAILURE_MESSAGES, failure_message

__all__ = [
    "FAILURE_MESSAGES",
    "CardDeclined",
    "CardInfo",
    "ChargeResult",
    "ChargeStatus",
    "PaymentProvider",
    "PaymentProviderError",
    "StripeProvider",
    "failure_message",
    "get_provider",
    "stripe_idempotency_key",
]

log = logging.getLogger(__name__)
# The stripe library logs every API response body at DEBUG ("API response body": a card's
# expiry month and year, client secrets). Never at any LOG_LEVEL: its logger stops at INFO
# (request lines and status codes only).
logging.getLogger("stripe").setLevel(logging.INFO)


class ChargeStatus(StrEnum):
    """A PaymentIntent's state as the portal reads it (:func:`charge_result`)."""

    AUTHORIZED = "authorized"  # requires_capture: held, not charged
    REQUIRES_ACTION = "requires_action"  # 3-D Secure in the browser
    DECLINED = "declined"
    SUCCEEDED = "succeeded"  # captured
    CANCELED = "canceled"  # hold released
    PROCESSING = "processing"


#: Stripe's PaymentIntent statuses that map one to one
#: (https://docs.stripe.com/payments/paymentintents/lifecycle).
_STRIPE_STATUS: dict[str, ChargeStatus] = {
    "requires_capture": ChargeStatus.AUTHORIZED,
    "requires_action": ChargeStatus.REQUIRES_ACTION,
    "requires_source_action": ChargeStatus.REQUIRES_ACTION,
    "succeeded": ChargeStatus.SUCCEEDED,
    "canceled": ChargeStatus.CANCELED,
}


class PaymentProviderError(Exception):
    """Stripe could not perform an operation: ``code`` is ``provider_unavailable`` (network,
    5xx, rate limited: the outcome of a create is unknown, resend with the SAME idempotency
    key), ``unknown_ref`` (no such object), ``invalid_state`` (e.g. capturing a cancelled
    PaymentIntent), ``idempotency_conflict`` or ``invalid_request``. The message never
    contains card data."""

    def __init__(self, code: str, message: str | None = None) -> None:
        self.code = code
        super().__init__(message or code)


class CardDeclined(Exception):
    """The card was refused before any PaymentIntent existed (e.g. when it was attached to
    the Customer). ``code`` is Stripe's decline or error code."""

    def __init__(self, code: str) -> None:
        self.code = code or "card_declined"
        super().__init__(self.code)


@dataclass(frozen=True, slots=True)
class CardInfo:
    """A card on a Stripe Customer: ``ref`` (``card_…``), ``brand`` ("Visa"), ``last4`` and
    ``country``, the issuing country (ISO alpha-2, "" when Stripe gives none: VAT evidence,
    docs/business-rules.md#vat-evidence). Nothing else of the card is ever read."""

    ref: str
    brand: str
    last4: str
    country: str = ""


@dataclass(frozen=True, slots=True)
class ChargeResult:
    """A PaymentIntent as the portal reads it.

    ``status``: ``authorized`` (``requires_capture``: held, not charged), ``requires_action``
    (3-D Secure in the browser with ``client_secret``), ``declined`` (``failure_code`` says
    why; nothing held), ``succeeded`` (captured), ``canceled`` (hold released), ``processing``.
    ``amount_minor``/``currency`` (upper-case ISO 4217) are the PaymentIntent's own.
    ``client_secret`` is handed to the browser only, never stored or logged.
    """

    status: ChargeStatus
    provider_ref: str | None
    amount_minor: int = 0
    currency: str = ""
    failure_code: str | None = None
    client_secret: str | None = field(default=None, repr=False)

    @property
    def message(self) -> str:
        """Traveler-facing text (empty unless declined)."""
        return "" if self.failure_code is None else failure_message(self.failure_code)


@runtime_checkable
class PaymentProvider(Protocol):
    """A card processor holding amounts in integer minor units with an ISO 4217 code."""

    name: str

    async def ensure_customer(self, *, email: str, user_id: int, existing: str | None) -> str:
        """The traveler's customer id (``existing`` if given, else a new one)."""
        ...

    async def attach_card(self, customer_id: str, token: str) -> CardInfo:
        """Add the browser's card token to the customer. Raises CardDeclined."""
        ...

    async def detach_card(self, customer_id: str, card_ref: str) -> None:
        """Remove a card from the customer (already gone is fine)."""
        ...

    async def authorize(
        self,
        *,
        amount_minor: int,
        currency: str,
        customer_id: str,
        card_ref: str,
        idempotency_key: str,
        metadata: dict[str, str],
        off_session: bool = False,
    ) -> ChargeResult:
        """Create and confirm a manual-capture PaymentIntent (``off_session``: no traveler)."""
        ...

    async def retrieve(self, ref: str) -> ChargeResult:
        """Read a PaymentIntent's current state."""
        ...

    async def capture(self, ref: str) -> ChargeResult:
        """Capture a held PaymentIntent in full."""
        ...

    async def void(self, ref: str) -> None:
        """Release a hold (cancel the PaymentIntent)."""
        ...

    async def refund(self, ref: str) -> None:
        """Refund a captured PaymentIntent in full."""
        ...


def stripe_idempotency_key(payment: Payment) -> str:
    """The Stripe ``Idempotency-Key`` of ``payment``'s PaymentIntent: its own key (the checkout
    id, ``<id>:<n>`` for a later attempt) with amount and currency, e.g.
    ``travelsim-pi-3f0c…:2-450-EUR`` (at most 255 characters, Stripe's limit). A resend with
    the same payment gets the same key; another amount or currency gets another."""
    return f"travelsim-pi-{payment.idempotency_key}-{payment.amount_minor}-{payment.currency}"


def _error_code(exc: stripe.StripeError) -> str:
    err = getattr(exc, "error", None)
    code = getattr(err, "decline_code", None) or getattr(exc, "code", None)
    return str(code or "card_declined")


def _wrap(exc: stripe.StripeError) -> PaymentProviderError:
    """The :class:`PaymentProviderError` for a non-card Stripe error."""
    if isinstance(exc, stripe.IdempotencyError):
        return PaymentProviderError("idempotency_conflict", "idempotency key reused")
    if isinstance(exc, stripe.InvalidRequestError):
        if getattr(exc, "code", None) == "resource_missing" or exc.http_status == 404:
            return PaymentProviderError("unknown_ref", "no such Stripe object")
        if exc.http_status == 400:
            return PaymentProviderError("invalid_state", "Stripe refused the request")
        return PaymentProviderError("invalid_request", "Stripe refused the request")
    return PaymentProviderError(
        "provider_unavailable", f"Stripe unavailable ({type(exc).__name__})"
    )


def _as_dict(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return obj
    return dict(obj.to_dict())


def charge_result(pi: Any) -> ChargeResult:
    """Read a PaymentIntent (a ``stripe`` object or its dict, as in a webhook event) into a
    :class:`ChargeResult`. Status mapping (https://docs.stripe.com/payments/paymentintents/lifecycle):
    ``requires_capture`` → authorized, ``requires_action``/``requires_source_action`` →
    requires_action, ``requires_payment_method`` after an error → declined (the error's
    code), ``succeeded``, ``canceled``, anything else → processing."""
    data = _as_dict(pi)
    stripe_status = str(data.get("status") or "")
    error = _as_dict(data.get("last_payment_error"))
    failure: str | None = None
    mapped = _STRIPE_STATUS.get(stripe_status, ChargeStatus.PROCESSING)
    if mapped == ChargeStatus.CANCELED:
        failure = "canceled"
    elif stripe_status == "requires_payment_method":
        mapped = ChargeStatus.DECLINED
        failure = (
            str(error.get("decline_code") or error.get("code") or "card_declined")
            if error or data.get("latest_charge")
            else "payment_intent_authentication_failure"
        )
    return ChargeResult(
        status=mapped,
        provider_ref=data.get("id"),
        amount_minor=int(data.get("amount") or 0),
        currency=str(data.get("currency") or "").upper(),
        failure_code=failure,
        client_secret=(
            data.get("client_secret") if mapped == ChargeStatus.REQUIRES_ACTION else None
        ),
    )


class StripeProvider:
    """:class:`PaymentProvider` on the Stripe API (or localstripe: ``api_base``).

    ``secret_key``: ``sk_live_…`` / ``rk_live_…`` in production, ``sk_test_…`` otherwise.
    Calls go through ``stripe.StripeClient`` with HTTPX and up to ``max_network_retries``
    library retries (same idempotency key). Every method raises
    :class:`PaymentProviderError` for a Stripe failure that is not about the card."""

    name = "stripe"

    def __init__(
        self,
        *,
        secret_key: str,
        api_base: str = "https://api.stripe.com",
        max_network_retries: int = 2,
        timeout_seconds: float = 20.0,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": self.api_base},
            http_client=stripe.HTTPXClient(timeout=timeout_seconds),
            max_network_retries=max_network_retries,
        )

    async def ensure_customer(self, *, email: str, user_id: int, existing: str | None) -> str:
        """``existing`` (``cus_…``) if given, else a new Customer with the traveler's
        ``email`` and ``metadata.user_id`` (idempotency key ``travelsim-customer-<id>``, so
        two concurrent first payments make one Customer on Stripe)."""
        if existing:
            return existing
        try:
            customer = await self._client.v1.customers.create_async(
                params={"email": email, "metadata": {"user_id": str(user_id)}},
                options={"idempotency_key": f"travelsim-customer-{user_id}"},
            )
        except stripe.StripeError as exc:
            raise _wrap(exc) from None
        return str(customer.id)

    async def attach_card(self, customer_id: str, token: str) -> CardInfo:
        """Add the single-use card token (``tok_…``, made by Stripe.js in the browser) as a
        card of ``customer_id`` (https://docs.stripe.com/api/cards/create). Raises
        :class:`CardDeclined` when Stripe refuses the card, :class:`PaymentProviderError`
        otherwise (e.g. a token already used: ``invalid_state``)."""
        try:
            card = await self._client.v1.customers.payment_sources.create_async(
                customer_id, params={"source": token}
            )
        except stripe.CardError as exc:
            raise CardDeclined(_error_code(exc)) from None
        except stripe.StripeError as exc:
            raise _wrap(exc) from None
        data = _as_dict(card)
        return CardInfo(
            ref=str(data.get("id")),
            brand=str(data.get("brand") or "")[:32],
            last4=str(data.get("last4") or "")[:4],
            country=str(data.get("country") or "")[:2].upper(),
        )

    async def detach_card(self, customer_id: str, card_ref: str) -> None:
        """Delete ``card_ref`` from ``customer_id``; a card already gone is fine."""
        try:
            await self._client.v1.customers.payment_sources.delete_async(customer_id, card_ref)
        except stripe.StripeError as exc:
            wrapped = _wrap(exc)
            if wrapped.code != "unknown_ref":
                raise wrapped from None

    async def authorize(
        self,
        *,
        amount_minor: int,
        currency: str,
        customer_id: str,
        card_ref: str,
        idempotency_key: str,
        metadata: dict[str, str],
        off_session: bool = False,
    ) -> ChargeResult:
        """Create and confirm a PaymentIntent with ``capture_method=manual`` for
        ``amount_minor`` (> 0) ``currency`` on ``card_ref`` of ``customer_id``; ``off_session``
        for an automatic top-up (docs/payments.md#off-session-payments). Returns
        ``authorized``, ``requires_action`` (with ``client_secret``) or ``declined`` (a
        ``CardError``: the PaymentIntent, if Stripe made one, is its ``provider_ref``).
        Raises ``ValueError`` for a non-positive amount or a malformed currency,
        :class:`PaymentProviderError` when Stripe failed (outcome unknown: resend with the
        same ``idempotency_key``)."""
        if amount_minor <= 0:
            raise ValueError("amount_minor must be > 0")
        if len(currency) != 3 or not currency.isalpha():
            raise ValueError("currency must be an ISO 4217 code")
        try:
            pi = await self._client.v1.payment_intents.create_async(
                params={
                    "amount": amount_minor,
                    "currency": currency.lower(),
                    "customer": customer_id,
                    "payment_method": card_ref,
                    "capture_method": "manual",
                    "confirm": True,
                    "metadata": metadata,
                    "off_session": off_session,
                },
                options={"idempotency_key": idempotency_key},
            )
        except stripe.CardError as exc:
            err = _as_dict(getattr(exc, "error", None))
            pi_ref = _as_dict(err.get("payment_intent")).get("id")
            return ChargeResult(
                ChargeStatus.DECLINED,
                pi_ref,
                amount_minor,
                currency.upper(),
                failure_code=_error_code(exc),
            )
        except stripe.StripeError as exc:
            raise _wrap(exc) from None
        return charge_result(pi)

    async def retrieve(self, ref: str) -> ChargeResult:
        """The PaymentIntent ``ref`` now (its ``client_secret`` while 3-D Secure is pending)."""
        try:
            return charge_result(await self._client.v1.payment_intents.retrieve_async(ref))
        except stripe.StripeError as exc:
            raise _wrap(exc) from None

    async def capture(self, ref: str) -> ChargeResult:
        """Capture the whole held amount of ``ref``
        (https://docs.stripe.com/payments/place-a-hold-on-a-payment-method#capture-funds).
        A PaymentIntent already captured is answered as it is (``succeeded``)."""
        try:
            return charge_result(await self._client.v1.payment_intents.capture_async(ref))
        except stripe.StripeError as exc:
            wrapped = _wrap(exc)
            if wrapped.code == "invalid_state":
                current = await self.retrieve(ref)
                if current.status == ChargeStatus.SUCCEEDED:
                    return current
            raise wrapped from None

    async def void(self, ref: str) -> None:
        """Release the hold: cancel ``ref``
        (https://docs.stripe.com/api/payment_intents/cancel). An already cancelled
        PaymentIntent is fine; a captured one is refunded instead."""
        try:
            await self._client.v1.payment_intents.cancel_async(ref)
            return
        except stripe.StripeError as exc:
            wrapped = _wrap(exc)
        if wrapped.code != "invalid_state":
            raise wrapped
        current = await self.retrieve(ref)
        if current.status == ChargeStatus.CANCELED:
            return
        if current.status == ChargeStatus.SUCCEEDED:
            await self.refund(ref)
            return
        raise wrapped

    async def refund(self, ref: str) -> None:
        """Refund the captured PaymentIntent ``ref`` in full
        (https://docs.stripe.com/api/refunds/create), idempotently per PaymentIntent."""
        try:
            await self._client.v1.refunds.create_async(
                params={"payment_intent": ref},
                options={"idempotency_key": f"travelsim-refund-{ref}"},
            )
        except stripe.StripeError as exc:
            raise _wrap(exc) from None


#: One provider per event loop and account: the HTTPX client's pooled connections belong to
#: the loop that opened them (a client reused on another loop fails, "Event loop is closed").
_PROVIDERS: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[str, str], StripeProvider]
] = weakref.WeakKeyDictionary()


def _provider_for(api_base: str, secret_key: str) -> StripeProvider:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # no loop (a synchronous caller): a provider of its own
        return StripeProvider(secret_key=secret_key, api_base=api_base)
    per_loop = _PROVIDERS.setdefault(loop, {})
    key = (api_base, secret_key)
    if key not in per_loop:
        per_loop[key] = StripeProvider(secret_key=secret_key, api_base=api_base)
    return per_loop[key]


def get_provider(name: str = "stripe") -> PaymentProvider:
    """The provider stored as ``Payment.provider`` ``name``: Stripe (or the embedded
    localstripe in demo and test mode), configured from ``travelsim.stripe_config``. Raises
    ``KeyError`` for another name."""
    if name != "stripe":
        raise KeyError(name)
    from travelsim.stripe_config import stripe_config

    config = stripe_config()
    return _provider_for(config.api_base, config.secret_key)
