"""``/admin/orders``: the orders list and filters, one order's details, steps and actions."""

from __future__ import annotations

from typing import Any

import reflex as rx

from travelsim.components.admin_widgets import badge, card, choice, field, filters, kv, table
from travelsim.pages.admin.layout import ESIM_LINK, ORDER_LINK, TRAVELER_LINK, admin_page
from travelsim.state.admin.orders import STATUS_CHOICES, AdminOrdersState


def _order_row(r: Any) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(r["reference"], href=ORDER_LINK + r["order_id"])),
        rx.table.cell(r["created"]),
        rx.table.cell(r["traveler"]),
        rx.table.cell(rx.code(r["iccid"])),
        rx.table.cell(r["plan"]),
        rx.table.cell(r["amount"]),
        rx.table.cell(badge(r["status"])),
        rx.table.cell(r["payment"]),
        data_testid="order-row",
        data_order_id=r["order_id"],
    )


def _step_row(st: Any) -> rx.Component:
    return rx.table.row(
        rx.table.cell(st["name"]),
        rx.table.cell(badge(st["status"])),
        rx.table.cell(st["attempts"]),
        rx.table.cell(st["started"]),
        rx.table.cell(st["duration"]),
        rx.table.cell(rx.text(st["error"], color=rx.color("red", 11)), st["detail"]),
        data_testid="admin-step",
        data_status=st["status"],
    )


def _order_facts() -> list[rx.Component]:
    """The order's key-value lines: reference to install status."""
    d = AdminOrdersState.detail
    return [
        kv("Reference", d["reference"], "order-reference"),
        kv("Status", badge(d["status"]), "order-status"),
        kv("Kind · plan", rx.text(d["kind"], " · ", d["plan"])),
        kv("Traveler", rx.link(d["traveler"], href=TRAVELER_LINK + d["user_id"])),
        rx.cond(
            d["gift_status"] != "",
            kv(
                "Gift to · claim",
                rx.text(
                    d["gift_recipient"],
                    " · ",
                    d["gift_status"],
                    " · sent ",
                    d["gift_sent"],
                    rx.cond(
                        d["gift_claimed"] != "", rx.text.span(" · claimed ", d["gift_claimed"])
                    ),
                ),
                "order-gift",
            ),
        ),
        kv(
            "eSIM",
            rx.link(rx.code(d["iccid"]), href=ESIM_LINK + d["esim_id"]),
        ),
        kv("Amount", d["amount"]),
        rx.cond(d["invoice"] != "", kv("Invoice · VAT", d["invoice"], "order-invoice")),
        kv(
            "Payment",
            rx.text(
                d["payment_status"],
                " · ",
                d["payment_provider"],
                " ",
                d["card_last4"],
                # The provider's id (Stripe's PaymentIntent pi_...): what to look up there.
                rx.cond(d["payment_ref"] != "", rx.text.span(" · ", rx.code(d["payment_ref"]))),
            ),
            "payment-status",
        ),
        kv("Created · delivered", rx.text(d["created"], " · ", d["delivered"])),
        kv("Runs · last error", rx.text(d["attempts"], " · ", d["last_error"])),
        rx.cond(
            d["retry"] != "",
            kv("Automatic retry", d["retry"], "order-retry"),
        ),
        kv("Install status · add-on use", rx.text(d["profile_status"], " · ", d["addon_used"])),
    ]


def _order_steps() -> rx.Component:
    """The provisioning steps' table."""
    return rx.box(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[
                        rx.table.column_header_cell(h)
                        for h in ("Step", "Status", "Tries", "Started", "Took", "Detail")
                    ]
                )
            ),
            rx.table.body(rx.foreach(AdminOrdersState.steps, _step_row)),
            size="1",
        ),
        overflow_x="auto",
        width="100%",
    )


def _order_buttons() -> rx.Component:
    """Retry provisioning and resend the installation email."""
    s = AdminOrdersState
    return rx.flex(
        rx.button(
            "Retry provisioning",
            on_click=s.retry,
            disabled=~s.can_retry | s.busy,
            loading=s.busy,
        ),
        rx.button(
            "Resend installation email",
            on_click=s.resend,
            disabled=~s.can_resend | s.busy,
            variant="soft",
        ),
        wrap="wrap",
        spacing="2",
    )


def _no_payment_action() -> rx.Component:
    """Why there is no void or refund button (the payment's status)."""
    s = AdminOrdersState
    return rx.cond(
        s.payment_action == "",
        rx.text(
            "No payment action: the payment is ",
            s.detail["payment_status"],
            ".",
            size="2",
            color=rx.color("gray", 11),
            data_testid="no-payment-action",
        ),
    )


def _payment_form() -> rx.Component:
    """The refund rule, then void or refund the payment (a reason forces a refused refund);
    hidden when the payment has no action."""
    s = AdminOrdersState
    return rx.form(
        rx.vstack(
            rx.text(
                "Refund rule: ",
                rx.cond(s.refund_allowed, "allowed", "refused"),
                " (",
                s.detail["refund_reason"],
                ")",
                size="2",
                data_testid="refund-rule",
            ),
            rx.flex(
                rx.cond(
                    s.payment_action == "refund",
                    rx.input(
                        name="force_reason",
                        placeholder="Reason to force a refused refund",
                        aria_label="Reason to force a refused refund",
                        size="2",
                        flex="1",
                        min_width="14em",
                    ),
                ),
                rx.button(
                    rx.cond(
                        s.payment_action == "refund",
                        "Refund payment",
                        "Release payment hold (void)",
                    ),
                    type="submit",
                    color_scheme="red",
                    variant="soft",
                    disabled=s.busy,
                ),
                wrap="wrap",
                spacing="2",
                width="100%",
            ),
            width="100%",
        ),
        on_submit=s.refund,
        reset_on_submit=True,
        width="100%",
        display=rx.cond(s.payment_action == "", "none", "block"),
    )


def _order_detail() -> rx.Component:
    return card(
        "Order details",
        *_order_facts(),
        _order_steps(),
        _order_buttons(),
        _no_payment_action(),
        _payment_form(),
        data_testid="order-detail",
    )


def orders_page() -> rx.Component:
    """``/admin/orders``: filters, the open order (``?order=``), the orders table."""
    s = AdminOrdersState
    return admin_page(
        "Orders",
        filters(
            s.search,
            choice("Status", "status", STATUS_CHOICES, s.f_status),
            field("Traveler email", "traveler", s.f_traveler),
            field("ICCID", "iccid", s.f_iccid),
            field("Reference", "reference", s.f_reference),
            field(
                "From (UTC, YYYY-MM-DD)",
                "date_from",
                s.f_from,
                placeholder="YYYY-MM-DD",
                input_mode="numeric",
                max_length=10,
            ),
            field(
                "To (UTC, YYYY-MM-DD)",
                "date_to",
                s.f_to,
                placeholder="YYYY-MM-DD",
                input_mode="numeric",
                max_length=10,
            ),
        ),
        rx.cond(s.selected != "", _order_detail()),
        table(
            s,
            [
                ("Order", "reference"),
                ("Created", "created_at"),
                ("Traveler", "traveler"),
                ("ICCID", None),
                ("Plan", None),
                ("Amount", "amount"),
                ("Status", "status"),
                ("Payment", None),
            ],
            _order_row,
            "orders-table",
        ),
    )
