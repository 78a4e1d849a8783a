"""The bodies of the emails an order sends (the installation email of a new eSIM and the
confirmation of a top-up) and the notice of a provider sign-in linked to an account.

Each function returns :func:`travelsim.services.email.enqueue` keyword arguments (``subject``,
``text``, ``html``, ``kind``, ``attachments``, ``locale``); queuing them is the caller's (the
``deliver`` provisioning step, staff "resend"). Each email is written in ``locale``, the
recipient's language (``email.recipient_locale``, docs/i18n.md#emails): its texts come from
the catalogs, amounts and dates from Babel in that language, and its links open the portal's
pages in it (``/fr/esims/3/install``). Links point at the portal's public origin
(``urls.absolute``), never at a request's host.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from travelsim import i18n, timefmt, urls
from travelsim.esim import ActivationCode
from travelsim.formatting import format_money
from travelsim.i18n import N_, _
from travelsim.keys import secret_box
from travelsim.models import Esim, Order
from travelsim.services import installation

__all__ = [
    "consent_lines",
    "html_text",
    "installation_email",
    "provider_linked_email",
    "topup_email",
]

#: The install guides of the install page, the same texts, per phone (one list: the page's).
INSTALL_STEPS = installation.INSTALL_STEPS
#: The signature: the brand's name, in every language.
SIGNATURE = "TravelSIM"
#: The greeting every email opens with.
HELLO = N_("Hello,")


def html_text(msgid: str, **markup: str) -> str:
    """``msgid`` translated into the active language and HTML-escaped, then filled with
    ``markup`` (values that are already HTML: escape what they hold before passing them)."""
    return html.escape(_(msgid)).format(**markup)


def _link(url: str, text: str) -> str:
    """An ``<a>`` to ``url`` reading ``text`` (both escaped)."""
    return f'<a href="{html.escape(url, quote=True)}">{html.escape(text)}</a>'


def _steps_text() -> str:
    lines: list[str] = []
    for phone, steps in INSTALL_STEPS:
        lines.append(_("{phone}:").format(phone=phone))
        lines.extend(f"{i}. {_(step)}" for i, step in enumerate(steps, 1))
    return "\n".join(lines)


def _steps_html() -> str:
    return "".join(
        f"<p><strong>{phone}</strong></p><ol>"
        + "".join(f"<li>{html.escape(_(step))}</li>" for step in steps)
        + "</ol>"
        for phone, steps in INSTALL_STEPS
    )


#: The confirmation, on a durable medium, of what the traveler agreed to before paying
#: (Directive 2011/83/EU art. 8(7); docs/legal.md#confirmation-email).
CONSENT_LINE = N_(
    "You accepted our terms and conditions (version {version}) on {date} and asked for "
    "the service to start at once. You acknowledged that you lose your right of withdrawal "
    "once the eSIM has started downloading or the service has been fully provided; "
    "withdrawing before then costs the service provided until you do."
)
TERMS_LINK = N_("Terms and conditions")


def consent_lines(order: Order, lang: str, public_url: str | None) -> tuple[str, str]:
    """The order's acceptance as a text paragraph and an HTML one (``("", "")`` for an order
    that records none), with a link to the terms in ``lang`` (the active language)."""
    if order.terms_accepted_at is None or order.immediate_start_at is None:
        return "", ""
    when = timefmt.local_datetime(order.terms_accepted_at, "UTC")
    line = _(CONSENT_LINE).format(version=order.terms_version or "", date=when)
    terms = urls.absolute(i18n.localized("/terms", lang), public_url)
    text = f"{line}\n{_(TERMS_LINK)}: {terms}\n\n"
    return text, f"<p>{html.escape(line)} {_link(terms, _(TERMS_LINK))}</p>"


def installation_email(
    order: Order,
    esim: Esim,
    *,
    title: str,
    locale: str = i18n.DEFAULT,
    public_url: str | None = None,
) -> dict[str, Any]:
    """The installation email of the new eSIM ``esim`` bought by ``order`` (``title``: the
    plan as the traveler reads it; ``locale``: the recipient's language, one of
    ``i18n.LOCALES``; ``public_url``: the portal's origin, default ``settings.public_url``).
    It says the amount paid (``order.amount_minor`` in ``order.currency``, Babel) and the
    install guide steps of the install page.

    Content choice (docs/esim.md#secrets, docs/esim.md#qr-code,
    docs/esim.md#f3-confirmation-code-missed): the owner's inbox gets the QR code (inline PNG, a
    deferred ``esim-qr`` attachment rendered at sending time; it is the owner's own eSIM), the
    SM-DP+ address and a link to the authenticated install page. It does NOT contain the matching ID
    as text, nor the one-tap links (their URLs carry the full code and get logged by mail link
    scanners and proxies): manual entry and one-tap install live on the install page, behind
    sign-in.

    Raises ``ValueError`` when the eSIM has no activation code stored (or no id), and the
    code's own errors (``DecryptionError``, ``InvalidActivationCode``) for a stored code that
    cannot be read.
    """
    if esim.id is None or not esim.activation_code_enc:
        raise ValueError("no activation code stored")
    code = ActivationCode.parse(secret_box().decrypt(esim.activation_code_enc))
    with i18n.using(locale) as lang:
        return _installation(order, esim.id, code, title, lang, public_url)


def _installation(
    order: Order, esim_id: int, code: ActivationCode, title: str, lang: str, public_url: str | None
) -> dict[str, Any]:
    link = urls.absolute(i18n.localized(urls.install(esim_id), lang), public_url)
    contact = installation.support_contact()
    ref, paid = order.reference, format_money(order.amount_minor, order.currency)
    ready = N_("Your eSIM for {plan} is ready (order {reference}).")
    amount = N_("Amount paid: {amount}")
    install = N_(
        "Install it from your account (one-tap install on iPhone and Android, QR code and "
        "manual entry):"
    )
    scan = N_(
        "The QR code is attached. Scan it from another screen in your phone's settings, step "
        "by step:"
    )
    smdp = N_("SM-DP+ address: {address}")
    manual = N_("The activation code for manual entry is shown only on your install page.")
    once = N_("Install the eSIM once and do not delete it: the QR code usually works only once.")
    open_page = _("Open my install page")
    confirm = code.confirmation_code_required
    confirm_text = f"{installation.confirmation_code_text(contact)}\n\n" if confirm else ""
    consent_text, consent_html = consent_lines(order, lang, public_url)
    text = (
        f"{_(HELLO)}\n\n{_(ready).format(plan=title, reference=ref)}\n"
        f"{_(amount).format(amount=paid)}\n\n{_(install)}\n{link}\n\n"
        f"{_(scan)}\n\n{_steps_text()}\n\n"
        f"{_(smdp).format(address=code.smdp_address)}\n{_(manual)}\n\n"
        f"{confirm_text}{_(once)}\n\n{consent_text}{SIGNATURE}\n"
    )
    e = html.escape
    alt = e(_("eSIM installation QR code"), quote=True)
    body_html = (
        f"<p>{html_text(HELLO)}</p>"
        f"<p>{html_text(ready, plan=f'<strong>{e(title)}</strong>', reference=e(ref))}<br>"
        f"{html_text(amount, amount=e(paid))}</p>"
        f"<p>{html_text(install)} {_link(link, open_page)}</p>"
        f'<p>{html_text(scan)}</p><p><img src="cid:esim-qr" alt="{alt}" width="280" '
        f'height="280"></p>{_steps_html()}'
        f"<p>{html_text(smdp, address=f'<code>{e(code.smdp_address)}</code>')}<br>"
        f"{html_text(manual)}</p>"
        f"{installation.confirmation_code_html(contact) if confirm else ''}"
        f"<p>{html_text(once)}</p>{consent_html}<p>{SIGNATURE}</p>"
    )
    # The PNG is rendered when the email is built (email.resolve_attachments), from the
    # encrypted code: the outbox never holds the code in clear, and the purchase does not
    # wait for the QR (the install page renders it on request too).
    qr = {
        "filename": "esim-qr.png",
        "content_type": "image/png",
        "content_id": "esim-qr",
        "render": f"esim-qr:{esim_id}",
    }
    return {
        "subject": _("Your eSIM is ready: order {reference}").format(reference=ref),
        "text": text,
        "html": body_html,
        "kind": "installation",
        "attachments": [qr],
        "locale": lang,
    }


def topup_email(
    order: Order,
    esim: Esim,
    *,
    title: str,
    locale: str = i18n.DEFAULT,
    public_url: str | None = None,
) -> dict[str, Any]:
    """The confirmation of a top-up ``order`` of ``esim`` (no code, no QR: the eSIM is already
    installed), with the amount paid; ``title``, ``locale`` and ``public_url`` as in
    :func:`installation_email`. Raises ``ValueError`` for an eSIM row without an id."""
    if esim.id is None:
        raise ValueError("the eSIM has no id")
    with i18n.using(locale) as lang:
        link = urls.absolute(i18n.localized(urls.install(esim.id), lang), public_url)
        ref, paid = order.reference, format_money(order.amount_minor, order.currency)
        added = N_("{plan} was added to your eSIM (order {reference}).")
        amount = N_("Amount paid: {amount}")
        resume = N_(
            "If data does not resume within a few minutes, switch airplane mode on and off."
        )
        balance = _("Balance and validity: {link}").format(link=link)
        see_balance = _("See balance and validity")
        consent_text, consent_html = consent_lines(order, lang, public_url)
        text = (
            f"{_(HELLO)}\n\n{_(added).format(plan=title, reference=ref)}\n"
            f"{_(amount).format(amount=paid)}\n"
            f"{balance}\n\n"
            f"{_(resume)}\n\n{consent_text}{SIGNATURE}\n"
        )
        e = html.escape
        body_html = (
            f"<p>{html_text(HELLO)}</p>"
            f"<p>{html_text(added, plan=f'<strong>{e(title)}</strong>', reference=e(ref))}"
            f"<br>{html_text(amount, amount=e(paid))}</p>"
            f"<p>{_link(link, see_balance)}</p>"
            f"<p>{html_text(resume)}</p>{consent_html}<p>{SIGNATURE}</p>"
        )
        return {
            "subject": _("Add-on added: order {reference}").format(reference=ref),
            "text": text,
            "html": body_html,
            "kind": "topup",
            "attachments": None,
            "locale": lang,
        }


def provider_linked_email(
    *,
    provider: str,
    device: str,
    at: datetime,
    locale: str = i18n.DEFAULT,
    public_url: str | None = None,
) -> dict[str, Any]:
    """The notice that a sign-in with the identity provider ``provider`` (its display name)
    was linked to the account by its email address, from ``device`` (e.g. ``"Safari 17 on
    iPhone"``) at ``at`` (aware, shown in UTC with Babel's day and month names:
    ``timefmt.local_datetime``), with what to do if it was not the owner: reset the password
    (``/password/forgot``), then sign out everywhere on the security page. ``locale``: the
    recipient's language; ``public_url``: the portal's origin, default
    ``settings.public_url``. Returns :func:`travelsim.services.email.enqueue` keyword
    arguments (kind ``oidc_linked``). Raises ``ValueError`` for a naive ``at``."""
    with i18n.using(locale) as lang:
        when = timefmt.local_datetime(at, "UTC")
        reset_link = urls.absolute(i18n.localized("/password/forgot", lang), public_url)
        security_link = urls.absolute(i18n.localized("/security", lang), public_url)
        linked = N_(
            "A sign-in with {provider} was linked to your TravelSIM account, from {device}, "
            "at {time}. From now on that {provider} account signs in to yours."
        )
        if_not = N_(
            "If it was not you: reset your password at {reset_link}, then sign out everywhere "
            "on {security_link}, and reply to this email so we remove the link."
        )
        if_not_html = N_(
            "If it was not you: {reset_start}reset your password{end}, then "
            "{security_start}sign out everywhere{end}, and reply to this email so we remove "
            "the link."
        )
        was_you = N_("If it was you, there is nothing to do.")
        text = (
            f"{_(HELLO)}\n\n{_(linked).format(provider=provider, device=device, time=when)}"
            f"\n\n{_(if_not).format(reset_link=reset_link, security_link=security_link)}\n\n"
            f"{_(was_you)}\n\n{SIGNATURE}\n"
        )
        e = html.escape
        body_html = (
            f"<p>{html_text(HELLO)}</p><p>"
            + html_text(
                linked, provider=f"<strong>{e(provider)}</strong>", device=e(device), time=e(when)
            )
            + "</p><p>"
            + html_text(
                if_not_html,
                reset_start=f'<a href="{e(reset_link, quote=True)}">',
                security_start=f'<a href="{e(security_link, quote=True)}">',
                end="</a>",
            )
            + f"</p><p>{html_text(was_you)}</p><p>{SIGNATURE}</p>"
        )
        return {
            "subject": _("A sign-in with {provider} was linked to your account").format(
                provider=provider
            ),
            "text": text,
            "html": body_html,
            "kind": "oidc_linked",
            "attachments": None,
            "locale": lang,
        }
