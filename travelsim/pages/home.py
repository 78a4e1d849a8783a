"""Home page: find a plan by destination, compare offers, choose one."""

from __future__ import annotations

import reflex as rx

from travelsim.components.layout import page
from travelsim.i18n import _
from travelsim.state.catalogue import SORTS, CatalogueState


def _country_button(c: rx.Var) -> rx.Component:
    return rx.button(
        rx.text(c["flag"], size="4"),
        rx.text(c["name"]),
        rx.badge(c["code"], variant="soft", color_scheme="gray"),
        on_click=CatalogueState.choose_destination(c["code"]),
        variant="surface",
        size="3",
        aria_label=c["name"],
        data_testid="destination-option",
    )


def search_box() -> rx.Component:
    return rx.vstack(
        rx.el.label(_("Where are you going?"), html_for="destination", font_weight="600"),
        rx.input(
            rx.input.slot(rx.icon("search")),
            id="destination",
            placeholder=_("Type a country, e.g. Japan, Spain, USA"),
            value=CatalogueState.query,
            on_change=CatalogueState.set_query,
            size="3",
            width="100%",
            max_width="36em",
            auto_complete="off",
        ),
        rx.cond(
            CatalogueState.query != "",
            rx.cond(
                CatalogueState.matches.length() > 0,
                rx.flex(
                    rx.foreach(CatalogueState.matches, _country_button), wrap="wrap", spacing="2"
                ),
                rx.callout(
                    _(
                        "We have no plan for that destination yet. Try a neighbouring country "
                        "or a regional plan (Europe, Asia, Latin America, Global)."
                    ),
                    icon="info",
                    color_scheme="amber",
                ),
            ),
            rx.cond(
                CatalogueState.selected_code == "",
                rx.vstack(
                    rx.text(_("Popular destinations"), size="2", color=rx.color("gray", 11)),
                    rx.flex(
                        rx.foreach(CatalogueState.popular, _country_button),
                        wrap="wrap",
                        spacing="2",
                    ),
                    spacing="2",
                ),
            ),
        ),
        spacing="3",
        width="100%",
    )


def _fact(icon: str, label: str, value: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.icon(icon, size=16, color=rx.color("gray", 10)),
        rx.text(label, size="2", color=rx.color("gray", 11)),
        rx.text(value, size="2", weight="medium"),
        spacing="2",
        align="center",
    )


def offer_card(o: rx.Var) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.badge(o["kind"], variant="soft"),
                rx.spacer(),
                rx.text(o["per_gb"], size="1", color=rx.color("gray", 11)),
                width="100%",
            ),
            rx.heading(o["title"], size="4"),
            rx.hstack(
                rx.heading(o["volume"], size="7"),
                rx.text(_("for"), color=rx.color("gray", 11)),
                rx.heading(o["validity"], size="5"),
                align="baseline",
                spacing="2",
                wrap="wrap",
            ),
            _fact("clock", _("Validity starts at"), o["starts_on"]),
            _fact("globe", _("Covers"), o["coverage"]),
            rx.hstack(
                rx.heading(o["price"], size="6", data_testid="offer-price"),
                rx.spacer(),
                rx.button(
                    _("Choose"),
                    rx.icon("arrow-right", size=16),
                    on_click=CatalogueState.choose_plan(o["plan_id"]),
                    size="3",
                ),
                width="100%",
                align="center",
                margin_top="auto",  # price and button line up along a row of cards
            ),
            rx.cond(
                o["price_note"] != "",
                rx.text(
                    o["price_note"],
                    size="1",
                    color=rx.color("gray", 11),
                    data_testid="offer-price-note",
                ),
            ),
            spacing="3",
            height="100%",
        ),
        height="100%",
        data_testid="offer",
        data_plan_id=o["plan_id"],
    )


def offers_section() -> rx.Component:
    return rx.cond(
        CatalogueState.selected_code != "",
        rx.vstack(
            rx.flex(
                rx.heading(
                    CatalogueState.selected_flag,
                    " ",
                    CatalogueState.plans_heading,
                    size="6",
                ),
                rx.spacer(),
                rx.hstack(
                    rx.text(_("Sort"), size="2"),
                    rx.select.root(
                        rx.select.trigger(aria_label=_("Sort offers")),
                        rx.select.content(
                            *[rx.select.item(_(label), value=key) for key, label in SORTS.items()]
                        ),
                        value=CatalogueState.sort_key,
                        on_change=CatalogueState.set_sort,
                    ),
                    rx.button(
                        _("Change destination"),
                        variant="ghost",
                        on_click=CatalogueState.clear_destination,
                    ),
                    align="center",
                    wrap="wrap",  # longer labels (German, French) wrap on a phone
                ),
                direction=rx.breakpoints(initial="column", sm="row"),
                spacing="3",
                width="100%",
            ),
            rx.grid(
                rx.foreach(CatalogueState.offers, offer_card),
                columns=rx.breakpoints(initial="1", sm="2", lg="3"),
                spacing="4",
                width="100%",
            ),
            spacing="4",
            width="100%",
            padding_top="4",
        ),
    )


def home() -> rx.Component:
    return page(
        rx.vstack(
            rx.heading(_("Data abroad, without roaming bills"), size="8"),
            rx.text(
                _(
                    "Buy an eSIM with a data plan for your destination, install it from a QR "
                    "code or with one tap, and watch your remaining data live."
                ),
                size="4",
                color=rx.color("gray", 11),
            ),
            rx.cond(
                CatalogueState.error != "",
                rx.callout(CatalogueState.error, icon="triangle-alert", color_scheme="red"),
            ),
            search_box(),
            offers_section(),
            spacing="4",
            padding_y="4",
            width="100%",
        )
    )
