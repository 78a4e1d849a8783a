"""A plan's network facts as travelers see them (``state/network_facts.py``,
docs/esim.md#network-facts): the checkout's card (networks of the chosen destination, hotspot,
when the plan starts) and the install page's card (when it starts, the APN)."""

from __future__ import annotations

import reflex as rx

from travelsim.i18n import _
from travelsim.state.buy import BuyState
from travelsim.state.network_facts import CheckoutNetworkState, InstallNetworkState


def _start_warning(text: rx.Var[str]) -> rx.Component:
    return rx.cond(
        text != "",
        rx.callout(
            text, icon="plane-landing", color_scheme="blue", size="1", data_testid="start-warning"
        ),
    )


def checkout_networks() -> rx.Component:
    """The checkout's network card: the partner networks of the chosen destination (all
    destinations' rows are rendered, the chosen one shown), the hotspot rule, the start
    warning."""
    s = CheckoutNetworkState
    return rx.card(
        rx.vstack(
            rx.text(_("Networks"), weight="bold", size="3"),
            rx.cond(
                BuyState.destination == "",
                rx.text(_("Choose your destination to see its networks."), size="2"),
            ),
            rx.foreach(
                s.rows,
                lambda r: rx.cond(
                    r["code"] == BuyState.destination,
                    rx.text(
                        rx.text.strong(r["label"], ": "),
                        r["networks"],
                        size="2",
                        data_testid="destination-networks",
                    ),
                ),
            ),
            rx.text(
                rx.cond(
                    s.hotspot,
                    _("Hotspot (sharing data with other devices): allowed."),
                    _("Hotspot (sharing data with other devices): not allowed."),
                ),
                size="2",
                data_testid="hotspot",
            ),
            _start_warning(s.start_warning),
            spacing="2",
            width="100%",
        ),
        width="100%",
        data_testid="network-facts",
    )


def install_network() -> rx.Component:
    """The install page's start warning and APN card (manual set-up)."""
    s = InstallNetworkState
    return rx.cond(
        s.known,
        rx.card(
            rx.vstack(
                _start_warning(s.start_warning),
                rx.heading(_("Mobile data settings (APN)"), as_="h2", size="4"),
                rx.cond(
                    s.apn != "",
                    rx.vstack(
                        rx.text(_("Set this APN by hand if mobile data does not work:"), size="2"),
                        rx.code(s.apn, size="4", data_testid="apn"),
                        rx.text(
                            rx.text.strong("iPhone: "),
                            _(
                                "Settings › Mobile Data › (this eSIM) › Mobile Data Network: "
                                "type it under Mobile Data › APN."
                            ),
                            size="2",
                        ),
                        rx.text(
                            rx.text.strong("Android: "),
                            _(
                                "Settings › Network & internet › SIMs › (this eSIM) › Access "
                                "Point Names › +: any name, this APN, then save and select it."
                            ),
                            size="2",
                        ),
                        spacing="2",
                    ),
                    rx.text(
                        _("APN: set automatically, nothing to enter."),
                        size="2",
                        data_testid="apn-automatic",
                    ),
                ),
                spacing="2",
                width="100%",
            ),
            width="100%",
            data_testid="install-network",
        ),
    )
