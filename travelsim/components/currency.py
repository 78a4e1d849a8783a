"""The currency menu, in the header of every traveler page beside the language switcher.

The button names the traveler's currency (:class:`~travelsim.state.currency.CurrencyState`,
loaded first on every traveler page); its entries are plain links to
``/currency/{code}?next=<this page>`` for each of ``Settings.currencies``
(``travelsim.routes.currency.switch_currency``): a full page load that remembers the choice
and comes back to the same page, its prices now in that currency (docs/i18n.md#currencies).
The entries' names come from CLDR in the language the page is compiled in.
"""

from __future__ import annotations

import reflex as rx

from travelsim.i18n import _
from travelsim.settings import get_settings
from travelsim.state.currency import CurrencyState, currency_name


def _choice(code: str) -> rx.Component:
    here = CurrencyState.code == code
    return rx.el.a(
        rx.el.span(code, style={"fontFamily": "monospace", "marginRight": "0.5em"}),
        rx.el.span(currency_name(code)),
        href=f"/currency/{code}?next={CurrencyState.here}",
        aria_current=rx.cond(here, "true", "false"),
        # A full page load of the switch route (as the language switcher's links).
        custom_attrs={"reloadDocument": True},
        style={
            "fontWeight": rx.cond(here, "600", "400"),
            "color": "inherit",
            "textDecoration": rx.cond(here, "none", "underline"),
            "width": "100%",
        },
        data_testid=f"currency-menu-{code}",
    )


def currency_menu(*, compact: bool = False) -> rx.Component:
    """The header's currency menu: a button naming the current currency (its label says
    "Currency: US Dollar" to screen readers), opening the list of offered currencies;
    ``compact`` (the phone header) leaves out its icon."""
    return rx.menu.root(
        rx.menu.trigger(
            rx.button(
                *([] if compact else [rx.icon("coins", size=16)]),
                rx.text(CurrencyState.code, size="2"),
                variant="ghost",
                color_scheme="gray",
                high_contrast=True,
                size="2",
                aria_label=rx.cond(CurrencyState.label != "", CurrencyState.label, _("Currency")),
                data_testid="currency-menu",
            )
        ),
        rx.menu.content(*[rx.menu.item(_choice(code)) for code in get_settings().currencies]),
    )
