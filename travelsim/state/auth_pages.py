"""State of the sign-in and sign-up pages: messages from the ``/auth/*`` redirects."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import reflex as rx

from travelsim.i18n import N_, _, localized
from travelsim.services.auth.errors import message_for
from travelsim.services.auth.signin import safe_next
from travelsim.settings import get_settings
from travelsim.state.session import SessionState

NOTICES = {
    "check_email": N_("Check your inbox: we sent you a link to verify your email address."),
    "signed_out": N_("You are signed out."),
    "verified": N_("Your email is verified. Welcome!"),
    "email_verified": N_("Your email address is confirmed. Please sign in."),
    "reset_sent": N_(
        "If an account uses this address, we sent it a link to choose a new password."
    ),
    "signed_out_everywhere": N_("You are signed out on every device."),
    "account_deleted": N_("Your account is deleted. Thank you for travelling with us."),
}


class AuthPageState(SessionState):
    error: str = ""
    notice: str = ""
    email: str = ""
    next_path: str = "/"
    #: ``?next=<encoded next_path>`` for links between sign-in and sign-up ("" for home), so
    #: the page the traveler came from survives switching forms.
    next_query: str = ""
    #: "Sign in with <name>" when an identity provider is configured, else "" (runtime
    #: settings, never read while the page is built).
    oidc_name: str = ""
    #: "Sign in with <name>", in the page's language.
    oidc_button: str = ""
    demo_mailbox: bool = False

    @rx.event
    async def load(self) -> Any:
        params = self.router.url.query_parameters
        code = params.get("error", "")
        self.error = message_for(code) if code else ""
        notice = NOTICES.get(params.get("notice", ""))
        self.notice = _(notice) if notice else ""
        self.demo_mailbox = get_settings().app_env == "demo"
        self.email = params.get("email", "")[:254]
        self.next_path = safe_next(params.get("next", "/"))
        self.next_query = "" if self.next_path == "/" else "?" + urlencode({"next": self.next_path})
        settings = get_settings()
        self.oidc_name = settings.oidc_display_name if settings.oidc_enabled else ""
        self.oidc_button = _("Sign in with {provider}").format(provider=self.oidc_name)
        await self._require_user()
        if self.signed_in:
            return rx.redirect(localized(self.next_path))  # type: ignore[operator]
        return None
