"""The bodies of the emails an order sends (the installation email of a new eSIM and the
confirmation of a top-up) and the notice of a provider sign-in linked to an account.

Each function returns :func:`travelsim.services.email.enqueue` keyword arguments (``subject``,
``text``, ``html``, ``kind``, ``attachments``); queuing them is the caller's (the ``deliver``
provisioning step, staff "resend"). Links point at the portal's public origin
(``urls.absolute``), never at a request's host.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

from travelsim import urls
from travelsim.esim import ActivationCode
from travelsim.keys import secret_box
from travelsim.models import Esim, Order
from travelsim.services import installation

__all__ = ["installation_email", "provider_linked_email", "topup_email"]


def installation_email(
    order: Order, esim: Esim, *, title: str, public_url: str | None = None
) -> dict[str, Any]:
    """The installation email of the new eSIM ``esim`` bought by ``order`` (``title``: the
    plan as the traveler reads it; ``public_url``: the portal's origin, default
    ``settings.public_url``).

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
    link = urls.absolute(urls.install(esim.id), public_url)
    contact = installation.support_contact()
    confirm_text = (
        f"\n{installation.confirmation_code_text(contact)}\n"
        if code.confirmation_code_required
        else ""
    )
    text = (
        f"Hello,\n\n"
        f"Your eSIM for {title} is ready (order {order.reference}).\n\n"
        f"Install it from your account (one-tap install on iPhone and Android, QR code and "
        f"manual entry):\n{link}\n\n"
        f"The QR code is attached. Scan it from another screen in your phone's settings "
        f"(iPhone: Settings > Mobile Service > Add eSIM; Android: Settings > Network > SIMs > "
        f"Add eSIM).\n\n"
        f"SM-DP+ address: {code.smdp_address}\n"
        f"The activation code for manual entry is shown only on your install page.\n"
        f"{confirm_text}\n"
        f"Install the eSIM once and do not delete it: the QR code usually works only once.\n\n"
        f"TravelSIM\n"
    )
    e = html.escape
    confirm_html = installation.confirmation_code_html(contact) if confirm_text else ""
    body_html = (
        f"<p>Hello,</p>"
        f"<p>Your eSIM for <strong>{e(title)}</strong> is ready "
        f"(order {e(order.reference)}).</p>"
        f'<p><a href="{e(link)}">Install it from your account</a>: one-tap install on iPhone '
        f"and Android, QR code and manual entry.</p>"
        f'<p><img src="cid:esim-qr" alt="eSIM QR code" width="280" height="280"></p>'
        f"<p>SM-DP+ address: <code>{e(code.smdp_address)}</code><br>"
        f"The activation code for manual entry is shown only on your install page.</p>"
        f"{confirm_html}"
        f"<p>Install the eSIM once and do not delete it: the QR code usually works only "
        f"once.</p><p>TravelSIM</p>"
    )
    # The PNG is rendered when the email is built (email.resolve_attachments), from the
    # encrypted code: the outbox never holds the code in clear, and the purchase does not
    # wait for the QR (the install page renders it on request too).
    qr = {
        "filename": "esim-qr.png",
        "content_type": "image/png",
        "content_id": "esim-qr",
        "render": f"esim-qr:{esim.id}",
    }
    return {
        "subject": f"Your eSIM is ready: order {order.reference}",
        "text": text,
        "html": body_html,
        "kind": "installation",
        "attachments": [qr],
    }


def topup_email(
    order: Order, esim: Esim, *, title: str, public_url: str | None = None
) -> dict[str, Any]:
    """The confirmation of a top-up ``order`` of ``esim`` (no code, no QR: the eSIM is already
    installed); ``title`` and ``public_url`` as in :func:`installation_email`. Raises
    ``ValueError`` for an eSIM row without an id."""
    if esim.id is None:
        raise ValueError("the eSIM has no id")
    link = urls.absolute(urls.install(esim.id), public_url)
    text = (
        f"Hello,\n\n{title} was added to your eSIM (order {order.reference}).\n"
        f"Balance and validity: {link}\n\n"
        f"If data does not resume within a few minutes, switch airplane mode on and off.\n\n"
        f"TravelSIM\n"
    )
    e = html.escape
    body_html = (
        f"<p>Hello,</p><p><strong>{e(title)}</strong> was added to your eSIM "
        f"(order {e(order.reference)}).</p>"
        f'<p><a href="{e(link)}">See balance and validity</a>.</p>'
        f"<p>If data does not resume within a few minutes, switch airplane mode on and off.</p>"
        f"<p>TravelSIM</p>"
    )
    return {
        "subject": f"Add-on added: order {order.reference}",
        "text": text,
        "html": body_html,
        "kind": "topup",
        "attachments": None,
    }


def provider_linked_email(
    *, provider: str, device: str, at: datetime, public_url: str | None = None
) -> dict[str, Any]:
    """The notice that a sign-in with the identity provider ``provider`` (its display name)
    was linked to the account by its email address, from ``device`` (e.g. ``"Safari 17 on
    iPhone"``) at ``at`` (aware, shown in UTC), with what to do if it was not the owner:
    reset the password (``/password/forgot``), then sign out everywhere on the security
    page. ``public_url``: the portal's origin, default ``settings.public_url``. Returns
    :func:`travelsim.services.email.enqueue` keyword arguments (kind ``oidc_linked``)."""
    when = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    reset_link = urls.absolute("/password/forgot", public_url)
    security_link = urls.absolute("/security", public_url)
    text = (
        f"Hello,\n\nA sign-in with {provider} was linked to your TravelSIM account, "
        f"from {device}, at {when}. From now on that {provider} account signs in to yours.\n\n"
        f"If it was not you: reset your password at {reset_link}, then sign out everywhere "
        f"on {security_link}, and reply to this email so we remove the link.\n\n"
        f"If it was you, there is nothing to do.\n\nTravelSIM\n"
    )
    e = html.escape
    body_html = (
        f"<p>Hello,</p><p>A sign-in with <strong>{e(provider)}</strong> was linked to your "
        f"TravelSIM account, from {e(device)}, at {e(when)}. From now on that "
        f"{e(provider)} account signs in to yours.</p>"
        f'<p>If it was not you: <a href="{e(reset_link)}">reset your password</a>, then '
        f'<a href="{e(security_link)}">sign out everywhere</a>, and reply to this email so '
        f"we remove the link.</p><p>If it was you, there is nothing to do.</p><p>TravelSIM</p>"
    )
    return {
        "subject": f"A sign-in with {provider} was linked to your account",
        "text": text,
        "html": body_html,
        "kind": "oidc_linked",
        "attachments": None,
    }
