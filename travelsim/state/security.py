"""States of the security & privacy pages: sessions, second factor, password reset, data
export and account deletion. Thin: every handler re-resolves the user from the HttpOnly
session cookie and calls ``travelsim.services.auth`` / ``privacy`` / ``oidc``.

The one secret that reaches the browser on purpose is the TOTP secret during enrolment
(:attr:`TotpState.secret` and the QR code): the user must copy it into their authenticator
app. It is only shown to the signed-in owner, only until enrolment is confirmed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

import reflex as rx

from travelsim import db
from travelsim.i18n import N_, _, localized, ngettext
from travelsim.models import User
from travelsim.services import oidc
from travelsim.services.auth import reset, totp
from travelsim.services.auth.credentials import NO_PASSWORD
from travelsim.services.auth.errors import AccountError, message_for
from travelsim.services.auth.sessions import list_sessions, second_factor_required
from travelsim.services.auth.signin import safe_next
from travelsim.services.privacy.deletion import deletion_preview
from travelsim.settings import get_settings
from travelsim.state.session import SessionState, _uid
from travelsim.timefmt import local_datetime

METHOD_LABELS = {
    "password": N_("Password"),
    "oidc": N_("Identity provider"),
    "email_link": N_("Email link"),
    "reset": N_("Password reset"),
}


def _when(moment: datetime | None, tz: str = "") -> str:
    """``moment`` (aware, UTC) in the viewer's zone ``tz`` (IANA; UTC when empty), named."""
    return local_datetime(moment, tz or "UTC") if moment else ""


class SecurityState(SessionState):
    """``/security``: open sessions, sign out everywhere, two-step verification, linked
    providers, data download and account deletion links."""

    sessions: list[dict[str, str]] = []
    identities: list[dict[str, str]] = []
    totp_enabled: bool = False
    notice: str = ""
    tz: str = ""

    @rx.event
    async def load(self) -> Any:
        user = await self._require_user()
        if user is None:
            return self._signin_redirect()  # or to the second factor it still owes
        await self._fill(user)
        self.notice = (
            _("Two-step verification is on.")
            if self.router.url.query_parameters.get("notice") == "totp_on"
            else ""
        )
        return rx.call_script(
            "Intl.DateTimeFormat().resolvedOptions().timeZone",
            callback=SecurityState.set_timezone,
        )

    @rx.event
    async def set_timezone(self, tz: Any) -> None:
        """The browser's IANA zone, used only to format the dates for this viewer."""
        self.tz = str(tz)[:64] if tz else ""
        user = await self._current_user()
        if user is not None:
            await self._fill(user)

    async def _fill(self, user: User) -> None:
        token = self._session_token()
        async with db.session() as s:
            infos = await list_sessions(s, _uid(user), token)
            totp_row = await totp.totp_of(s, _uid(user))
            linked = await oidc.identities_of(s, _uid(user))
        self.sessions = [
            {
                "browser": info.device,
                "method": _(METHOD_LABELS[info.method])
                if info.method in METHOD_LABELS
                else info.method,
                "started": _when(info.created_at, self.tz),
                "last_seen": _when(info.last_seen_at, self.tz),
                "current": "yes" if info.current else "",
            }
            for info in infos
        ]
        self.identities = [
            {"issuer": i.issuer, "email": i.email or "", "linked": _when(i.linked_at, self.tz)}
            for i in linked
        ]
        self.totp_enabled = totp_row is not None and totp_row.confirmed_at is not None
        self.is_staff = user.is_staff


class TotpState(SessionState):
    """``/security/totp``: enrol (QR code + manual secret) or pass the second factor. The
    one state that resolves a session still owing its second factor
    (:meth:`SessionState._pending_user`); it shows nothing but the form."""

    mode: str = ""  # "enrol" | "verify"
    required: bool = False
    qr_data_uri: str = ""
    secret: str = ""
    error: str = ""
    next_path: str = "/"

    @rx.event
    async def load(self) -> Any:
        params = self.router.url.query_parameters
        code = params.get("error", "")
        self.error = message_for(code) if code else ""
        self.next_path = safe_next(params.get("next", "/"))
        # The one page that knows a session still owing its second factor: it asks for it.
        user = await self._pending_user()
        self._show_user(user)
        if user is None:
            return self._signin_redirect()
        token = self._session_token()
        self.qr_data_uri = ""
        self.secret = ""
        async with db.session() as s:
            self._show_user(user, factor_pending=await totp.needs_second_factor(s, user, token))
            totp_row = await totp.totp_of(s, _uid(user))
            self.required = second_factor_required(user, totp_row)
            if totp_row is not None and totp_row.confirmed_at is not None:
                if not await totp.needs_second_factor(s, user, token):
                    return rx.redirect(self.next_path)
                self.mode = "verify"
                return None
            secret = await totp.begin_totp_enrolment(s, user)
            await s.commit()
        uri = totp.provisioning_uri(secret, user.email, get_settings().totp_issuer)
        self.mode = "enrol"
        self.secret = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
        self.qr_data_uri = totp.qr_svg_data_uri(uri)
        if self.next_path == "/" and not self.required:
            self.next_path = "/security?notice=totp_on"
        return None


class PasswordResetState(SessionState):
    """``/password/forgot`` and ``/password/reset?token=``.

    ``account_email``: the account the link is for (shown, so nobody sets a password for an
    address that is not theirs). ``choosing``: the account has no password yet (verified
    through competing sign-ups or a resent link, see
    docs/architecture.md#security-accounts-and-throttling): the page asks to choose one."""

    error: str = ""
    token: str = ""
    token_ok: bool = False
    account_email: str = ""
    choosing: bool = False

    @rx.event
    async def load_forgot(self) -> None:
        code = self.router.url.query_parameters.get("error", "")
        self.error = message_for(code) if code else ""
        await self._require_user()

    @rx.event
    async def load_reset(self) -> Any:
        params = self.router.url.query_parameters
        code = params.get("error", "")
        self.error = message_for(code) if code else ""
        self.token = params.get("token", "")[:200]
        async with db.session() as s:
            try:
                user = await reset.check_reset_token(s, self.token)
                self.token_ok = True
                self.account_email = user.email
                self.choosing = user.password_hash == NO_PASSWORD
            except AccountError as exc:
                self.token_ok = False
                self.account_email, self.choosing = "", False
                return rx.redirect(localized(f"/password/forgot?error={quote(exc.code)}"))
        await self._require_user()
        return None


class DeleteAccountState(SessionState):
    """``/account/delete``: the warning page listing what deletion does."""

    live_esims: list[dict[str, str]] = []
    other_esims: int = 0
    orders: int = 0
    #: What happens to the orders, their number in the sentence (the catalogs' plural rule).
    orders_kept: str = ""
    pending_orders: int = 0
    error: str = ""

    @rx.event
    async def load(self) -> Any:
        user = await self._require_user()
        if user is None:
            return self._signin_redirect()
        code = self.router.url.query_parameters.get("error", "")
        self.error = message_for(code) if code else ""
        async with db.session() as s:
            preview = await deletion_preview(s, _uid(user))
        self.live_esims = [
            {"iccid": e.iccid, "name": e.nickname or f"eSIM …{e.iccid[-4:]}"}
            for e in preview.live_esims
        ]
        self.other_esims = preview.other_esims
        self.orders = preview.orders
        self.orders_kept = ngettext(
            "{n} order is kept for accounting, as the law requires, without your name or "
            "email address.",
            "{n} orders are kept for accounting, as the law requires, without your name or "
            "email address.",
            preview.orders,
        ).format(n=preview.orders)
        self.pending_orders = preview.pending_orders
        return None
