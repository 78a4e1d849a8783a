"""Printable receipt of one order."""

from __future__ import annotations

import reflex as rx

from travelsim.components.layout import page
from travelsim.state.receipt import ReceiptState


def _line(label: str, value: rx.Var, strong: bool = False) -> rx.Component:
    return rx.hstack(
        rx.text(label, weight="bold" if strong else "regular", white_space="nowrap"),
        rx.spacer(),
        rx.text(value, weight="bold" if strong else "regular", text_align="right", min_width="0"),
        width="100%",
        align="start",
    )


def receipt_page() -> rx.Component:
    r = ReceiptState.receipt
    return page(
        rx.cond(
            ReceiptState.found,
            rx.card(
                rx.vstack(
                    rx.hstack(
                        rx.heading(
                            "Receipt ",
                            # An order reference (TS-7K3QX9) never breaks across lines.
                            rx.text.span(
                                r["reference"], white_space="nowrap", data_testid="reference"
                            ),
                            size="6",
                        ),
                        rx.spacer(),
                        rx.button(
                            rx.icon("printer", size=16),
                            "Print",
                            variant="soft",
                            on_click=rx.call_script("window.print()"),
                            class_name="no-print",
                        ),
                        width="100%",
                        align="center",
                        wrap="wrap",
                        spacing="3",
                    ),
                    rx.text(ReceiptState.seller["name"], weight="bold"),
                    rx.text(ReceiptState.seller["address"], size="2"),
                    rx.text("VAT number ", ReceiptState.seller["vat_number"], size="2"),
                    rx.divider(),
                    _line("Date", r["date"]),
                    _line("Customer", r["email"]),
                    _line("Item", r["description"]),
                    rx.cond(
                        r["destination"] != "",
                        _line("Destination", r["destination"]),
                    ),
                    _line("ICCID", r["iccid"]),
                    rx.divider(),
                    _line("Net amount", r["net"]),
                    _line("VAT " + r["vat_rate"] + " %", r["vat"]),
                    _line("Total charged", r["total"], strong=True),
                    _line("Paid with", r["payment"]),
                    _line("Order status", r["status"]),
                    spacing="2",
                    width="100%",
                ),
                max_width="40em",
                width="100%",
                data_testid="receipt",
            ),
            rx.vstack(
                rx.heading("Receipt not found", size="6"), rx.link("My eSIMs", href="/account")
            ),
        )
    )
