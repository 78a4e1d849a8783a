"""The order emails repeat what the traveler agreed to before paying (Directive 2011/83/EU
art. 8(7), docs/legal.md#confirmation-email): terms version, time (UTC), the immediate-start
request and the acknowledgement, linked terms, in the recipient's language; nothing for an
order that records no acceptance."""

from __future__ import annotations

from datetime import UTC, datetime

from travelsim import i18n
from travelsim.models import Esim, Order
from travelsim.services import email_messages

ACCEPTED = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)


def _order(**consent: object) -> Order:
    return Order(
        id="o-1",
        reference="TS-ABC234",
        checkout_id="c-1",
        user_id=1,
        plan_id="870101",
        esim_id=7,
        payment_id=1,
        amount_minor=450,
        currency="EUR",
        **consent,
    )


def _accepted() -> Order:
    return _order(
        terms_version="v2026-12",
        terms_accepted_at=ACCEPTED,
        withdrawal_version="crd-2026-12-04",
        immediate_start_at=ACCEPTED,
    )


def test_topup_email_states_the_acceptance_in_english() -> None:
    esim = Esim(id=7, iccid="8932000000000000007", user_id=1)
    message = email_messages.topup_email(
        _accepted(), esim, title="France 1 GB", public_url="https://shop.example"
    )
    text = message["text"]
    assert (
        "You accepted our terms and conditions (version v2026-12) on Fri 4 Dec 2026, 09:30 UTC"
        in text
    )
    assert "you lose your right of withdrawal once the eSIM has started downloading" in text
    assert "Terms and conditions: https://shop.example/terms" in text
    assert '<a href="https://shop.example/terms">Terms and conditions</a>' in message["html"]


def test_the_line_is_in_the_recipients_language() -> None:
    with i18n.using("fr"):
        text, html = email_messages.consent_lines(_accepted(), "fr", "https://shop.example")
    assert "Vous avez accepté nos conditions générales de vente (version v2026-12)" in text
    assert "https://shop.example/fr/terms" in text and "/fr/terms" in html
    assert "UTC" in text


def test_an_order_without_acceptance_has_no_line() -> None:
    assert email_messages.consent_lines(_order(), "en", "https://shop.example") == ("", "")
    esim = Esim(id=7, iccid="8932000000000000007", user_id=1)
    message = email_messages.topup_email(_order(), esim, title="France 1 GB")
    assert "terms" not in message["text"].lower()
