"""What travelers see of a plan's network facts (docs/esim.md#network-facts): at checkout the
partner networks of each destination, the hotspot rule and, for a plan that starts in any
covered country, when it starts; on the install page that start warning and the APN.

The facts come from ``services.network_facts``; the texts here are in the page's language,
countries by their localized names (``services.countries``)."""

from __future__ import annotations

from typing import Any

import reflex as rx
from babel.lists import format_list

from travelsim import db, i18n
from travelsim.i18n import _
from travelsim.models import Plan
from travelsim.services import countries, network_facts
from travelsim.services.network_facts import NetworkFacts
from travelsim.state.session import SessionState, _uid


def start_warning(facts: NetworkFacts, destinations: list[str]) -> str:
    """The start warning of a plan that starts in any covered country, with the countries by
    name in the active language; "" for any other plan (or one country only)."""
    if not facts.starts_anywhere or len(destinations) < 2:
        return ""
    names = sorted(countries.country(c).name for c in destinations)
    sentence = _(
        "Your plan starts when your phone first connects in any of these countries. Turn data "
        "roaming on only when you arrive."
    )
    listed = _("Countries: {names}.").format(names=format_list(names, locale=i18n.current()))
    return f"{sentence} {listed}"


def network_rows(facts: NetworkFacts) -> list[dict[str, str]]:
    """Per country the seller listed networks for: ``code``, ``label`` ("🇫🇷 France") and
    ``networks`` ("Orange 5G · SFR 4G")."""
    return [
        {
            "code": code,
            "label": countries.label(code),
            "networks": " · ".join(f"{n.name} {n.generation}" for n in nets),
        }
        for code, nets in sorted(facts.networks.items())
    ]


class CheckoutNetworkState(SessionState):
    """The network facts of the checkout's plan (``/buy/<plan>``)."""

    rows: list[dict[str, str]] = []
    hotspot: bool = True
    start_warning: str = ""

    @rx.event
    async def load(self) -> None:
        self.rows, self.start_warning, self.hotspot = [], "", True
        if await self._require_user() is None:
            return
        plan_id = self.router.url.path.rstrip("/").rsplit("/", 1)[-1]
        async with db.session() as s:
            plan = await s.get(Plan, plan_id)
        if plan is None or not plan.sellable:
            return
        facts = network_facts.facts_of(plan)
        self.rows = network_rows(facts)
        self.hotspot = facts.hotspot
        self.start_warning = start_warning(facts, plan.destinations)


class InstallNetworkState(SessionState):
    """The install page's start warning and APN (``/esims/<id>/install``), for the owner."""

    start_warning: str = ""
    #: The APN to set by hand ("" when the phone sets it automatically).
    apn: str = ""
    known: bool = False

    @rx.event
    async def load(self) -> Any:
        self.start_warning, self.apn, self.known = "", "", False
        user = await self._require_user()
        if user is None:
            return None
        raw = self.router.url.path.rstrip("/").rsplit("/", 2)[-2]
        if not raw.isdigit():
            return None
        async with db.session() as s:
            facts = await network_facts.facts_for_esim(s, user_id=_uid(user), esim_id=int(raw))
            plan = await s.get(Plan, facts.plan_id) if facts is not None else None
        if facts is None or plan is None:
            return None
        self.known = True
        self.apn = facts.apn or ""
        self.start_warning = start_warning(facts, plan.destinations)
        return None
