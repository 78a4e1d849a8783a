"""``/admin/reconciliation``: open discrepancies between Stripe, the books and SFT, each with
the one action that resolves it, then the resolved history (docs/reconciliation.md)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from travelsim.components.admin_widgets import card, choice, filters
from travelsim.pages.admin.layout import ORDER_LINK, admin_page
from travelsim.state.admin.reconciliation import KIND_CHOICES, AdminReconciliationState


def _money_line(r: Any) -> rx.Component:
    """Books vs Stripe, when the discrepancy has amounts."""
    return rx.cond(
        (r["expected"] != "") | (r["actual"] != ""),
        rx.text(
            "Books: ",
            rx.cond(r["expected"] != "", r["expected"], "—"),
            " · Stripe: ",
            rx.cond(r["actual"] != "", r["actual"], "—"),
            size="2",
            data_testid="discrepancy-money",
        ),
    )


def _action_form(r: Any) -> rx.Component:
    """The note and the kind's one action (a required note says so in its placeholder)."""
    s = AdminReconciliationState
    return rx.form(
        rx.flex(
            rx.el.input(type="hidden", name="id", value=r["id"]),
            rx.input(
                name="note",
                placeholder=rx.cond(r["note_required"] != "", "Note (required)", "Note (optional)"),
                aria_label="Note",
                required=r["note_required"] != "",
                size="2",
                flex="1",
                min_width="12em",
            ),
            rx.button(
                r["action_label"],
                type="submit",
                variant="soft",
                color_scheme=rx.cond(r["action"] == "reviewed", "gray", "red"),
                disabled=s.busy,
                data_testid="discrepancy-resolve",
            ),
            wrap="wrap",
            spacing="2",
            width="100%",
        ),
        on_submit=s.resolve,
        reset_on_submit=True,
        width="100%",
    )


def _open_item(r: Any) -> rx.Component:
    """One open discrepancy: kind, what disagrees, the ids and amounts, when, the action."""
    return rx.box(
        rx.vstack(
            rx.hstack(
                rx.badge(r["kind_label"], variant="soft", color_scheme="amber"),
                rx.text("first seen ", r["first_seen"], " · last seen ", r["last_seen"], size="1"),
                wrap="wrap",
                align="center",
                spacing="2",
            ),
            rx.text(r["detail"], size="2", weight="medium", word_break="break-word"),
            rx.text(r["ids"], size="1", color=rx.color("gray", 11), word_break="break-all"),
            _money_line(r),
            rx.cond(
                r["order_id"] != "",
                rx.link("Open the order", href=ORDER_LINK + r["order_id"], size="2"),
            ),
            _action_form(r),
            spacing="2",
            width="100%",
        ),
        padding="0.75em",
        border=f"1px solid {rx.color('gray', 6)}",
        border_radius="var(--radius-3)",
        width="100%",
        data_testid="discrepancy-row",
        data_kind=r["kind"],
    )


def _history_item(r: Any) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.badge(
                r["status"],
                variant="soft",
                color_scheme=rx.cond(r["status"] == "resolved", "green", "gray"),
            ),
            rx.text(r["kind_label"], size="2", weight="medium"),
            rx.text(r["resolved"], " · ", r["resolved_by"], size="1"),
            wrap="wrap",
            align="center",
            spacing="2",
        ),
        rx.text(r["detail"], size="1", word_break="break-word"),
        rx.text(
            rx.code(r["resolution"]), " ", r["resolution_note"], size="1", word_break="break-word"
        ),
        padding_y="0.5em",
        border_top=f"1px solid {rx.color('gray', 5)}",
        width="100%",
        data_testid="discrepancy-history-row",
        data_kind=r["kind"],
    )


def _pager() -> rx.Component:
    s = AdminReconciliationState
    return rx.hstack(
        rx.button("Previous", size="1", variant="soft", on_click=s.prev_page),
        rx.text("Page ", s.page, " of ", s.pages, " · ", s.count_label, size="2"),
        rx.button("Next", size="1", variant="soft", on_click=s.next_page),
        align="center",
        wrap="wrap",
        data_testid="discrepancies-count",
    )


def reconciliation_page() -> rx.Component:
    """``/admin/reconciliation``: counts and "run now", the kind filter, the open
    discrepancies with their actions, the resolved history."""
    s = AdminReconciliationState
    return admin_page(
        "Reconciliation",
        rx.text(
            "Stripe's payments and refunds, the portal's orders and the add-ons on SFT, "
            "compared daily. Each open discrepancy has one action that resolves it.",
            size="2",
            color=rx.color("gray", 11),
        ),
        rx.flex(
            rx.text(
                rx.text.strong(s.counts["open"]),
                " open · ",
                s.counts["resolved"],
                " resolved · ",
                s.counts["cleared"],
                " cleared",
                size="2",
                data_testid="reconciliation-counts",
            ),
            rx.button(
                "Run reconciliation now",
                size="2",
                variant="soft",
                on_click=s.run_now,
                disabled=s.busy,
                data_testid="reconciliation-run",
            ),
            wrap="wrap",
            spacing="3",
            align="center",
            justify="between",
            width="100%",
        ),
        filters(s.search, choice("Kind", "kind", KIND_CHOICES, s.f_kind)),
        card(
            "Open discrepancies",
            rx.cond(
                s.rows.length() > 0,
                rx.vstack(rx.foreach(s.rows, _open_item), spacing="3", width="100%"),
                rx.text("Nothing open: Stripe, the books and SFT agree.", size="2"),
            ),
            rx.cond(s.total > 0, _pager()),
            data_testid="discrepancies-open",
        ),
        card(
            "Resolved and cleared (latest 50)",
            rx.cond(
                s.history.length() > 0,
                rx.vstack(rx.foreach(s.history, _history_item), spacing="0", width="100%"),
                rx.text("Nothing resolved yet.", size="2"),
            ),
            data_testid="discrepancies-history",
        ),
    )
