"""``/admin/tax``: the VAT rate of each EU member state (docs/business-rules.md#vat-rates)
and the form that changes one."""

from __future__ import annotations

from typing import Any

import reflex as rx

from travelsim.components.admin_widgets import card, choice, field
from travelsim.pages.admin.layout import admin_page
from travelsim.state.admin.tax import MEMBER_CODES, AdminTaxState


def _row(r: Any) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(r["country"])),
        rx.table.cell(r["name"], rx.cond(r["home"] == "yes", " (home)", "")),
        rx.table.cell(r["rate"], " %", white_space="nowrap", data_testid="rate"),
        rx.table.cell(r["shipped"], " %", white_space="nowrap"),
        rx.table.cell(r["edited"]),
        rx.table.cell(r["by"]),
        data_testid="rate-row",
        data_country=r["country"],
    )


def _rates() -> rx.Component:
    return rx.box(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[
                        rx.table.column_header_cell(h)
                        for h in ("Code", "Country", "Rate", "Shipped", "Edited (UTC)", "By")
                    ]
                )
            ),
            rx.table.body(rx.foreach(AdminTaxState.rows, _row)),
            size="1",
        ),
        overflow_x="auto",
        width="100%",
        data_testid="rates-table",
    )


def _form() -> rx.Component:
    return card(
        "Change a rate",
        rx.text(
            "The standard rate, in percent (e.g. 21 or 25.5). It applies to orders paid from "
            "now on; orders keep the rate they were paid with. Every change is in the audit log.",
            size="2",
            color=rx.color("gray", 11),
        ),
        rx.form(
            rx.flex(
                choice("Country", "country", MEMBER_CODES, AdminTaxState.home),
                field("Rate (%)", "rate", "", max_length=6, input_mode="decimal"),
                rx.button("Save rate", type="submit", size="2", align_self="end"),
                wrap="wrap",
                spacing="3",
                align="end",
                width="100%",
            ),
            on_submit=AdminTaxState.save,
            reset_on_submit=False,
            width="100%",
            data_testid="rate-form",
        ),
    )


def tax_page() -> rx.Component:
    """``/admin/tax``: the seller's home country, where the shipped rates come from, the
    change form and the rates table."""
    s = AdminTaxState
    return admin_page(
        "VAT rates",
        rx.text(
            "VAT is charged at the customer's country's rate when the card's country and the "
            "stated country agree, else at the home country's (",
            rx.code(s.home),
            "). Shipped rates compiled ",
            s.compiled,
            " from ",
            rx.link(s.source, href=s.source, is_external=True),
            ".",
            size="2",
        ),
        _form(),
        _rates(),
    )
