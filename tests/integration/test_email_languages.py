"""Every email comes out in its recipient's language (docs/i18n.md#emails), read back from a
real SMTP server on loopback after the outbox sender delivered it: a French traveler gets the
French catalog's texts, a ``Content-Language: fr`` header, links to the ``/fr/`` pages and
amounts in Babel's ``fr_FR`` format; a traveler without a language (or with one the portal
does not speak) gets English. Expected texts are the catalog's msgstr (Babel's .po reader),
amounts and dates Babel's own formatting."""

# ruff: noqa: F811  (pytest fixtures imported from the support modules)

from __future__ import annotations

import html
from datetime import UTC, datetime
from decimal import Decimal
from email.message import EmailMessage
from functools import cache
from typing import Any

import httpx
import pytest
from babel.dates import format_datetime
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from babel.numbers import format_currency
from checkout_support import (  # noqa: F401 - fixtures
    PLAN_ID,
    Sim,
    add_plan,
    add_user,
    buy,
    sft_clients,
    sim_factory,
)
from jobs_support import Mailbox, smtp  # noqa: F401 - fixture
from sqlmodel import select
from test_auth_routes import HOST, PASSWORD, client

from travelsim import db, i18n
from travelsim.models import Esim, Order, PlanText, User
from travelsim.services import email, email_messages, provisioning
from travelsim.settings import Settings, get_settings
from travelsim.sft import SFTClient


@cache
def _catalog(lang: str) -> Catalog:
    with (i18n.LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=lang)


def tr(lang: str, msgid: str, form: int = 0) -> str:
    """``msgid``'s msgstr in ``lang`` (plural form ``form`` for a plural entry); fails if
    the catalog lacks it."""
    message = _catalog(lang).get(msgid)
    assert message is not None and message.string, f"{msgid!r} has no {lang} translation"
    string = message.string
    return str(string[form] if isinstance(string, tuple) else string)


def text_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


async def delivered(box: Mailbox, expected: int = 1) -> list[EmailMessage]:
    """Run the outbox sender (real SMTP to ``box``) and return what arrived."""
    assert await email.send_pending(get_settings()) == expected
    assert len(box.messages) == expected
    return box.messages


@pytest.fixture
async def engines() -> Any:
    yield
    await db.async_engine().dispose()


# --- the installation email, after a real purchase and provisioning run ----------------------


async def _bought(
    sim: Sim, client_: SFTClient, locale: str | None, plan_texts: dict[str, str] | None = None
) -> tuple[Order, Esim]:
    """One eSIM bought and delivered for a new traveler speaking ``locale``; ``plan_texts``:
    the seller's display name of the plan per language (``plan_text`` rows)."""
    await add_plan()
    user = await add_user()
    async with db.session() as s:
        for code, name in (plan_texts or {}).items():
            s.add(PlanText(plan_id=PLAN_ID, locale=code, display_name=name))
        row = await s.get(User, user.id)
        assert row is not None
        row.locale = locale
        s.add(row)
        await s.commit()
        await s.refresh(row)
    outcome = await buy(row, client_)
    assert outcome.order_id
    done = await provisioning.run_order(outcome.order_id, client=client_, backoff=(0.01,))
    assert done.status == "delivered"
    async with db.session() as s:
        order = await s.get(Order, outcome.order_id)
        assert order is not None
        esim = await s.get(Esim, order.esim_id)
        assert esim is not None and esim.id is not None
    return order, esim


async def test_installation_email_in_french_for_a_french_traveler(
    smtp: Mailbox,
    sqlite_db: Settings,
    sim_factory: Any,
    sft_clients: Any,
    engines: None,
) -> None:
    sim = sim_factory(esims=3)
    # The seller named the plan in French and in German: the French name is the one sent.
    names = {"fr": "France 1 Go", "de": "Frankreich 1 GB"}
    order, esim = await _bought(sim, sft_clients(sim.url), "fr", names)
    [msg] = await delivered(smtp)
    ref = order.reference
    assert msg["Subject"] == tr("fr", "Your eSIM is ready: order {reference}").format(reference=ref)
    assert msg["Content-Language"] == "fr"
    text, body = text_of(msg), html_of(msg)
    assert tr("fr", "Hello,") in text
    ready = tr("fr", "Your eSIM for {plan} is ready (order {reference}).")
    assert ready.format(plan="France 1 Go", reference=ref) in text
    assert "France 1 GB" not in text
    price = format_currency(Decimal("9.90"), "EUR", locale="fr_FR")  # "9,90\u00a0€"
    assert tr("fr", "Amount paid: {amount}").format(amount=price) in text
    assert tr("fr", "Settings › Mobile Service › Add eSIM › Use QR Code.") in text
    link = f"{sqlite_db.public_url}/fr/esims/{esim.id}/install"
    assert link in text and f'href="{link}"' in body
    assert html.escape(tr("fr", "Open my install page")) in body
    assert "Your eSIM" not in text and "Amount paid" not in text


@pytest.mark.parametrize("locale", [None, "it"])
async def test_installation_email_in_english_without_a_language_the_portal_speaks(
    smtp: Mailbox,
    sqlite_db: Settings,
    sim_factory: Any,
    sft_clients: Any,
    engines: None,
    locale: str | None,
) -> None:
    sim = sim_factory(esims=3)
    order, esim = await _bought(sim, sft_clients(sim.url), locale)
    [msg] = await delivered(smtp)
    assert msg["Subject"] == f"Your eSIM is ready: order {order.reference}"
    assert msg["Content-Language"] == "en"
    text = text_of(msg)
    assert "Amount paid: €9.90" in text
    assert f"{sqlite_db.public_url}/esims/{esim.id}/install" in text
    assert "Settings › Mobile Service › Add eSIM › Use QR Code." in text


# --- the top-up confirmation and the provider-link notice ---------------------------------


async def test_topup_and_provider_link_emails_in_french(
    smtp: Mailbox, sqlite_db: Settings, engines: None
) -> None:
    order = Order(
        id="o-1",
        reference="TS-TOPUP1",
        checkout_id="c-1",
        plan_id=PLAN_ID,
        esim_id=7,
        payment_id=1,
        amount_minor=450,
        currency="EUR",
    )
    topup = email_messages.topup_email(
        order, Esim(id=7, iccid="1", endpoint_id="1"), title="Japon 3 Go", locale="fr"
    )
    at = datetime(2026, 12, 3, 13, 5, tzinfo=UTC)
    linked = email_messages.provider_linked_email(
        provider="Test IdP", device="Safari 17 sur iPhone", at=at, locale="fr"
    )
    async with db.session() as s:
        for message in (topup, linked):
            await email.enqueue(s, to="lea@example.com", **message)
        await s.commit()
    top, link = await delivered(smtp, 2)

    assert top["Subject"] == tr("fr", "Add-on added: order {reference}").format(
        reference="TS-TOPUP1"
    )
    assert top["Content-Language"] == "fr"
    price = format_currency(Decimal("4.50"), "EUR", locale="fr_FR")  # "4,50\u00a0€"
    assert tr("fr", "Amount paid: {amount}").format(amount=price) in text_of(top)
    added = tr("fr", "{plan} was added to your eSIM (order {reference}).")
    assert added.format(plan="Japon 3 Go", reference="TS-TOPUP1") in text_of(top)
    assert f"{sqlite_db.public_url}/fr/esims/7/install" in text_of(top)

    assert link["Subject"] == tr(
        "fr", "A sign-in with {provider} was linked to your account"
    ).format(provider="Test IdP")
    assert link["Content-Language"] == "fr"
    when = format_datetime(at, "EEE d MMM y, HH:mm", tzinfo=UTC, locale="fr_FR") + " UTC"
    assert when in text_of(link)  # "jeu. 3 déc. 2026, 13:05 UTC"
    for page in ("/fr/password/forgot", "/fr/security"):
        assert f"{sqlite_db.public_url}{page}" in text_of(link)
        assert f'href="{sqlite_db.public_url}{page}"' in html_of(link)


# --- the account emails, through the portal's routes --------------------------------------


async def _post(c: httpx.AsyncClient, path: str, data: dict[str, str], page: str) -> None:
    """Post a form as the browser does from ``page`` (its ``Referer``)."""
    response = await c.post(path, data=data, headers={"Referer": f"{HOST}{page}"})
    assert response.status_code == 303, response.text


async def test_account_emails_follow_the_account_then_the_page(
    smtp: Mailbox, sqlite_db: Settings, engines: None
) -> None:
    async with client() as c:
        # A sign-up on the French page: a French account and a French verification email.
        await _post(
            c, "/auth/signup", {"email": "lea@example.com", "password": PASSWORD}, "/fr/signup"
        )
        [verify] = await delivered(smtp)
        assert verify["Subject"] == tr("fr", "Confirm your TravelSIM email address")
        assert verify["Content-Language"] == "fr"
        assert tr("fr", "Welcome to TravelSIM!") in text_of(verify)
        assert tr("fr", "The link works once and expires in {n} hour.", 2).format(n=24) in (
            text_of(verify)
        )
        async with db.session() as s:
            user = (await s.exec(select(User).where(User.email == "lea@example.com"))).one()
        assert user.locale == "fr"

        # Her reset link, asked from a German page, is still French: the account decides.
        smtp.messages.clear()
        await _post(c, "/auth/password/forgot", {"email": "lea@example.com"}, "/de/password/forgot")
        [reset] = await delivered(smtp)
        assert reset["Subject"] == tr("fr", "Reset your TravelSIM password")
        assert reset["Content-Language"] == "fr"
        assert f"{sqlite_db.public_url}/fr/password/reset?token=" in text_of(reset)

        # An address without an account, asked from the Spanish page: Spanish.
        smtp.messages.clear()
        await _post(
            c, "/auth/password/forgot", {"email": "nadie@example.com"}, "/es/password/forgot"
        )
        [none] = await delivered(smtp)
        assert none["Subject"] == tr("es", "About your TravelSIM request")
        assert none["Content-Language"] == "es"
        assert f"{sqlite_db.public_url}/es/signup" in text_of(none)

        # A sign-up on the English page: English, and the account's language left open.
        smtp.messages.clear()
        await _post(
            c, "/auth/signup", {"email": "ann@example.com", "password": PASSWORD}, "/signup"
        )
        [english] = await delivered(smtp)
        assert english["Subject"] == "Confirm your TravelSIM email address"
        assert english["Content-Language"] == "en"
        assert "The link works once and expires in 24 hours." in text_of(english)
        async with db.session() as s:
            ann = (await s.exec(select(User).where(User.email == "ann@example.com"))).one()
        assert ann.locale is None
