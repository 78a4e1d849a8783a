"""Installation page state: the owner's activation data, never anyone else's."""

from __future__ import annotations

from typing import Any

import reflex as rx

from travelsim import db, urls
from travelsim.esim import install_links
from travelsim.services import installation
from travelsim.state.esim import support_links
from travelsim.state.session import SessionState


class InstallState(SessionState):
    esim_id: str = ""
    not_found: bool = False
    ready: bool = False
    iccid: str = ""
    smdp_address: str = ""
    matching_id: str = ""
    lpa: str = ""
    ios_link: str = ""
    android_link: str = ""
    confirmation_code_required: bool = False
    #: :data:`installation.InstallStatus` (``ready``, ``downloaded``, ``installed``, ...).
    status: str = ""
    #: The eSIM's own page (where a replacement can be requested).
    esim_url: str = ""
    platform: str = "other"
    mobile: bool = False
    in_app_browser: str = ""
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
        view = None
        if raw.isdigit():
            async with db.session() as s:
                view = await installation.install_view(s, user=user, esim_id=int(raw))
        if view is None:
            self.not_found = True
            self.ready = False
            return None
        self.not_found = False
        self.esim_id = raw
        self.iccid = view.iccid
        self.ready = view.lpa is not None
        self.smdp_address = view.smdp_address or ""
        self.matching_id = view.matching_id or ""
        self.lpa = view.lpa or ""
        self.ios_link = view.ios_link or ""
        self.android_link = view.android_link or ""
        self.confirmation_code_required = view.confirmation_code_required
        self.support = support_links()
        self.status = view.status
        self.esim_url = urls.esim(view.esim_id)
        return None
