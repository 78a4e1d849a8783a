"""Catalogue state: destination search and the offers for the chosen destination, priced in
the traveler's currency (``state.currency.traveler_currency``, docs/i18n.md#currencies)."""

from __future__ import annotations

import reflex as rx
from reflex.event import EventSpec

from travelsim import db, urls
from travelsim.i18n import N_, _, localized
from travelsim.models import Plan
from travelsim.services import catalogue, countries, plan_texts
from travelsim.state.currency import traveler_currency
from travelsim.state.validation import ValidatedEvents

POPULAR = ["FR", "ES", "IT", "US", "JP", "TH", "GB"]
#: Sort key (``catalogue.sort_offers``) → its label (English, shown translated).
SORTS = {
    "value": N_("Best value"),
    "price": N_("Lowest price"),
    "volume": N_("Most data"),
    "days": N_("Longest"),
}


class CatalogueState(ValidatedEvents, rx.State):
    """Per-tab view of the catalogue; the database stays the source of truth."""

    query: str = ""
    matches: list[dict[str, str]] = []
    popular: list[dict[str, str]] = []
    selected_code: str = ""
    selected_name: str = ""
    selected_flag: str = ""
    offers: list[dict[str, str]] = []
    #: "Plans for France", in the page's language.
    plans_heading: str = ""
    sort_key: str = "value"
    loaded: bool = False
    error: str = ""
    _covered: list[str] = []
    #: Backend only: the currency the offers are priced in, and the plans' prices in other
    #: currencies (``catalogue.plan_prices``), read on each load.
    _currency: str = ""
    _prices: dict[str, dict[str, int]] = {}

    @rx.event
    async def load(self) -> None:
        """Load which destinations are sellable (on page load) and show the destination of
        the URL (``/?to=JP``, ISO alpha-2, any case; unknown or unsold codes are ignored).

        Runs on every navigation of the page, so Back/Forward and shared links show the
        destination their URL names."""
        try:
            async with db.session() as s:
                plans = await catalogue.sellable_plans(s)
                texts = await plan_texts.texts_for(s, (p.plan_id for p in plans))
                self._prices = await catalogue.plan_prices(s)
            self._currency = await traveler_currency(self, look_up=True)
        except Exception:
            self.error = _("The catalogue is unavailable right now. Please try again shortly.")
            return
        self._covered = sorted(catalogue.covered_countries(plans))
        self.popular = [_country_view(c) for c in POPULAR if c in self._covered]
        self.error = ""
        self.loaded = True
        wanted = self.router.url.query_parameters.get("to", "").strip().upper()
        if wanted in self._covered:
            self._select(wanted)
            self.query = ""
            self.matches = []
            self.offers = [_offer_view(o) for o in self._sorted_offers(plans, texts)]
        else:
            self.selected_code, self.selected_name, self.selected_flag = "", "", ""
            self.offers = []
        if self.query:
            self._search()

    @rx.event
    def set_query(self, value: str) -> None:
        self.query = value[:80]
        self._search()

    def _search(self) -> None:
        found = countries.search(self.query, within=set(self._covered))
        self.matches = [_country_view(c.code) for c in found]

    @rx.event
    async def choose_destination(self, code: str) -> EventSpec | None:
        """Show the offers for ISO alpha-2 ``code`` (ignored unless it is sellable) and put it
        in the URL (``/?to=<code>``, a new history entry: Back returns to the previous
        choice; the link can be shared)."""
        code = code.upper()
        if code not in self._covered:
            return None
        self._select(code)
        self.query = ""
        self.matches = []
        await self._load_offers()
        return rx.redirect(localized(f"/?to={code}"))

    def _select(self, code: str) -> None:
        c = countries.country(code)
        self.selected_code, self.selected_name, self.selected_flag = c.code, c.name, c.flag
        self.plans_heading = _("Plans for {country}").format(country=c.name)

    @rx.event
    async def set_sort(self, key: str) -> None:
        if key in SORTS:
            self.sort_key = key
            await self._load_offers()

    @rx.event
    def clear_destination(self) -> EventSpec:
        self.selected_code = ""
        self.offers = []
        return rx.redirect(localized("/"))

    async def _load_offers(self) -> None:
        async with db.session() as s:
            plans = await catalogue.sellable_plans(s)
            texts = await plan_texts.texts_for(s, (p.plan_id for p in plans))
            self._prices = await catalogue.plan_prices(s)
        self.offers = [_offer_view(o) for o in self._sorted_offers(plans, texts)]

    def _sorted_offers(self, plans: list[Plan], texts: plan_texts.Texts) -> list[catalogue.Offer]:
        offers = catalogue.offers_for_country(
            plans, self.selected_code, self._currency or None, self._prices, texts=texts
        )
        return catalogue.sort_offers(offers, self.sort_key)

    @rx.event
    def choose_plan(self, plan_id: str) -> EventSpec | None:
        if any(o["plan_id"] == plan_id for o in self.offers):
            return rx.redirect(localized(urls.buy(plan_id, to=self.selected_code)))
        return None


def _country_view(code: str) -> dict[str, str]:
    c = countries.country(code)
    return {"code": c.code, "name": c.name, "flag": c.flag}


def _offer_view(o: catalogue.Offer) -> dict[str, str]:
    from travelsim.formatting import format_money

    per_gb = round(o.price_minor * (1024**3) / o.volume_bytes)
    return {
        "plan_id": o.plan_id,
        "title": o.title,
        "volume": o.volume,
        "validity": o.validity,
        "price": o.price,
        "price_note": o.price_note,
        "per_gb": _("{price} per GB").format(price=format_money(per_gb, o.currency)),
        "starts_on": o.starts_on,
        "coverage": o.coverage,
        "kind": o.region or _("Single country"),
    }
