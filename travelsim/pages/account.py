"""My eSIMs: each eSIM with its remaining data, and the order history with receipts."""

from __future__ import annotations

import reflex as rx

from travelsim.components.layout import page
from travelsim.components.tables import STACKED_TABLE, stacked_cell
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
        stacked_cell("Order", rx.link(r["reference"], href=r["order_url"])),
        stacked_cell("Date", r["date"]),
        stacked_cell("What", r["kind"], " · ", r["plan"]),
        stacked_cell("Amount", r["amount"]),
        stacked_cell("Status", rx.badge(r["status"])),
        stacked_cell("", rx.link("Receipt", href=r["receipt_url"])),
        data_testid="order-row",
    )


def _notice(n: rx.Var) -> rx.Component:
    return rx.callout(
        rx.vstack(
            rx.text(n["title"], weight="bold"),
            rx.text(n["body"], size="2"),
            rx.hstack(
                rx.text(n["date"], size="1", color=rx.color("gray", 11)),
                rx.link("Open the eSIM", href=n["esim_url"], size="1"),
                rx.cond(
                    n["unread"] != "",
                    rx.button(
                        "Mark as read",
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


def account_page() -> rx.Component:
    return page(
        rx.vstack(
            rx.heading("My eSIMs", size="7"),
            rx.cond(
                AccountState.notices.length() > 0,
                rx.vstack(rx.foreach(AccountState.notices, _notice), spacing="2", width="100%"),
            ),
            rx.cond(
                AccountState.esims.length() > 0,
                rx.vstack(rx.foreach(AccountState.esims, _esim_card), spacing="3", width="100%"),
                rx.text("No eSIM yet. ", rx.link("Find a plan for your trip", href="/")),
            ),
            rx.cond(
                AccountState.rows.length() > 0,
                rx.vstack(
                    rx.heading("Orders", size="5"),
                    rx.box(
                        rx.table.root(
                            rx.table.header(
                                rx.table.row(
                                    rx.table.column_header_cell("Order"),
                                    rx.table.column_header_cell("Date"),
                                    rx.table.column_header_cell("What"),
                                    rx.table.column_header_cell("Amount"),
                                    rx.table.column_header_cell("Status"),
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
            spacing="4",
            width="100%",
        )
    )
