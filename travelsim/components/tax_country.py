"""The checkout's "country of residence" select (``state.tax_country``): evidence for the
VAT of the traveler's invoice, never a change of price (docs/business-rules.md#vat)."""

from __future__ import annotations

import reflex as rx

from travelsim.i18n import _
from travelsim.state.tax_country import TaxCountryState


def residence_country() -> rx.Component:
    """Label, select and a one-line hint; the choice is saved on the account at once."""
    return rx.vstack(
        rx.el.label(_("Country of residence"), html_for="residence-country", font_weight="500"),
        rx.select.root(
            rx.select.trigger(
                placeholder=_("Choose your country"),
                id="residence-country",
                aria_label=_("Country of residence"),
                width="100%",
            ),
            rx.select.content(
                rx.foreach(
                    TaxCountryState.options,
                    lambda c: rx.select.item(c["label"], value=c["code"]),
                )
            ),
            value=TaxCountryState.country,
            on_change=TaxCountryState.set_country,
        ),
        rx.text(
            _("For the VAT on your invoice; the price stays the same."),
            size="1",
            color=rx.color("gray", 11),
        ),
        spacing="1",
        width="100%",
        data_testid="residence-country",
    )
