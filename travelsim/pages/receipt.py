"""Printable receipt of one order."""

from __future__ import annotations

import reflex as rx

from travelsim.components.layout import page
from travelsim.i18n import _, localized
from travelsim.state.receipt import ReceiptState


def _line(label: str | rx.Var, value: rx.Var, strong: bool = False) -> rx.Component:
    return rx.hstack(
        rx.text(label, weight="bold" if strong else "regular", white_space="nowrap"),
        rx.spacer(),
        rx.text(value, weight="bold" if strong else "regular", text_align="right", min_width="0"),
        width="100%",
        align="start",
    )


def _title() -> rx.Component:
    """The title: "Invoice 2026-000001", or "Receipt TS-7K3QX9" for an order from before
    invoices; the number never breaks across lines."""
    r = ReceiptState.receipt
    return rx.cond(
        r["invoice_number"] != "",
        rx.heading(
            _("Invoice"),
            " ",
            rx.text.span(r["invoice_number"], white_space="nowrap", data_testid="invoice-number"),
            size="6",
        ),
        rx.heading(
            _("Receipt"),
            " ",
            rx.text.span(r["reference"], white_space="nowrap", data_testid="reference"),
            size="6",
        ),
    )


def _credit_note() -> rx.Component:
    """The credit note cancelling the invoice after a refund: its number and what it refunds."""
    r = ReceiptState.receipt
    return rx.vstack(
        rx.divider(),
        _line(
            _("Credit note"),
            rx.text.span(r["credit_note"], white_space="nowrap", data_testid="credit-note"),
            strong=True,
        ),
        rx.text(r["credit_note_text"], size="2"),
        spacing="2",
        width="100%",
    )


def receipt_page() -> rx.Component:
    r = ReceiptState.receipt
    return page(
        rx.cond(
            ReceiptState.found,
            rx.card(
                rx.vstack(
                    rx.hstack(
                        _title(),
                        rx.spacer(),
                        rx.button(
                            rx.icon("printer", size=16),
                            _("Print"),
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
                    rx.text(_("VAT number"), " ", ReceiptState.seller["vat_number"], size="2"),
                    rx.divider(),
                    rx.cond(
                        r["invoice_number"] != "",
                        _line(
                            _("Order"),
                            rx.text.span(
                                r["reference"], white_space="nowrap", data_testid="reference"
                            ),
                        ),
                    ),
                    _line(_("Date"), r["date"]),
                    _line(_("Customer"), r["email"]),
                    rx.cond(
                        r["country"] != "",
                        rx.box(_line(_("Customer's country"), r["country"]), width="100%"),
                    ),
                    _line(_("Item"), r["description"]),
                    rx.cond(
                        r["destination"] != "",
                        _line(_("Destination"), r["destination"]),
                    ),
                    _line("ICCID", r["iccid"]),
                    rx.divider(),
                    _line(_("Net amount"), r["net"]),
                    rx.box(_line(r["vat_label"], r["vat"]), width="100%", data_testid="vat-line"),
                    rx.cond(
                        r["vat_note"] != "",
                        rx.text(r["vat_note"], size="2", data_testid="vat-note"),
                    ),
                    _line(_("Total charged"), r["total"], strong=True),
                    _line(_("Paid with"), r["payment"]),
                    rx.cond(r["credit_note"] != "", _credit_note()),
                    _line(_("Order status"), r["status"]),
                    spacing="2",
                    width="100%",
                ),
                max_width="40em",
                width="100%",
                data_testid="receipt",
            ),
            rx.vstack(
                rx.heading(_("Receipt not found"), size="6"),
                rx.link(_("My eSIMs"), href=localized("/account")),
            ),
        )
    )
