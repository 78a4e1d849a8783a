"""``/admin/catalogue``: the plans and the editor of one plan's seller fields."""

from __future__ import annotations

from typing import Any

import reflex as rx
from babel import Locale

from travelsim.components.admin_widgets import badge, card, field, filters, table
from travelsim.pages.admin.layout import admin_page
from travelsim.services.admin.catalogue import text_key
from travelsim.services.plan_texts import TEXT_FIELDS, TEXT_LOCALES
from travelsim.settings import get_settings
from travelsim.state.admin.catalogue import AdminCatalogueState


def _plan_row(r: Any) -> rx.Component:
    s = AdminCatalogueState
    return rx.table.row(
        rx.table.cell(r["plan_id"]),
        rx.table.cell(r["sft_name"]),
        rx.table.cell(r["display_name"]),
        rx.table.cell(r["volume"], " · ", r["validity"]),
        rx.table.cell(r["prices_text"], data_testid="plan-prices"),
        rx.table.cell(rx.text(r["destinations"], size="1")),
        rx.table.cell(badge(r["on_sale"])),
        rx.table.cell(r["platform"]),
        rx.table.cell(
            rx.button("Edit", size="1", variant="soft", on_click=s.start_edit(r["plan_id"]))
        ),
        data_testid="plan-row",
        data_plan_id=r["plan_id"],
    )


def _plan_editor() -> rx.Component:
    s = AdminCatalogueState
    return card(
        "Edit plan",
        rx.text(s.editing, " · ", s.edit["sft_name"], size="2"),
        rx.form(
            rx.vstack(
                rx.flex(
                    field("Display name", "display_name", s.edit["display_name"]),
                    field("Price (e.g. 4.50; empty = none)", "price", s.edit["price"]),
                    field("Currency", "currency", s.edit["currency"], max_length=3),
                    wrap="wrap",
                    spacing="3",
                    width="100%",
                ),
                _extra_prices(),
                field(
                    "Destinations (ISO codes, space separated)",
                    "destinations",
                    s.edit["destinations"],
                ),
                _text_fields(),
                _network_fields(),
                _checkbox("on_sale", "On sale", s.edit_on_sale),
                rx.hstack(
                    rx.button("Save", type="submit"),
                    rx.button("Cancel", type="button", variant="soft", on_click=s.cancel_edit),
                ),
                width="100%",
            ),
            on_submit=s.save,
            reset_on_submit=False,
            width="100%",
            key=s.editing,
        ),
        data_testid="plan-editor",
    )


def _checkbox(name: str, label: str, checked: Any) -> rx.Component:
    return rx.hstack(
        rx.checkbox(name=name, default_checked=checked, id=f"f-{name}"),
        rx.text(label, as_="label", html_for=f"f-{name}", size="2"),
        align="center",
    )


def _network_fields() -> rx.Component:
    """The plan's network facts (docs/esim.md#network-facts): partner networks per country,
    the APN to set by hand, hotspot, starts in any covered country."""
    s = AdminCatalogueState
    return rx.vstack(
        rx.text("Network facts (shown at checkout and on the install page)", size="2"),
        rx.vstack(
            rx.el.label(
                "Partner networks (e.g. FR: Orange 5G, SFR 4G; ES: Movistar 5G)",
                html_for="f-networks",
                font_size="12px",
                font_weight="500",
            ),
            rx.text_area(
                id="f-networks",
                name="networks",
                default_value=s.edit["networks"],
                rows="3",
                width="100%",
                max_length=5000,
            ),
            spacing="1",
            width="100%",
        ),
        rx.flex(
            field("APN to set by hand (empty = automatic)", "apn", s.edit["apn"], max_length=100),
            wrap="wrap",
            spacing="3",
            width="100%",
        ),
        _checkbox("hotspot", "Hotspot (tethering) allowed", s.edit_hotspot),
        _checkbox(
            "starts_anywhere",
            "Starts when the phone first connects in any covered country",
            s.edit_starts_anywhere,
        ),
        spacing="2",
        width="100%",
        data_testid="plan-network",
    )


def _text_fields() -> rx.Component:
    """The plan's display name and description in each language but English
    (docs/i18n.md#plan-texts); an empty field shows the English text to travelers."""
    s = AdminCatalogueState
    rows = []
    for code in TEXT_LOCALES:
        language = Locale.parse(code).get_display_name("en")
        rows.append(
            rx.flex(
                field(
                    f"Name in {language}",
                    text_key(code, "display_name"),
                    s.edit[text_key(code, "display_name")],
                    max_length=TEXT_FIELDS["display_name"],
                ),
                field(
                    f"Description in {language}",
                    text_key(code, "description"),
                    s.edit[text_key(code, "description")],
                    max_length=TEXT_FIELDS["description"],
                ),
                wrap="wrap",
                spacing="3",
                width="100%",
            )
        )
    return rx.vstack(
        rx.text("Texts in other languages (empty = the English text is shown)", size="2"),
        *rows,
        spacing="2",
        width="100%",
        data_testid="plan-texts",
    )


def _extra_prices() -> rx.Component:
    """A price field per offered currency other than the plan's base one (seller-set, never
    converted: docs/i18n.md#currencies; empty = none, travelers then see the base price)."""
    s = AdminCatalogueState
    fields = [
        rx.cond(
            s.edit["currency"] != cur,
            field(
                f"Price in {cur} (empty = none)",
                f"price_{cur}",
                s.edit.get(f"price_{cur}", ""),
                max_length=20,
            ),
        )
        for cur in get_settings().currencies
    ]
    return rx.flex(*fields, wrap="wrap", spacing="3", width="100%")


def _skipped() -> rx.Component:
    """The platform plans the last catalogue sync could not sell, with the reason."""
    s = AdminCatalogueState
    return card(
        "Skipped by the last sync",
        rx.text("Sync of ", s.synced_at, size="1"),
        rx.foreach(
            s.skipped,
            lambda r: rx.text(
                rx.text.strong(r["plan_id"]), ": ", r["reason"], size="2", data_testid="skip-row"
            ),
        ),
        data_testid="catalogue-skipped",
    )


def catalogue_page() -> rx.Component:
    """``/admin/catalogue``: filter, the plan editor when open, the plans the last sync
    skipped (when any), the plans table."""
    s = AdminCatalogueState
    return admin_page(
        "Catalogue",
        filters(s.search, field("Plan id or name", "query", s.f_query)),
        rx.cond(s.editing != "", _plan_editor()),
        rx.cond(s.skipped.length() > 0, _skipped()),
        table(
            s,
            [
                ("Plan", "plan_id"),
                ("Platform name", "name"),
                ("Display name", None),
                ("Volume", None),
                ("Price", "price"),
                ("Destinations", None),
                ("On sale", "on_sale"),
                ("Platform", None),
                ("", None),
            ],
            _plan_row,
            "plans-table",
        ),
    )
