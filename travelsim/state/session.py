"""Who is signed in, resolved on the server from the HttpOnly session cookie.

The cookie is set by the ``/auth/*`` routes and is never readable by page scripts; the
websocket handshake carries it, so handlers read it from ``self.router.headers.cookie``
and resolve it to a database session row on every call that touches a traveler's data.
Nothing from the browser (arguments, state) is trusted for identity.

A session that still owes its second factor is signed out here
(``sessions.resolve_session``); only the second-factor page resolves it, with
:meth:`SessionState._pending_user`. Sign-in redirects of such a tab go to that page
(docs/architecture.md, "Security: sessions and the second factor").
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import reflex as rx

from travelsim import db, urls
from travelsim.i18n import localized
from travelsim.models import User
from travelsim.services.auth.sessions import (
    owes_second_factor,
    pending_user,
    resolve_session,
    token_from_cookie_header,
)
from travelsim.services.auth.totp import second_factor_path
from travelsim.state.validation import ValidatedEvents


def _uid(user: User) -> int:
    """The database id of a loaded user (always set once persisted)."""
    if user.id is None:
        raise ValueError("user without id")
    return user.id


class SessionState(ValidatedEvents, rx.State):
    """Base state for pages that know the signed-in traveler. Every handler's arguments
    are checked against its annotations before it runs (``state.validation``)."""

    signed_in: bool = False
    user_email: str = ""
    #: Drives the header's "Admin" link only; admin handlers re-check the role themselves.
    is_staff: bool = False
    #: The header shows only "Sign out": this tab is on the second-factor page with a session
    #: that still owes it (set by that page's state; every other page resolves it as signed out).
    factor_pending: bool = False
    #: Backend only: the cookie's session is live but still owes its second factor (set by
    #: :meth:`_require_user`; :meth:`_signin_redirect` then goes to the second-factor page).
    _owes_second_factor: bool = False

    def _session_token(self) -> str | None:
        return token_from_cookie_header(self.router.headers.cookie)

    async def _current_user(self) -> User | None:
        """The traveler behind this tab's session cookie, or ``None`` (also while the
        session still owes its second factor)."""
        token = self._session_token()
        if not token:
            return None
        async with db.session() as s:
            user = await resolve_session(s, token)
            await s.commit()
            return user

    async def _pending_user(self) -> User | None:
        """The user of this tab's live session even while it still owes its second factor:
        for the second-factor page only (``sessions.pending_user``)."""
        token = self._session_token()
        if not token:
            return None
        async with db.session() as s:
            user = await pending_user(s, token)
            await s.commit()
            return user

    @rx.event
    async def load_session(self) -> None:
        """Refresh the header's signed-in view (on page load)."""
        await self._require_user()

    async def _require_user(self) -> User | None:
        """Resolve the traveler; ``None`` when signed out (the caller redirects)."""
        user = await self._current_user()
        self._show_user(user)
        self._owes_second_factor = False
        if user is None and self._session_token():
            async with db.session() as s:
                self._owes_second_factor = await owes_second_factor(s, self._session_token())
        return user

    def _show_user(self, user: User | None, *, factor_pending: bool = False) -> None:
        """The header's view of ``user`` (signed out for ``None``); ``factor_pending``: the
        session still owes its second factor (the header offers only "Sign out")."""
        self.factor_pending = factor_pending and user is not None
        self.signed_in = user is not None
        self.user_email = user.email if user else ""
        self.is_staff = bool(user and user.is_staff)

    def _signin_redirect(self) -> Any:
        """To sign in, back to this page after; to the second-factor page instead when
        :meth:`_require_user` found a session that owes it."""
        path = self.router.url.path or "/"
        query = self.router.url.query
        target = f"{path}?{query}" if query else path
        if self._owes_second_factor:
            return rx.redirect(localized(second_factor_path(target)))
        return rx.redirect(localized(f"{urls.SIGN_IN}?next={quote(target, safe='')}"))
