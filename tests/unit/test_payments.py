"""The demo card processor: test cards, validation, second step, stateless references."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from travelsim.services.payments import (
    Card,
    DemoCardProvider,
    PaymentProvider,
    PaymentProviderError,
    get_provider,
    luhn_valid,
    normalize_card_number,
)

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def provider() -> DemoCardProvider:
    return DemoCardProvider(clock=lambda: NOW)


async def charge(provider: DemoCardProvider, number: str, **kw: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {
        "amount_minor": 990,
        "currency": "EUR",
        "card_number": number,
        "exp_month": 12,
        "exp_year": 2030,
        "cvc": "123",
        "idempotency_key": "chk-1",
    }
    args.update(kw)
    return await provider.charge(**args)  # type: ignore[arg-type]


def test_protocol_and_registry() -> None:
    assert isinstance(DemoCardProvider(), PaymentProvider)
    assert get_provider("demo").name == "demo"
    with pytest.raises(KeyError):
        get_provider("nope")


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("4242424242424242", True),
        ("4000000000000002", True),
        ("4000002500003155", True),
        ("79927398713", True),  # the classic Luhn example
        ("4242424242424241", False),
        ("79927398710", False),
        ("", False),
        ("4242a24242424242", False),
    ],
)
def test_luhn(number: str, valid: bool) -> None:
    assert luhn_valid(number) is valid


def test_normalize() -> None:
    assert normalize_card_number("4242 4242-4242 4242") == "4242424242424242"


async def test_success_card(provider: DemoCardProvider) -> None:
    r = await charge(provider, "4242 4242 4242 4242")
    assert r.status == "succeeded"
    assert r.card_last4 == "4242"
    assert r.failure_code is None
    assert r.provider_ref and r.provider_ref.startswith("demo_ch_")
    # Deterministic: the same idempotency key gives the same reference (no second charge).
    again = await charge(provider, "4242 4242 4242 4242")
    assert again.provider_ref == r.provider_ref
    other = await charge(provider, "4242 4242 4242 4242", idempotency_key="chk-2")
    assert other.provider_ref != r.provider_ref


async def test_declined_card(provider: DemoCardProvider) -> None:
    r = await charge(provider, "4000 0000 0000 0002")
    assert (r.status, r.failure_code, r.card_last4) == ("declined", "card_declined", "0002")
    assert "declined" in r.message.lower()


async def test_requires_action_then_confirm(provider: DemoCardProvider) -> None:
    r = await charge(provider, "4000 0025 0000 3155")
    assert r.status == "requires_action"
    assert r.card_last4 == "3155"
    assert r.provider_ref is not None
    ok = await provider.confirm(r.provider_ref, "123456")
    assert ok.status == "succeeded"
    bad = await provider.confirm(r.provider_ref, "000000")
    assert (bad.status, bad.failure_code) == ("declined", "authentication_failed")


async def test_confirm_on_a_charge_without_second_step(provider: DemoCardProvider) -> None:
    r = await charge(provider, "4242424242424242")
    assert r.provider_ref is not None
    with pytest.raises(PaymentProviderError) as exc:
        await provider.confirm(r.provider_ref, "123456")
    assert exc.value.code == "invalid_state"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"card_number": "4242424242424241"}, "invalid_number"),  # Luhn fails
        ({"card_number": "42424242"}, "invalid_number"),  # too short
        ({"card_number": "4242x42424242424"}, "invalid_number"),
        ({"exp_month": 5, "exp_year": 2026}, "expired_card"),  # May 2026 < June 2026
        ({"exp_month": 12, "exp_year": 25}, "expired_card"),  # two-digit year 2025
        ({"exp_month": 13}, "invalid_expiry"),
        ({"cvc": "12"}, "invalid_cvc"),
        ({"cvc": "12345"}, "invalid_cvc"),
        ({"cvc": "12a"}, "invalid_cvc"),
    ],
)
async def test_validation(provider: DemoCardProvider, kwargs: dict[str, object], code: str) -> None:
    args: dict[str, object] = {"card_number": "4242424242424242"}
    args.update(kwargs)
    number = str(args.pop("card_number"))
    r = await charge(provider, number, **args)
    assert (r.status, r.failure_code) == ("declined", code)
    assert r.provider_ref is None  # nothing was charged


async def test_current_month_is_still_valid(provider: DemoCardProvider) -> None:
    r = await charge(provider, "4242424242424242", exp_month=6, exp_year=2026, cvc="1234")
    assert r.status == "succeeded"


async def test_unknown_valid_card_is_refused_in_test_mode(provider: DemoCardProvider) -> None:
    r = await charge(provider, "5555555555554444")  # Luhn-valid, not a demo card
    assert (r.status, r.failure_code, r.card_last4) == ("declined", "test_mode_live_card", "4444")


async def test_void_and_refund(provider: DemoCardProvider) -> None:
    r = await charge(provider, "4242424242424242")
    assert r.provider_ref is not None
    await provider.void(r.provider_ref)
    await provider.refund(r.provider_ref)
    with pytest.raises(PaymentProviderError):
        await provider.void("someone_else_123")


async def test_result_never_carries_the_full_number(provider: DemoCardProvider) -> None:
    r = await charge(provider, "4242424242424242")
    assert "4242424242424242" not in repr(r)


@pytest.mark.parametrize(
    ("expiry", "month", "year"),
    [
        ("12/35", 12, 2035),
        ("1/2040", 1, 2040),
        (" 06 / 27 ", 6, 2027),
        ("0629", 6, 2029),
        ("12/2028", 12, 2028),
        ("june", 0, 0),
        ("", 0, 0),
    ],
)
def test_card_expiry_parsing(expiry: str, month: int, year: int) -> None:
    card = Card("4242 4242 4242 4242", expiry, "123")
    assert (card.exp_month, card.exp_year) == (month, year)


def test_card_repr_shows_only_last4() -> None:
    card = Card("4242 4242 4242 4242", "12/35", "123")
    assert card.digits == "4242424242424242" and card.last4 == "4242"
    for text in (repr(card), str(card), f"{card}"):
        assert "424242424242" not in text and "123" not in text.replace("4242", "")


async def test_unreadable_expiry_is_invalid(provider: DemoCardProvider) -> None:
    card = Card("4242424242424242", "june", "123")
    r = await charge(provider, card.digits, exp_month=card.exp_month, exp_year=card.exp_year)
    assert (r.status, r.failure_code) == ("declined", "invalid_expiry")
