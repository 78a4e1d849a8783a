"""What the owner of an eSIM needs to install it (the install page and its QR route).

Only the owner ever gets anything: every function takes the signed-in user (from the
server-side session) and returns ``None`` for any eSIM that is not theirs, so the page and the
route answer 404 without revealing whether the id exists (docs/esim.md#qr-code).
The activation code is decrypted here, on the server, per request; it is never logged.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Literal

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.crypto import DecryptionError
from travelsim.esim import ActivationCode, InvalidActivationCode, android_link, ios_link, qr_png
from travelsim.esim.lifecycle import InstallState, install_state
from travelsim.i18n import N_, _
from travelsim.keys import secret_box
from travelsim.models import Esim, Order, OrderStatus, Plan, User
from travelsim.services.ownership import owned_esim, sale_refunded
from travelsim.settings import Settings, get_settings

__all__ = [
    "CONFIRMATION_CODE_LEAD",
    "CONTACT_SUPPORT",
    "INSTALL_ONCE",
    "INSTALL_STEPS",
    "InstallStatus",
    "InstallView",
    "SupportContact",
    "apn_for",
    "confirmation_code_html",
    "confirmation_code_text",
    "esim_qr_png",
    "install_status",
    "install_view",
    "qr_png_for",
    "support_contact",
]

#: What the traveler is told when the profile needs a confirmation code. The code is never in the
#: activation code or the QR (only a "required" flag is, docs/esim.md#confirmation-code), no
#: platform call returns it, and the portal does not send it: the seller's support gives it. The
#: install page and the installation email say exactly this, once, with the support contact.
CONFIRMATION_CODE_LEAD = N_(
    "Your phone will also ask for a confirmation code. It is not inside the QR code or the "
    "activation code: our support team gives it to you."
)
#: How the installation email names the ways to reach support (``contacts``: joined by " · ").
CONTACT_SUPPORT = N_("Contact support: {contacts}.")

#: The install page's step-by-step guides (and the install card's): the platform's name → its
#: steps, in order (msgids, translated where shown; docs/esim.md#install-page-order).
INSTALL_STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "iPhone",
        (
            N_("Settings › Mobile Service › Add eSIM › Use QR Code."),
            N_("Scan the code, or tap “Enter details manually”."),
            N_("Label it “Travel”, keep your usual line for calls if you like."),
            N_("At your destination: turn on Data Roaming for the Travel line."),
        ),
    ),
    (
        "Android",
        (
            N_("Settings › Network & internet › SIMs › Add eSIM."),
            N_("Scan the code, or choose “Need help?” › enter it manually."),
            N_("At your destination: turn the eSIM on and enable roaming."),
        ),
    ),
)
#: The warning under the guides: a code installs once (docs/esim.md#single-use-codes).
INSTALL_ONCE = N_("Install it once, and do not delete it: most codes work only once.")
#: What the APN row says while the catalogue knows no APN of the plan: the profile sets it.
APN_AUTOMATIC = N_("Set automatically")

#: ``preparing``: provisioning has not stored the code yet; ``ready``: install now;
#: ``downloaded``: the platform reports the profile downloaded to a phone but not installed yet
#: (the code cannot be used again: finish the installation on that phone); ``installed``: the
#: profile is installed/enabled/disabled on a phone; ``deleted`` / ``error``: the profile was
#: deleted or failed (do not retry, contact support: docs/esim.md#f1-code-already-used,
#: docs/esim.md#f2-download-failed); ``needs_attention``: provisioning failed, staff are on it.
InstallStatus = Literal[
    "preparing",
    "ready",
    "downloaded",
    "installed",
    "deleted",
    "error",
    "needs_attention",
    "withdrawn",
]
#: Once the code is stored: the profile's class → the page's status (an unknown profile
#: status proves nothing: the code is shown as ready to install).
_BY_PROFILE: dict[InstallState, InstallStatus] = {
    "ready": "ready",
    "downloaded": "downloaded",
    "installed": "installed",
    "deleted": "deleted",
    "error": "error",
    "unknown": "ready",
}


@dataclass(frozen=True)
class InstallView:
    """The install page's data for the eSIM's owner. Secret fields (``matching_id``, ``lpa``,
    the one-tap links) are excluded from ``repr`` and never go into Reflex state, backend-only
    vars included: only the owner-only route ``/esims/{id}/install.json`` serves them
    (docs/esim.md#security-installation-data-never-in-page-state).

    ``lpa`` is the full ``LPA:1$<SM-DP+>$<matching ID>[...]`` string (QR content, Windows
    link). ``order_reference``/``order_status`` describe the latest order of the eSIM.
    """

    esim_id: int
    iccid: str
    nickname: str | None
    status: InstallStatus
    profile_status: str | None
    endpoint_status: str | None
    confirmation_code_required: bool
    smdp_address: str | None
    matching_id: str | None = field(repr=False)
    lpa: str | None = field(repr=False)
    ios_link: str | None = field(repr=False)
    android_link: str | None = field(repr=False)
    order_reference: str | None
    order_status: str | None


@dataclass(frozen=True)
class SupportContact:
    """The seller's support contact: ``email`` always, ``url`` and ``phone`` when configured
    (settings ``SUPPORT_EMAIL``, ``SUPPORT_URL``, ``SUPPORT_PHONE``)."""

    email: str
    url: str | None = None
    phone: str | None = None


def support_contact(settings: Settings | None = None) -> SupportContact:
    """The support contact from ``settings`` (default: the process settings, read now, so a
    changed environment shows without rebuilding the pages). Blank optional values → ``None``."""
    s = settings or get_settings()
    return SupportContact(
        email=s.support_email.strip(),
        url=(s.support_url or "").strip() or None,
        phone=(s.support_phone or "").strip() or None,
    )


def apn_for(plan: Plan | None) -> str:
    """The APN line of the eSIM's plan ``plan``, in the active language: the APN the seller
    says must be set by hand (``Plan.apn``, docs/esim.md#network-facts), else
    :data:`APN_AUTOMATIC` ("Set automatically": the profile sets it). The one place the
    install card reads the APN from (docs/esim.md#offline-install-card)."""
    apn = (plan.apn or "").strip() if plan is not None else ""
    return apn or _(APN_AUTOMATIC)


def confirmation_code_text(contact: SupportContact) -> str:
    """The confirmation-code paragraph of the installation email, plain text, one line, in
    the active language: :data:`CONFIRMATION_CODE_LEAD` then :data:`CONTACT_SUPPORT`
    (``Contact support: <email> · <phone> · <url>.``)."""
    ways = [contact.email, *(v for v in (contact.phone, contact.url) if v)]
    return f"{_(CONFIRMATION_CODE_LEAD)} {_(CONTACT_SUPPORT).format(contacts=' · '.join(ways))}"


def confirmation_code_html(contact: SupportContact) -> str:
    """The same paragraph as :func:`confirmation_code_text` as one HTML ``<p>`` (escaped;
    ``mailto:``, ``tel:`` and web links)."""
    e = html.escape
    links = [f'<a href="mailto:{e(contact.email)}">{e(contact.email)}</a>']
    if contact.phone:
        tel = "".join(c for c in contact.phone if c.isdigit() or c == "+")
        links.append(f'<a href="tel:{e(tel)}">{e(contact.phone)}</a>')
    if contact.url:
        links.append(f'<a href="{e(contact.url)}">{e(contact.url)}</a>')
    contacts = e(_(CONTACT_SUPPORT)).format(contacts=" · ".join(links))
    return f"<p>{e(_(CONFIRMATION_CODE_LEAD))} {contacts}</p>"


def install_status(
    *, code_stored: bool, order_status: str | None, profile_status: str | None
) -> InstallStatus:
    """The install page's :data:`InstallStatus` of an eSIM.

    Before the activation code is stored (``code_stored`` False): ``needs_attention`` when the
    eSIM's latest order (``order_status``) needs attention, else ``preparing``. Once it is
    stored, the profile status as :func:`travelsim.esim.lifecycle.install_state` classifies
    it (docs/esim.md#profile-states): ``downloaded``, ``installed``, ``deleted`` or ``error``
    as such; ``ready`` (not used yet) or ``unknown`` (nothing proven) → ``ready``.
    """
    if not code_stored:
        return "needs_attention" if order_status == OrderStatus.NEEDS_ATTENTION else "preparing"
    return _BY_PROFILE[install_state(profile_status)]


def _code(esim: Esim) -> ActivationCode | None:
    if not esim.activation_code_enc:
        return None
    try:
        return ActivationCode.parse(secret_box().decrypt(esim.activation_code_enc))
    except (DecryptionError, InvalidActivationCode):
        return None


async def install_view(session: AsyncSession, *, user: User, esim_id: int) -> InstallView | None:
    """The install data of ``esim_id`` for its owner ``user``; ``None`` when the eSIM does not
    exist or is not ``user``'s (answer 404 either way).

    Before provisioning stored the code, the code fields are ``None`` and ``status`` is
    ``preparing`` (or ``needs_attention`` when the order failed). When the sale was refunded
    (:func:`~travelsim.services.ownership.sale_refunded`: the eSIM no longer works) the code
    fields are ``None`` too and ``status`` is ``withdrawn``.
    """
    esim = await owned_esim(session, user.id, esim_id)
    if esim is None:
        return None
    assert esim.id is not None
    refunded = await sale_refunded(session, esim.id)
    order = (
        await session.exec(
            select(Order)
            .where(col(Order.esim_id) == esim.id)
            .order_by(col(Order.created_at).desc())
            .limit(1)
        )
    ).first()
    code = None if refunded else _code(esim)
    status: InstallStatus = (
        "withdrawn"
        if refunded
        else install_status(
            code_stored=code is not None,
            order_status=order.status if order is not None else None,
            profile_status=esim.profile_status,
        )
    )
    return InstallView(
        esim_id=esim.id,
        iccid=esim.iccid,
        nickname=esim.nickname,
        status=status,
        profile_status=esim.profile_status,
        endpoint_status=esim.endpoint_status,
        confirmation_code_required=code.confirmation_code_required if code else False,
        smdp_address=code.smdp_address if code else None,
        matching_id=code.matching_id if code else None,
        lpa=code.to_string(with_prefix=True) if code else None,
        ios_link=ios_link(code) if code else None,
        android_link=android_link(code) if code else None,
        order_reference=order.reference if order else None,
        order_status=order.status if order else None,
    )


async def qr_png_for(
    session: AsyncSession, *, user: User, esim_id: int, scale: int = 8
) -> bytes | None:
    """PNG of the activation-code QR (docs/esim.md#qr-code) for the owner ``user``; ``None`` when
    not theirs or not ready yet. Serve with ``Cache-Control: private, no-store``."""
    return await esim_qr_png(session, user_id=user.id, esim_id=esim_id, scale=scale)


async def esim_qr_png(
    session: AsyncSession, *, user_id: int | None, esim_id: int, scale: int = 8
) -> bytes | None:
    """PNG of the activation-code QR of ``esim_id`` if it belongs to ``user_id`` (same checks
    as :func:`qr_png_for`), else ``None``. For the installation email, whose outbox row keeps
    only a reference (``email.resolve_attachments``) and renders the image when sent.
    ``None`` as well once the sale was refunded (the eSIM no longer works)."""
    esim = await owned_esim(session, user_id, esim_id)
    if esim is None or esim.id is None or await sale_refunded(session, esim.id):
        return None
    code = _code(esim)
    return qr_png(code, scale=scale) if code else None
