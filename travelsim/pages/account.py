"""My eSIMs: each eSIM with its remaining data, the order history with receipts, and the
saved cards (each removable after a confirmation; docs/payments.md#saved-cards)."""

from __future__ import annotations

import reflex as rx

from travelsim.components.layout import page
from travelsim.components.tables import STACKED_TABLE, stacked_cell
from travelsim.i18n import _, localized
from travelsim.state.account import AccountState


def _esim_card(e: rx.Var) -> rx.Component:
    return rx.link(
        rx.card(
            rx.flex(
                rx.vstack(
                    rx.heading(e["title"], size="4"),
                    rx.text(e["destination"], size="2"),
                    rx.text("ICCID ", rx.code(e["iccid"]), size="1"),
                    spacing="1",
                ),
                rx.spacer(),
                rx.vstack(
                    rx.badge(
                        e["state_label"],
                        color_scheme=rx.match(
                            e["data_state"],
                            ("live", "green"),
                            ("used_up", "amber"),
                            ("expired", "amber"),
                            "gray",
                        ),
                        data_testid="esim-state",
                    ),
                    rx.text(e["remaining"], size="2"),
                    rx.text(e["install"], size="1", color=rx.color("gray", 11)),
                    align=rx.breakpoints(initial="start", sm="end"),
                    spacing="1",
                ),
                direction=rx.breakpoints(initial="column", sm="row"),
                spacing="2",
                width="100%",
            ),
            width="100%",
        ),
        href=e["url"],
        underline="none",
        color="inherit",
        width="100%",
        data_testid="esim-card",
    )


def _order_row(r: rx.Var) -> rx.Component:
    return rx.table.row(
        stacked_cell(_("Order"), rx.link(r["reference"], href=r["order_url"])),
        stacked_cell(_("Date"), r["date"]),
        stacked_cell(_("What"), r["kind"], " · ", r["plan"]),
        stacked_cell(_("Amount"), r["amount"]),
        stacked_cell(_("Status"), rx.badge(r["status"])),
        stacked_cell("", rx.link(_("Receipt"), href=r["receipt_url"])),
        data_testid="order-row",
    )


def _notice(n: rx.Var) -> rx.Component:
    return rx.callout(
        rx.vstack(
            rx.text(n["title"], weight="bold"),
            rx.text(n["body"], size="2"),
            rx.hstack(
                rx.text(n["date"], size="1", color=rx.color("gray", 11)),
                rx.link(_("Open the eSIM"), href=n["esim_url"], size="1"),
                rx.cond(
                    n["unread"] != "",
                    rx.button(
                        _("Mark as read"),
                        size="1",
                        variant="ghost",
                        on_click=AccountState.mark_read(n["id"]),
                    ),
                ),
                spacing="3",
                align="center",
            ),
            spacing="1",
        ),
        icon="bell",
        color_scheme=rx.cond(n["unread"] != "", "amber", "gray"),
        width="100%",
        data_testid="notice",
    )


def _card_row(c: rx.Var) -> rx.Component:
    return rx.flex(
        rx.hstack(
            rx.icon("credit-card", size=18),
            rx.text(c["label"], data_testid="saved-card-label"),
            spacing="2",
            align="center",
        ),
        rx.spacer(),
        rx.alert_dialog.root(
            rx.alert_dialog.trigger(
                rx.button(
                    _("Remove"),
                    size="1",
                    variant="soft",
                    color_scheme="red",
                    loading=AccountState.removing_card == c["id"],
                    disabled=AccountState.removing_card != "",
                    data_testid="saved-card-remove",
                )
            ),
            rx.alert_dialog.content(
                rx.alert_dialog.title(_("Remove this card?")),
                rx.alert_dialog.description(
                    rx.text.strong(c["label"]),
                    rx.el.br(),
                    _(
                        "This card will no longer be saved in your account. Your eSIMs and "
                        "orders are not affected, and you can add a card again when you pay."
                    ),
                ),
                rx.flex(
                    rx.alert_dialog.cancel(rx.button(_("Keep the card"), variant="soft")),
                    rx.alert_dialog.action(
                        rx.button(
                            _("Remove the card"),
                            color_scheme="red",
                            on_click=AccountState.remove_card(c["id"]),
                            data_testid="saved-card-remove-confirm",
                        )
                    ),
                    spacing="3",
                    justify="end",
                    margin_top="4",
                ),
            ),
        ),
        align="center",
        width="100%",
        data_testid="saved-card",
    )


def _saved_cards() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(_("Saved cards"), size="4"),
            rx.cond(
                AccountState.cards.length() > 0,
                rx.vstack(rx.foreach(AccountState.cards, _card_row), spacing="3", width="100%"),
                rx.text(
                    _(
                        "No saved card. When you pay, you can choose to keep your card for "
                        "later top-ups."
                    ),
                    size="2",
                    data_testid="saved-cards-empty",
                ),
            ),
            rx.cond(
                AccountState.cards_notice != "",
                rx.callout(
                    AccountState.cards_notice,
                    icon="check",
                    color_scheme="green",
                    size="1",
                    width="100%",
                    data_testid="saved-cards-notice",
                ),
            ),
            rx.cond(
                AccountState.cards_error != "",
                rx.callout(
                    AccountState.cards_error,
                    icon="triangle-alert",
                    color_scheme="red",
                    size="1",
                    width="100%",
                    role="alert",
                    data_testid="saved-cards-error",
                ),
            ),
            rx.text(
                _(
                    "Only the card’s brand and last four digits are kept here; the card "
                    "itself is held by our payment provider, Stripe."
                ),
                size="1",
                color=rx.color("gray", 11),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        data_testid="saved-cards",
    )


def account_page() -> rx.Component:
    return page(
        rx.vstack(
            rx.heading(_("My eSIMs"), size="7"),
            rx.cond(
                AccountState.notices.length() > 0,
                rx.vstack(rx.foreach(AccountState.notices, _notice), spacing="2", width="100%"),
            ),
            rx.cond(
                AccountState.esims.length() > 0,
                rx.vstack(rx.foreach(AccountState.esims, _esim_card), spacing="3", width="100%"),
                rx.text(
                    _("No eSIM yet."),
                    " ",
                    rx.link(_("Find a plan for your trip"), href=localized("/")),
                ),
            ),
            rx.cond(
                AccountState.rows.length() > 0,
                rx.vstack(
                    rx.heading(_("Orders"), size="5"),
                    rx.box(
                        rx.table.root(
                            rx.table.header(
                                rx.table.row(
                                    rx.table.column_header_cell(_("Order")),
                                    rx.table.column_header_cell(_("Date")),
                                    rx.table.column_header_cell(_("What")),
                                    rx.table.column_header_cell(_("Amount")),
                                    rx.table.column_header_cell(_("Status")),
                                    rx.table.column_header_cell(""),
                                )
                            ),
                            rx.table.body(rx.foreach(AccountState.rows, _order_row)),
                            size="1",
                            width="100%",
                        ),
                        width="100%",
                        style=STACKED_TABLE,
                    ),
                    width="100%",
                    padding_top="4",
                ),
            ),
            _saved_cards(),
            spacing="4",
            width="100%",
        )
    )
