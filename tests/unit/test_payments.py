"""Reading Stripe's answers and naming things for Stripe, with no server: the PaymentIntent
status mapping (``charge_result``), the idempotency key (``stripe_idempotency_key``), the
traveler's words for a failure (``failure_message``), Stripe errors as the portal's errors.

Expected statuses follow https://docs.stripe.com/payments/paymentintents/lifecycle and
https://docs.stripe.com/payments/place-a-hold-on-a-payment-method (a confirmed manual-capture
PaymentIntent waits in ``requires_capture``); decline codes https://docs.stripe.com/declines/codes.
"""

from __future__ import annotations

import re

import pytest
import stripe

from travelsim.models import Payment, PaymentStatus
from travelsim.services.checkout_errors import CheckoutError
from travelsim.services.checkout_payment import NewCard
from travelsim.services.payment_holds import capture_payment, void_payment
from travelsim.services.payments import (
    FAILURE_MESSAGES,
    PaymentProvider,
    PaymentProviderError,
    StripeProvider,
    charge_result,
    failure_message,
    get_provider,
    stripe_idempotency_key,
)
from travelsim.services.payments import _wrap as wrap_error

CARD_NUMBERS = ("4242424242424242", "4000002500003155", "4000000000000002")


def intent(status: str, **extra: object) -> dict[str, object]:
    """A PaymentIntent as Stripe sends it (lower-case currency, amount in minor units)."""
    return {
        "id": "pi_123",
        "object": "payment_intent",
        "status": status,
        "amount": 990,
        "currency": "eur",
        "client_secret": "pi_123_secret_abc",
        **extra,
    }


# --- charge_result: the PaymentIntent lifecycle ----------------------------------------------
@pytest.mark.parametrize(
    ("status", "mapped"),
    [
        ("requires_capture", "authorized"),  # held, not charged
        ("requires_action", "requires_action"),
        ("requires_source_action", "requires_action"),  # older API versions' name
        ("succeeded", "succeeded"),  # captured
        ("canceled", "canceled"),
        ("processing", "processing"),
        ("requires_confirmation", "processing"),
    ],
)
def test_status_mapping(status: str, mapped: str) -> None:
    result = charge_result(intent(status))
    assert (result.status, result.provider_ref) == (mapped, "pi_123")
    # Amount and currency are the PaymentIntent's own, currency upper-case ISO 4217.
    assert (result.amount_minor, result.currency) == (990, "EUR")


def test_client_secret_only_while_3ds_is_pending() -> None:
    assert charge_result(intent("requires_action")).client_secret == "pi_123_secret_abc"
    for status in ("requires_capture", "succeeded", "canceled", "requires_payment_method"):
        assert charge_result(intent(status)).client_secret is None, status


def test_client_secret_is_not_in_the_repr() -> None:
    assert "secret" not in repr(charge_result(intent("requires_action")))


def test_declined_after_an_error_carries_its_code() -> None:
    decline = intent(
        "requires_payment_method",
        last_payment_error={"code": "card_declined", "decline_code": "insufficient_funds"},
    )
    result = charge_result(decline)
    assert (result.status, result.failure_code) == ("declined", "insufficient_funds")
    assert result.message == FAILURE_MESSAGES["insufficient_funds"]
    only_code = intent("requires_payment_method", last_payment_error={"code": "expired_card"})
    assert charge_result(only_code).failure_code == "expired_card"


def test_back_to_requires_payment_method_without_error_is_a_failed_3ds() -> None:
    """3-D Secure failed: Stripe puts the PaymentIntent back in ``requires_payment_method``
    (localstripe behaviour: without ``last_payment_error``)."""
    result = charge_result(intent("requires_payment_method"))
    assert (result.status, result.failure_code) == (
        "declined",
        "payment_intent_authentication_failure",
    )


def test_canceled_says_so() -> None:
    result = charge_result(intent("canceled"))
    assert (result.status, result.failure_code) == ("canceled", "canceled")
    assert "nothing was charged" in result.message.lower()


def test_latest_charge_expanded_or_id() -> None:
    """localstripe expands ``latest_charge`` where Stripe gives an id string: both read."""
    for latest in ("ch_1", {"id": "ch_1", "object": "charge"}):
        result = charge_result(intent("requires_payment_method", latest_charge=latest))
        assert (result.status, result.failure_code) == ("declined", "card_declined")


def test_a_stripe_object_reads_like_its_dict() -> None:
    obj = stripe.PaymentIntent.construct_from(intent("requires_capture"), "sk_test_x")
    assert charge_result(obj) == charge_result(intent("requires_capture"))


def test_nothing_to_read() -> None:
    result = charge_result({})
    assert (result.status, result.provider_ref, result.amount_minor, result.currency) == (
        "processing",
        None,
        0,
        "",
    )
    assert result.message == ""


# --- stripe_idempotency_key ------------------------------------------------------------------
def payment(key: str = "3f0c9a1e-5b7d-4c1e-9f00-123456789abc", amount: int = 990, cur: str = "EUR"):  # type: ignore[no-untyped-def]
    return Payment(
        checkout_id="3f0c9a1e-5b7d-4c1e-9f00-123456789abc",
        idempotency_key=key,
        provider="stripe",
        amount_minor=amount,
        currency=cur,
        status=PaymentStatus.PROCESSING,
    )


def test_idempotency_key_is_checkout_amount_and_currency() -> None:
    key = stripe_idempotency_key(payment())
    assert key == "travelsim-pi-3f0c9a1e-5b7d-4c1e-9f00-123456789abc-990-EUR"
    assert stripe_idempotency_key(payment()) == key  # a resend: the same key


def test_idempotency_key_changes_with_attempt_amount_or_currency() -> None:
    keys = {
        stripe_idempotency_key(payment()),
        stripe_idempotency_key(payment(key="3f0c9a1e-5b7d-4c1e-9f00-123456789abc:2")),
        stripe_idempotency_key(payment(amount=1990)),
        stripe_idempotency_key(payment(cur="USD")),
    }
    assert len(keys) == 4


def test_idempotency_key_fits_stripe() -> None:
    """At most 255 characters (https://docs.stripe.com/api/idempotent_requests), and no card
    data in it."""
    key = stripe_idempotency_key(payment(key="x" * 36 + ":99", amount=99_999_999))
    assert len(key) <= 255 and re.fullmatch(r"[A-Za-z0-9:\-]+", key)


# --- failure_message -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "code",
    ["card_declined", "insufficient_funds", "expired_card", "incorrect_cvc", "provider_error"],
)
def test_failure_message_per_code(code: str) -> None:
    text = failure_message(code)
    assert text == FAILURE_MESSAGES[code] and text.endswith(".")


def test_failure_message_for_unknown_or_no_code() -> None:
    generic = "The payment did not go through. Nothing was charged."
    assert failure_message("do_not_honor_xyz") == generic
    assert failure_message(None) == generic
    assert failure_message("") == generic


def test_every_decline_message_says_nothing_was_charged() -> None:
    for code, text in FAILURE_MESSAGES.items():
        if code != "authentication_required":
            assert "nothing was charged" in text.lower(), code


def test_no_message_contains_card_data() -> None:
    for text in FAILURE_MESSAGES.values():
        assert not re.search(r"\d{4}", text), text


# --- Stripe errors as the portal's errors ----------------------------------------------------
def test_stripe_errors_become_provider_errors() -> None:
    assert wrap_error(stripe.APIConnectionError("down")).code == "provider_unavailable"
    assert wrap_error(stripe.APIError("500", http_status=500)).code == "provider_unavailable"
    assert wrap_error(stripe.RateLimitError("slow", http_status=429)).code == (
        "provider_unavailable"
    )
    missing = stripe.InvalidRequestError("no such", "id", code="resource_missing", http_status=404)
    assert wrap_error(missing).code == "unknown_ref"
    state = stripe.InvalidRequestError("cannot capture", None, http_status=400)
    assert wrap_error(state).code == "invalid_state"
    assert wrap_error(stripe.IdempotencyError("reused", http_status=400)).code == (
        "idempotency_conflict"
    )
    assert "card" not in str(wrap_error(stripe.APIConnectionError("4242424242424242")))


async def test_authorize_refuses_bad_amounts_before_calling_stripe() -> None:
    provider = StripeProvider(secret_key="sk_test_x", api_base="http://127.0.0.1:9")
    base = {
        "customer_id": "cus_1",
        "card_ref": "card_1",
        "idempotency_key": "k",
        "metadata": {},
    }
    for amount, currency in ((0, "EUR"), (-5, "EUR"), (990, "EURO"), (990, "E1R")):
        with pytest.raises(ValueError):
            await provider.authorize(amount_minor=amount, currency=currency, **base)  # type: ignore[arg-type]


async def test_protocol_and_registry() -> None:
    assert isinstance(StripeProvider(secret_key="sk_test_x"), PaymentProvider)
    assert get_provider().name == "stripe"
    # One client per configuration and event loop (its pooled connections are the loop's).
    assert get_provider() is get_provider("stripe")
    with pytest.raises(KeyError):
        get_provider("demo")  # the demo card processor is gone


def test_a_provider_is_never_shared_across_event_loops() -> None:
    import asyncio

    async def current() -> PaymentProvider:
        return get_provider()

    first, second = asyncio.run(current()), asyncio.run(current())
    assert first is not second


def test_provider_error_carries_its_code() -> None:
    err = PaymentProviderError("unknown_ref")
    assert (err.code, str(err)) == ("unknown_ref", "unknown_ref")


# --- the browser sends only a token ----------------------------------------------------------
@pytest.mark.parametrize("sent", [*CARD_NUMBERS, "", "tok_", "card_1234567", "tok_abc def"])
def test_a_new_card_is_only_a_token(sent: str) -> None:
    with pytest.raises(CheckoutError) as exc:
        NewCard(sent)
    assert exc.value.code == "bad_card"


def test_a_stripe_js_token_is_accepted() -> None:
    assert NewCard("tok_1PQx2aLkdIwHu7ix").token == "tok_1PQx2aLkdIwHu7ix"


# --- holds that need no call -----------------------------------------------------------------
async def test_release_without_a_payment_intent_is_flagged() -> None:
    p = payment()
    p.status = PaymentStatus.AUTHORIZED
    await void_payment(p)
    assert (p.status, p.failure_reason) == ("flagged", "void failed: no_ref")


async def test_only_a_held_payment_is_captured() -> None:
    for status in (PaymentStatus.PROCESSING, PaymentStatus.DECLINED, PaymentStatus.SUCCEEDED):
        p = payment()
        p.status, p.provider_ref = status, "pi_123"
        assert await capture_payment(p) is False
        assert p.status == status and p.captured_at is None
    held = payment()
    held.status = PaymentStatus.AUTHORIZED  # no PaymentIntent: nothing to capture
    assert await capture_payment(held) is False and held.status == "authorized"
