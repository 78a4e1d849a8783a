"""Who is signed in, resolved on the server from the HttpOnly session cookie.

The cookie is set by the ``/auth/*`` routes and is never readable by page scripts; the
websocket handshake carries it, so handlers read it from ``self.router.headers.cookie``
and resolve it to a database session row on every call that touches a traveler's data.
Nothing from the browser (arguments, state) is trusted for identity.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import reflex as rx

from travelsim import db, urls
from travelsim.models import User
from travelsim.services.auth.sessions import resolve_session, token_from_cookie_header
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

    def _session_token(self) -> str | None:
        return token_from_cookie_header(self.router.headers.cookie)

    async def _current_user(self) -> User | None:
        """The traveler behind this tab's session cookie, or ``None``."""
        token = self._session_token()
        if not token:
            return None
        async with db.session() as s:
            user = await resolve_session(s, token)
            await s.commit()
            return user

    @rx.event
    async def load_session(self) -> None:
        """Refresh the header's signed-in view (on page load)."""
        await self._require_user()

    async def _require_user(self) -> User | None:
        """Resolve the traveler; ``None`` when signed out (the caller redirects)."""
        user = await self._current_user()
        self.signed_in = user is not None
        self.user_email = user.email if user else ""
        self.is_staff = bool(user and user.is_staff)
        return user

    def _signin_redirect(self) -> Any:
        path = self.router.url.path or "/"
        query = self.router.url.query
        target = f"{path}?{query}" if query else path
        return rx.redirect(f"{urls.SIGN_IN}?next={quote(target, safe='')}")
