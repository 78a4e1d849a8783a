"""The traveler's currency in page states: which one prices are shown and charged in.

The choice is made with the header's currency menu (``components/currency.py``), whose links
open ``GET /currency/{code}`` (``travelsim.routes.currency``): a full page load that sets the
``travelsim_currency`` cookie and, signed in, ``User.currency``. A page state reads it back
with :func:`traveler_currency` from the cookie header the tab's websocket carries (the same
way :class:`~travelsim.state.session.SessionState` reads the session cookie), then the
account's choice, then the default from ``Accept-Language`` (docs/i18n.md#currencies).
:class:`CurrencyState` holds it for the header (every traveler page loads it first).
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import quote

import reflex as rx
from babel.numbers import get_currency_name

from travelsim import db, i18n
from travelsim.i18n import _
from travelsim.models import User
from travelsim.services.auth.sessions import resolve_session, token_from_cookie_header
from travelsim.services.currencies import CURRENCY_COOKIE, default_currency
from travelsim.settings import get_settings
from travelsim.state.session import SessionState


def cookie_currency(cookie_header: str | None) -> str:
    """The currency named by the :data:`CURRENCY_COOKIE` cookie of a raw ``Cookie:`` header,
    upper case, when it is one of ``Settings.currencies``; else ``""``."""
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(cookie_header or "")
    except CookieError:
        return ""
    morsel = jar.get(CURRENCY_COOKIE)
    code = (morsel.value if morsel is not None else "").upper()
    return code if code in get_settings().currencies else ""


async def _signed_in(state: Any) -> User | None:
    token = token_from_cookie_header(state.router.headers.cookie)
    if not token:
        return None
    async with db.session() as s:
        user = await resolve_session(s, token)
        await s.commit()
        return user


async def traveler_currency(state: Any, user: User | None = None, *, look_up: bool = False) -> str:
    """The currency (ISO 4217, one of ``Settings.currencies``) of the traveler behind
    ``state``'s tab: the cookie's choice, else the signed-in account's (``user``; with
    ``look_up`` the account of the tab's session cookie is read when ``user`` is not given),
    else :func:`~travelsim.services.currencies.default_currency` of the browser's
    ``Accept-Language`` (docs/i18n.md#currencies)."""
    headers = state.router.headers
    code = cookie_currency(headers.cookie)
    if code:
        return code
    if user is None and look_up:
        user = await _signed_in(state)
    if user is not None and user.currency in get_settings().currencies:
        return str(user.currency)
    return default_currency(headers.accept_language or None)


def currency_name(code: str) -> str:
    """The currency's name in the active language, from CLDR (``US Dollar``, French
    ``dollar des États-Unis``)."""
    return str(get_currency_name(code, locale=i18n.format_locale()))


class CurrencyState(SessionState):
    """The header's currency menu: the traveler's currency and where its links return."""

    #: The traveler's currency (ISO 4217), "" until the page loaded.
    code: str = ""
    #: The menu button's screen-reader label, e.g. "Currency: US Dollar".
    label: str = ""
    #: This page's path and query, percent-encoded for ``?next=`` (the menu returns here).
    here: str = "%2F"

    @rx.event
    async def load(self) -> None:
        """Read the traveler's currency (:func:`traveler_currency`) and this page's address
        (on every traveler page's load, before the page's own handler)."""
        self.code = await traveler_currency(self, look_up=True)
        self.label = _("Currency: {currency}").format(currency=currency_name(self.code))
        path = self.router.url.path or "/"
        query = self.router.url.query
        self.here = quote(f"{path}?{query}" if query else path, safe="")
