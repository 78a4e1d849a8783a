"""The seller's legal pages (``/terms``, ``/privacy``, ``/imprint``, ``/cookies``, each in every
language): the Markdown file of the page's language, or English (``services.content``),
read on every page load so an edit shows without a restart (docs/legal.md#content-pages)."""

from __future__ import annotations

import logging

import reflex as rx

from travelsim.i18n import N_, _
from travelsim.services import content
from travelsim.state.language import page_locale
from travelsim.state.session import SessionState

log = logging.getLogger(__name__)

#: Each page's heading when its file has no ``title`` (English msgids).
DEFAULT_TITLES = {
    "terms": N_("Terms and conditions"),
    "privacy": N_("Privacy notice"),
    "imprint": N_("Legal notice"),
    "cookies": N_("Cookies"),
}


class ContentState(SessionState):
    """One legal page as shown: its title, version, the HTML rendered from its Markdown."""

    name: str = ""
    title: str = ""
    version: str = ""
    #: "Version: …" in the page's language.
    version_label: str = ""
    html: str = ""
    #: The page's language has no file of its own: the English one is shown.
    in_english: bool = False
    #: The file could not be read (the page says so; the log has the reason).
    unavailable: bool = False

    @rx.event
    async def load(self) -> None:
        await self._require_user()  # the header's signed-in view
        name = self.router.url.path.rstrip("/").rsplit("/", 1)[-1]
        self.name = name if name in content.PAGES else ""
        self.unavailable, self.in_english = False, False
        locale = page_locale(self)
        try:
            shown = content.load_page(self.name, locale)
        except content.ContentError:
            log.exception("legal page unavailable", extra={"page": name})
            self.unavailable, self.html, self.version, self.version_label = True, "", "", ""
            self.title = _(DEFAULT_TITLES.get(self.name, N_("Page not found")))
            return
        self.title = shown.title or _(DEFAULT_TITLES[self.name])
        self.version = shown.version
        self.version_label = _("Version: {version}").format(version=shown.version)
        self.html = shown.html
        self.in_english = shown.locale != locale
