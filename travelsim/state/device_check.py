"""The checkout's device check: does the traveler's phone take an eSIM?
(docs/esim.md#device-compatibility)

The traveler searches the device list (``services.devices``, on the server) or picks an
iPhone model; the answer is "supported", "supported, with a caveat" or "not in our list". On
Android Chrome the model is suggested from the browser: User-Agent Client Hints
(``navigator.userAgentData.getHighEntropyValues(["model"])``, which answers e.g. ``"Pixel
8"`` or ``"SM-S921B"``; https://developer.mozilla.org/docs/Web/API/NavigatorUAData/getHighEntropyValues).
An iPhone cannot be told apart from another iPhone (its browsers report no model), so the
page asks which one. The check only informs: buying is allowed after its warning, whatever
it says, and what was checked stays in the page (nothing is stored).
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from travelsim.i18n import _
from travelsim.services import devices
from travelsim.state.session import SessionState

#: The model the browser reports through User-Agent Client Hints ("" when it reports none:
#: every browser but Chromium's, and desktops, whose model is "").
ASK_MODEL = """(async () => {
  const d = navigator.userAgentData;
  if (!d || !d.getHighEntropyValues) return "";
  try { const v = await d.getHighEntropyValues(["model"]); return (v.model || "").slice(0, 80); }
  catch (e) { return ""; }
})()"""
QUERY_MAX = 80


def _verdict_word(verdict: str) -> str:
    return {
        "supported": _("supported"),
        "caveat": _("supported, with a caveat"),
    }.get(verdict, "")


class DeviceCheckState(SessionState):
    """The device check of the checkout page (no identity needed to search the public list,
    but like every handler each one resolves the signed-in traveler first)."""

    query: str = ""
    #: "" (not checked yet), ``supported``, ``caveat`` or ``unknown``.
    verdict: str = ""
    #: "Google Pixel 8 — supported" (empty when not checked or unknown).
    headline: str = ""
    caveat: str = ""
    #: The warning of a model not in the list ("" otherwise).
    unknown_text: str = ""
    #: The manufacturer's page the list entry comes from.
    source: str = ""
    #: Close matches to pick from: ``name``.
    candidates: list[dict[str, str]] = []
    #: The model the browser reported ("" when none).
    suggested: str = ""
    #: The browser is an iPhone's: the page asks which model.
    iphone: bool = False
    iphone_models: list[str] = []

    @rx.event
    async def load(self) -> Any:
        """Reset the check; ask the browser for its model (Chromium on Android answers)."""
        self.query = self.verdict = self.headline = self.caveat = self.source = ""
        self.unknown_text = ""
        self.suggested, self.candidates = "", []
        if await self._require_user() is None:
            return None
        ua = self.router.headers.user_agent or ""
        self.iphone = "iPhone" in ua
        self.iphone_models = [
            d.model for d in devices.device_list() if d.brand == "Apple" and d.kind == "phone"
        ]
        if self.iphone:
            return None
        return rx.call_script(ASK_MODEL, callback=DeviceCheckState.suggest_model)

    @rx.event
    async def suggest_model(self, model: Any) -> None:
        """The browser's model (a text, else ignored) checked as if typed."""
        if await self._require_user() is None or not isinstance(model, str):
            return
        model = model.strip()[:QUERY_MAX]
        if model:
            self.suggested = model
            self._check(model)

    @rx.event
    async def set_query(self, value: str) -> None:
        """The search box: checked on every (debounced) change."""
        if await self._require_user() is None:
            return
        self._check(value[:QUERY_MAX])

    @rx.event
    async def pick(self, name: str) -> None:
        """One of the candidates (or an iPhone model) chosen."""
        if await self._require_user() is None:
            return
        self._check(name[:QUERY_MAX])

    def _check(self, query: str) -> None:
        self.query = query
        if not query.strip():
            self.verdict = self.headline = self.caveat = self.source = self.unknown_text = ""
            self.candidates = []
            return
        match = devices.check(query)
        self.verdict = match.verdict
        self.candidates = [{"name": d.name} for d in match.candidates]
        device = match.device
        self.unknown_text = (
            _(
                "“{model}” is not in our list. It may still take an eSIM: check it below "
                "before you buy. You can still buy."
            ).format(model=query.strip())
            if device is None
            else ""
        )
        if device is None:
            self.headline = self.caveat = self.source = ""
            return
        self.headline = f"{device.name} — {_verdict_word(match.verdict)}"
        # The shipped caveats are in the catalogs; a seller's own one shows as written.
        self.caveat = _(device.caveat) if device.caveat else ""
        self.source = device.source
