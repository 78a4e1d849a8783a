"""Attack: sign in with an identity provider as someone else's existing account.

Whoever controls a provider account showing the victim's email (verified at the provider)
used to be linked to the victim's account silently, staff included. Now (see
docs/architecture.md, "Security: sessions and the second factor"):

* a staff account is never signed in or linked through the provider (``oidc_staff``): no
  session row, no identity row, whatever the provider says;
* a traveler's account is linked (only with a provider-verified email, as before) and gets
  one email through the outbox naming the provider, the device and the time (UTC); later
  sign-ins with the same identity send nothing more.

The portal's routes run in process over ASGI, the provider (``tests/oidc_provider.py``) on
a loopback socket, the database is a real SQLite file.
"""

# ruff: noqa: F811  (pytest fixtures imported from oidc_support)

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC

import pytest
from oidc_support import (  # noqa: F401 - fixture
    HOST,
    SESSION_COOKIE,
    Browser,
    configure_oidc,
    location,
    make_user,
    provider,
    provider_login,
)
from sqlmodel import col, select

from tests.oidc_provider import ProviderServer
from travelsim import db
from travelsim.models import AuthSession, OidcIdentity, OutboxEmail, User, utcnow
from travelsim.services.auth.errors import message_for
from travelsim.settings import Settings

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


@pytest.fixture
async def browser(
    sqlite_db: Settings, provider: ProviderServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Browser]:
    configure_oidc(monkeypatch, provider)
    b = Browser(**{"User-Agent": IPHONE, "Origin": HOST})
    yield b
    await b.close()
    await db.async_engine().dispose()


async def sessions_of(user: User) -> list[AuthSession]:
    async with db.session() as s:
        return list((await s.exec(select(AuthSession).where(AuthSession.user_id == user.id))).all())


async def identities_of(user: User) -> list[OidcIdentity]:
    async with db.session() as s:
        return list(
            (await s.exec(select(OidcIdentity).where(OidcIdentity.user_id == user.id))).all()
        )


async def outbox_to(address: str) -> list[OutboxEmail]:
    async with db.session() as s:
        return list(
            (
                await s.exec(
                    select(OutboxEmail)
                    .where(OutboxEmail.to_address == address)
                    .order_by(col(OutboxEmail.id))
                )
            ).all()
        )


async def test_probe_oidc_staff_email_is_never_linked(
    browser: Browser, provider: ProviderServer
) -> None:
    staff = await make_user("ops@example.com", staff=True)
    response = await provider_login(browser, provider, email="ops@example.com", next_path="/admin")
    assert location(response) == ("/signin", {"error": "oidc_staff"})
    assert "staff" in message_for("oidc_staff").lower()
    assert SESSION_COOKIE not in browser.cookies
    assert await sessions_of(staff) == []
    assert await identities_of(staff) == []
    assert await browser.whoami() is None


async def test_probe_oidc_staff_with_an_earlier_link_is_refused(
    browser: Browser, provider: ProviderServer
) -> None:
    """A link made before the rule (or before a promotion to staff) signs nobody in."""
    staff = await make_user("lead@example.com", staff=True)
    async with db.session() as s:
        s.add(
            OidcIdentity(
                issuer=provider.issuer,
                subject="lead-1",
                user_id=staff.id or 0,
                email="lead@example.com",
                linked_at=utcnow(),
                last_signin_at=utcnow(),
            )
        )
        await s.commit()
    response = await provider_login(browser, provider, email="lead@example.com", sub="lead-1")
    assert location(response) == ("/signin", {"error": "oidc_staff"})
    assert await sessions_of(staff) == []


async def test_probe_oidc_link_emails_the_traveler(
    browser: Browser, provider: ProviderServer
) -> None:
    traveler = await make_user("bo@example.com", verified=True)
    response = await provider_login(browser, provider, email="bo@example.com", sub="bo-42")
    assert location(response)[0] == "/account"
    assert await browser.whoami() == "bo@example.com"
    [identity] = await identities_of(traveler)
    [mail] = await outbox_to("bo@example.com")
    assert mail.kind == "oidc_linked" and mail.user_id == traveler.id
    assert "Test IdP" in mail.subject
    body = mail.body_text
    assert "Test IdP" in body and "Safari 17 on iPhone" in body
    at = identity.linked_at.astimezone(UTC)
    assert f"{at:%a} {at.day} {at:%b %Y, %H:%M} UTC" in body  # "Thu 3 Dec 2026, 14:05 UTC"
    assert "if it was not you" in body.lower() and "/password/forgot" in body
    assert mail.body_html and "Safari 17 on iPhone" in mail.body_html

    # The same identity signing in again is no new link: no second email.
    again = Browser(**{"User-Agent": IPHONE, "Origin": HOST})
    try:
        response = await provider_login(again, provider, email="bo@example.com", sub="bo-42")
        assert location(response)[0] == "/account"
    finally:
        await again.close()
    assert len(await outbox_to("bo@example.com")) == 1


async def test_probe_oidc_new_account_gets_no_link_email(
    browser: Browser, provider: ProviderServer
) -> None:
    response = await provider_login(browser, provider, email="new@example.com")
    assert location(response)[0] == "/account"
    assert [m.kind for m in await outbox_to("new@example.com")] == []


async def test_probe_oidc_unverified_provider_email_links_nothing(
    browser: Browser, provider: ProviderServer
) -> None:
    traveler = await make_user("cy@example.com", verified=True)
    response = await provider_login(browser, provider, email="cy@example.com", verified=False)
    assert location(response) == ("/signin", {"error": "oidc_unverified"})
    assert await identities_of(traveler) == [] and await sessions_of(traveler) == []
    assert await outbox_to("cy@example.com") == []
