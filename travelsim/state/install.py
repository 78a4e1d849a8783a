"""Installation page state: what the owner's install page shows around the activation data.

The activation data itself (SM-DP+ address, matching ID, ``LPA:`` code, one-tap links) is never
state: the page's browser-side component fetches it from the owner-only route
``/esims/{id}/install.json`` (:mod:`travelsim.components.install_details`,
docs/esim.md#security-installation-data-never-in-page-state). The state holds only the
route's address.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from travelsim import db, urls
from travelsim.esim import install_links
from travelsim.i18n import _, localized
from travelsim.services import installation
from travelsim.state.esim import support_links
from travelsim.state.session import SessionState


class InstallState(SessionState):
    esim_id: str = ""
    not_found: bool = False
    ready: bool = False
    iccid: str = ""
    #: The owner-only JSON route the page's component fetches (``/esims/{id}/install.json``).
    details_url: str = ""
    confirmation_code_required: bool = False
    #: :data:`installation.InstallStatus` (``ready``, ``downloaded``, ``installed``, ...).
    status: str = ""
    #: The eSIM's own page (where a replacement can be requested).
    esim_url: str = ""
    platform: str = "other"
    mobile: bool = False
    in_app_browser: str = ""
    #: The in-app-browser warning in the page's language ("" outside one).
    in_app_warning: str = ""
    #: The seller's support contact (settings, read on every load, never at build time):
    #: ``email`` always; ``url``, ``phone`` and ``tel`` (digits for a tel: link) may be "".
    support: dict[str, str] = {}
    #: Who gives the confirmation code (the same sentence as the installation email).
    confirmation_lead: str = installation.CONFIRMATION_CODE_LEAD

    @rx.event
    async def load(self) -> Any:
        user = await self._require_user()
        if user is None:
            return self._signin_redirect()
        raw = self.router.url.path.rstrip("/").rsplit("/", 2)[-2]
        ua = self.router.headers.user_agent or ""
        self.platform = install_links.device_platform(ua)
        self.mobile = install_links.is_mobile(ua)
        self.in_app_browser = install_links.in_app_browser_name(ua) or ""
        self.in_app_warning = (
            _(
                "You are in {app}’s in-app browser, where the one-tap install does not work. "
                "Open this page in Safari or Chrome (menu › “Open in browser”), or use the QR "
                "code or manual entry below."
            ).format(app=self.in_app_browser)
            if self.in_app_browser
            else ""
        )
        self.confirmation_lead = _(installation.CONFIRMATION_CODE_LEAD)
        view = None
        if raw.isdigit():
            async with db.session() as s:
                view = await installation.install_view(s, user=user, esim_id=int(raw))
        if view is None:
            # Nothing of an earlier page stays
            # (docs/esim.md#security-installation-data-never-in-page-state).
            self.not_found, self.ready, self.esim_id, self.iccid = True, False, "", ""
            self.details_url = self.status = self.esim_url = ""
            return None
        self.not_found = False
        self.esim_id = raw
        self.iccid = view.iccid
        self.ready = view.lpa is not None
        self.details_url = f"{urls.install(view.esim_id)}.json" if self.ready else ""
        self.confirmation_code_required = view.confirmation_code_required
        self.support = support_links()
        self.status = view.status
        self.esim_url = localized(urls.esim(view.esim_id))
        return None
