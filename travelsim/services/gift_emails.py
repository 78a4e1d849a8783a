"""The emails of a gift (docs/business-rules.md#gifts): the recipient's claim email and the
buyer's "your gift is on its way". Each returns :func:`travelsim.services.email.enqueue`
keyword arguments, written in ``locale`` (docs/i18n.md#emails). The buyer's message is plain
text: HTML-escaped in the HTML part, never interpreted. Neither email carries installation
data: the claim email is sent to an address no account has proven yet, and the buyer does not
hold a gift's eSIM.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import i18n, timefmt, urls
from travelsim.i18n import N_, _
from travelsim.models import Esim, Gift, Order, Plan, User
from travelsim.services import email, email_messages, plan_texts
from travelsim.services.email_messages import HELLO, SIGNATURE, html_text


def _link(url: str, text: str) -> str:
    return f'<a href="{html.escape(url, quote=True)}">{html.escape(text)}</a>'


def claim_email(
    gift: Gift,
    *,
    sender: str,
    title: str,
    token: str,
    expires_at: datetime,
    locale: str = i18n.DEFAULT,
    public_url: str | None = None,
) -> dict[str, Any]:
    """The claim email of ``gift``: who sent it (``sender``, the buyer's address; empty when
    unknown), the plan (``title``), the buyer's message, the claim link carrying the raw
    ``token`` and when it stops working (``expires_at``, UTC). Kind ``gift_claim``."""
    with i18n.using(locale) as lang:
        link = urls.absolute(i18n.localized(urls.gift_claim(token), lang), public_url)
        until = timefmt.local_datetime(expires_at, "UTC")
        sent = (
            N_("{sender} sent you a TravelSIM eSIM with {plan}.")
            if sender
            else N_("Someone sent you a TravelSIM eSIM with {plan}.")
        )
        how = N_(
            "Open the link below and sign in or create an account with this email address "
            "to add the eSIM to your account; you then install it from there."
        )
        works = N_("The link works until {time} (UTC) and only once.")
        note = N_("Their message:")
        ignore = N_("If you do not know the sender, you can ignore this email.")
        claim = _("Claim my eSIM")
        words = {"sender": sender, "plan": title}
        said = f"\n{_(note)}\n{gift.message}\n" if gift.message else ""
        text = (
            f"{_(HELLO)}\n\n{_(sent).format(**words)}\n{said}\n{_(how)}\n{link}\n"
            f"{_(works).format(time=until)}\n\n{_(ignore)}\n\n{SIGNATURE}\n"
        )
        e = html.escape
        said_html = (
            f"<p>{html_text(note)}</p><blockquote>{e(gift.message)}</blockquote>"
            if gift.message
            else ""
        )
        body_html = (
            f"<p>{html_text(HELLO)}</p>"
            f"<p>{html_text(sent, sender=e(sender), plan=f'<strong>{e(title)}</strong>')}</p>"
            f"{said_html}<p>{html_text(how)}</p><p>{_link(link, claim)}</p>"
            f"<p>{html_text(works, time=e(until))}</p><p>{html_text(ignore)}</p>"
            f"<p>{SIGNATURE}</p>"
        )
        return {
            "subject": _("You were sent an eSIM"),
            "text": text,
            "html": body_html,
            "kind": "gift_claim",
            "attachments": None,
            "locale": lang,
        }


def gift_sent_email(
    order: Order,
    *,
    recipient: str,
    title: str,
    locale: str = i18n.DEFAULT,
    public_url: str | None = None,
) -> dict[str, Any]:
    """The buyer's confirmation that the gift ``order`` was delivered to ``recipient`` (shown
    masked), with a link to the order page (re-send, take back). No QR, no install link.
    Kind ``gift_sent``."""
    with i18n.using(locale) as lang:
        link = urls.absolute(i18n.localized(urls.order(order.id), lang), public_url)
        ref = order.reference
        ready = N_("Your gift eSIM for {plan} is ready (order {reference}).")
        sent = N_(
            "We emailed {recipient} a link to claim it. The QR code and installation "
            "details are theirs: they get them once they claim the eSIM."
        )
        manage = N_("On your order page you can send the email again or take the gift back:")
        words = {"plan": title, "reference": ref}
        text = (
            f"{_(HELLO)}\n\n{_(ready).format(**words)}\n{_(sent).format(recipient=recipient)}"
            f"\n\n{_(manage)}\n{link}\n\n{SIGNATURE}\n"
        )
        e = html.escape
        body_html = (
            f"<p>{html_text(HELLO)}</p>"
            f"<p>{html_text(ready, plan=f'<strong>{e(title)}</strong>', reference=e(ref))}<br>"
            f"{html_text(sent, recipient=e(recipient))}</p>"
            f"<p>{html_text(manage)} {_link(link, _('Open my order'))}</p><p>{SIGNATURE}</p>"
        )
        return {
            "subject": _("Your gift is on its way: order {reference}").format(reference=ref),
            "text": text,
            "html": body_html,
            "kind": "gift_sent",
            "attachments": None,
            "locale": lang,
        }


async def queue_installation(
    session: AsyncSession, order: Order, esim: Esim, user: User, public_url: str | None
) -> None:
    """Queue the usual installation email of ``order`` to ``user``, who now holds ``esim``
    (a gift taken back by its buyer). Does not commit."""
    lang = email.recipient_locale(user)
    plan = await session.get(Plan, order.plan_id)
    texts = await plan_texts.texts_for(session, [order.plan_id], locale=lang)
    title = plan_texts.plan_title(plan, texts) if plan else order.plan_id
    message = email_messages.installation_email(
        order, esim, title=title, locale=lang, public_url=public_url
    )
    await email.enqueue(session, to=user.email, user_id=user.id, **message)
