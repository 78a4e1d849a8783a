"""The emails of the automatic top-up (docs/business-rules.md#automatic-top-up): one after
every charge, one when the rule stops.

Each function returns :func:`travelsim.services.email.enqueue` keyword arguments, written in
``locale`` (the recipient's language, ``email.recipient_locale``; docs/i18n.md#emails), with
links to the portal's public origin (``urls.absolute``) in that language.
"""

from __future__ import annotations

import html
from typing import Any

from travelsim import i18n, urls
from travelsim.formatting import format_money
from travelsim.i18n import N_, _
from travelsim.services.auto_topup import STOP_MESSAGES
from travelsim.services.email_messages import HELLO, SIGNATURE, html_text

__all__ = ["charged_email", "stopped_email"]

_TURN_OFF = N_("To change or turn off automatic top-up, open your eSIM's page: {link}")


def _body(paragraphs: list[str], link: str) -> tuple[str, str]:
    """Plain text and HTML of ``paragraphs`` (translated texts) and the eSIM page ``link``."""
    text = "\n\n".join([_(HELLO), *paragraphs, _(_TURN_OFF).format(link=link), SIGNATURE]) + "\n"
    e = html.escape
    anchor = f'<a href="{e(link, quote=True)}">{e(link)}</a>'
    body = "".join(f"<p>{e(p)}</p>" for p in [_(HELLO), *paragraphs])
    body += f"<p>{html_text(_TURN_OFF, link=anchor)}</p><p>{SIGNATURE}</p>"
    return text, body


def charged_email(
    *,
    esim_id: int,
    esim_title: str,
    plan_title: str,
    amount_minor: int,
    currency: str,
    card_label: str,
    order_reference: str,
    locale: str = i18n.DEFAULT,
    public_url: str | None = None,
) -> dict[str, Any]:
    """The notice of one automatic charge: ``plan_title`` bought for ``esim_title`` for
    ``amount_minor`` ``currency`` (minor units, ISO 4217) with ``card_label`` ("Visa ••••
    4242"), order ``order_reference``, and how to turn it off (kind ``auto_topup``)."""
    with i18n.using(locale) as lang:
        link = urls.absolute(i18n.localized(urls.esim(esim_id), lang), public_url)
        amount = format_money(amount_minor, currency)
        bought = _(
            "Your data on {esim} fell to the level you set, so we bought {plan} for {amount} "
            "with {card} (order {reference})."
        ).format(
            esim=esim_title,
            plan=plan_title,
            amount=amount,
            card=card_label,
            reference=order_reference,
        )
        held = _("The amount is charged once the data is on your eSIM.")
        text, body = _body([bought, held], link)
        return {
            "subject": _("Automatic top-up: {plan} for {amount}").format(
                plan=plan_title, amount=amount
            ),
            "text": text,
            "html": body,
            "kind": "auto_topup",
            "attachments": None,
            "locale": lang,
        }


def stopped_email(
    *,
    esim_id: int,
    esim_title: str,
    reason: str,
    pay_path: str | None = None,
    locale: str = i18n.DEFAULT,
    public_url: str | None = None,
) -> dict[str, Any]:
    """The notice that the automatic top-up of ``esim_title`` stopped for ``reason`` (a key
    of ``auto_topup.STOP_MESSAGES``); ``pay_path``: the checkout page where the traveler
    finishes a payment their bank wants confirmed (``authentication_required``). Kind
    ``auto_topup_stopped``."""
    with i18n.using(locale) as lang:
        link = urls.absolute(i18n.localized(urls.esim(esim_id), lang), public_url)
        why = _(STOP_MESSAGES.get(reason, STOP_MESSAGES["payment_error"]))
        paragraphs = [_("Automatic top-up of {esim} is now off.").format(esim=esim_title), why]
        if pay_path:
            pay = urls.absolute(i18n.localized(pay_path, lang), public_url)
            paragraphs.append(_("Finish the payment here: {link}").format(link=pay))
        text, body = _body(paragraphs, link)
        return {
            "subject": _("Automatic top-up stopped for {esim}").format(esim=esim_title),
            "text": text,
            "html": body,
            "kind": "auto_topup_stopped",
            "attachments": None,
            "locale": lang,
        }
