"""The buy page's card, decline and checkout messages come from the catalogs in the
traveler's language (docs/i18n.md): each expected text is the catalog's msgstr read with
Babel, never a French string written here."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from babel.messages.pofile import read_po

from travelsim import i18n
from travelsim.services.checkout_errors import CHECKOUT_MESSAGES, CheckoutError
from travelsim.state import buy_messages
from travelsim.state.buy_messages import (
    CARD_ERRORS,
    DECLINE_MESSAGES,
    ERRORS,
    card_error,
    decline_message,
    error_text,
    esim_target,
)


def _msgstr(locale: str, msgid: str) -> str:
    """The ``msgstr`` of ``msgid`` in ``locale``'s .po file (Babel's reader); fails if the
    text is missing or untranslated."""
    with (i18n.LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        message = read_po(fh, locale=locale).get(msgid)
    assert message is not None, f"{msgid!r} is not in the {locale} catalog"
    assert message.string and not message.fuzzy, f"{msgid!r} is untranslated in {locale}"
    return str(message.string)


@pytest.mark.parametrize("code", ["insufficient_funds", "card_declined", "expired_card"])
def test_french_decline_message_comes_from_the_catalog(code: str) -> None:
    with i18n.using("fr"):
        shown = decline_message(code)
    assert shown == _msgstr("fr", DECLINE_MESSAGES[code])
    assert shown != DECLINE_MESSAGES[code]  # really French, not the English msgid


def test_unknown_decline_code_gets_the_translated_generic_sentence() -> None:
    with i18n.using("de"):
        assert decline_message("do_not_honor_xyz") == _msgstr("de", ERRORS["declined"])
        assert decline_message(None) == _msgstr("de", ERRORS["declined"])


@pytest.mark.parametrize("locale", ["fr", "de", "es"])
def test_card_errors_and_notices_are_translated(locale: str) -> None:
    with i18n.using(locale):
        assert card_error("incomplete_cvc") == _msgstr(locale, CARD_ERRORS["incomplete_cvc"])
        assert card_error("no_such_code") == _msgstr(locale, CARD_ERRORS["incomplete"])
        assert i18n._(buy_messages.CHECKING_NOTICE) == _msgstr(locale, buy_messages.CHECKING_NOTICE)


def test_checkout_refusal_is_shown_in_spanish() -> None:
    exc = CheckoutError("rate_limited")
    assert exc.message == CHECKOUT_MESSAGES["rate_limited"]  # English msgid, for logs too
    with i18n.using("es"):
        assert error_text(exc.code, exc.message) == _msgstr("es", CHECKOUT_MESSAGES["rate_limited"])
        assert error_text("sold_out") == _msgstr("es", ERRORS["sold_out"])


def test_topup_target_sentence_is_one_translated_sentence() -> None:
    esim: Any = SimpleNamespace(nickname="", iccid="8988247000001234567", destination="")
    with i18n.using("fr"):
        target = esim_target(esim)
    expected = _msgstr(
        "fr", "The data is added to {name} (ICCID ending {tail}). Same eSIM, no new QR code."
    ).format(name=_msgstr("fr", "your eSIM"), tail="4567")
    assert target["sentence"] == expected
    assert target["iccid_tail"] == "4567"
