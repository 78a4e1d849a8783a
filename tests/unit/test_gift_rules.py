"""The pure rules of gifts (docs/business-rules.md#gifts): the masked address the buyer and
a wrong account see, the stored message, the recipient's address, and the holder/buyer split
of ``services.ownership``."""

from __future__ import annotations

import pytest

from travelsim.models import GIFT_MESSAGE_MAX, Esim, InventoryState, Order, User
from travelsim.services import ownership
from travelsim.services.gifts import GiftError, clean_message, mask_email, normalise_recipient


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("ana@example.com", "a•••@example.com"),
        ("a@example.com", "a•••@example.com"),
        ("no-at-sign", "•••"),
        ("@example.com", "•••"),
    ],
)
def test_mask_email_keeps_only_the_first_character_and_the_domain(
    address: str, masked: str
) -> None:
    assert mask_email(address) == masked


def test_the_message_is_plain_text_within_its_limit() -> None:
    assert clean_message("  Hi\r\nthere\x00\x1b!  ") == "Hi\nthere!"
    assert clean_message("   ") is None and clean_message(None) is None
    assert clean_message("<b>x</b>") == "<b>x</b>"  # kept as text; escaped where shown
    assert clean_message("é" * GIFT_MESSAGE_MAX) == "é" * GIFT_MESSAGE_MAX
    with pytest.raises(GiftError) as long:
        clean_message("a" * (GIFT_MESSAGE_MAX + 1))
    assert long.value.code == "message_too_long"


def test_the_recipient_is_validated_lower_cased_and_never_the_buyer() -> None:
    buyer = User(id=1, email="me@example.com", password_hash="x")
    assert normalise_recipient(" Rita@Example.COM ", buyer) == "rita@example.com"
    for raw, code in (("ME@example.com", "own_address"), ("rita@", "email_invalid")):
        with pytest.raises(GiftError) as refused:
            normalise_recipient(raw, buyer)
        assert refused.value.code == code


def test_an_unclaimed_gift_has_no_holder_and_the_buyer_keeps_the_order() -> None:
    esim = Esim(iccid="1", endpoint_id="1", state=InventoryState.ASSIGNED, user_id=7)
    order = Order(
        id="o", reference="TS-1", checkout_id="c", user_id=7, plan_id="p", esim_id=1,
        payment_id=1, amount_minor=1, currency="EUR",
    )  # fmt: skip
    assert ownership.is_owner(esim, 7)
    esim.gift_pending = True
    assert not ownership.is_owner(esim, 7)
    assert ownership.is_buyer(order, 7)
    esim.user_id, esim.gift_pending = 8, False  # claimed by 8
    assert ownership.is_owner(esim, 8) and not ownership.is_owner(esim, 7)
    assert ownership.is_buyer(order, 7) and not ownership.is_buyer(order, 8)
    assert not ownership.is_buyer(None, 7) and not ownership.is_buyer(order, None)
