"""Account page: every order with its eSIM, so the QR is always one click away."""

from __future__ import annotations

import reflex as rx

from travelsim.components.layout import page
from travelsim.state.account import AccountState


def _row(r: rx.Var) -> rx.Component:
    return rx.card(
        rx.flex(
            rx.vstack(
                rx.heading(r["plan"], size="4"),
                rx.text(
                    "Order ",
                    r["reference"],
                    " · ",
                    r["date"],
                    " · ",
                    r["amount"],
                    size="2",
                    color=rx.color("gray", 11),
                ),
                rx.text("ICCID ", rx.code(r["iccid"]), size="1"),
                spacing="1",
            ),
            rx.spacer(),
            rx.hstack(
                rx.badge(r["status"]),
                rx.link("Order", href="/orders/" + r["order_id"]),
                rx.cond(
                    r["delivered"] != "",
                    rx.link(rx.button("Install", size="2"), href="/esims/" + r["esim_id"]),
                ),
                align="center",
                spacing="3",
            ),
            direction=rx.breakpoints(initial="column", sm="row"),
            gap="3",
            width="100%",
        ),
        width="100%",
        data_testid="order-row",
    )


def account_page() -> rx.Component:
    return page(
        rx.vstack(
            rx.heading("My eSIMs", size="7"),
            rx.cond(
                AccountState.rows.length() > 0,
                rx.vstack(rx.foreach(AccountState.rows, _row), spacing="3", width="100%"),
                rx.text("No eSIM yet. ", rx.link("Find a plan for your trip", href="/")),
            ),
            spacing="4",
            width="100%",
        )
    )
