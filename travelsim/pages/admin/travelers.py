"""``/admin/travelers``: accounts, one traveler's records, the staff role."""

from __future__ import annotations

from typing import Any

import reflex as rx

from travelsim.components.admin_widgets import card, field, filters, kv, mini_row, mini_table, table
from travelsim.pages.admin.layout import ESIM_LINK, ORDER_LINK, TRAVELER_LINK, admin_page
from travelsim.state.admin.travelers import AdminTravelersState


def _traveler_row(r: Any) -> rx.Component:
    s = AdminTravelersState
    return rx.table.row(
        rx.table.cell(rx.link(r["email"], href=TRAVELER_LINK + r["user_id"])),
        rx.table.cell(r["created"]),
        rx.table.cell(r["verified"]),
        rx.table.cell(rx.cond(r["staff"] != "", rx.badge("staff", color_scheme="violet"))),
        rx.table.cell(r["esims"]),
        rx.table.cell(r["orders"]),
        rx.table.cell(
            rx.cond(
                r["staff"] != "",
                rx.button(
                    "Revoke staff",
                    size="1",
                    variant="soft",
                    color_scheme="red",
                    on_click=s.revoke(r["email"]),
                ),
            )
        ),
        data_testid="traveler-row",
    )


def _traveler_detail() -> rx.Component:
    s = AdminTravelersState
    return card(
        "Traveler",
        kv("Email", s.person["email"], "person-email"),
        kv("Since", s.person["created"]),
        kv("Staff", s.person["staff"]),
        kv("Deleted", s.person["deleted"]),
        rx.heading("eSIMs", size="3"),
        mini_table(
            ["ICCID", "Endpoint", "State", "Endpoint status", "Install"],
            s.person_esims,
            mini_row(
                "iccid",
                "endpoint_id",
                "state",
                "endpoint_status",
                "install",
                link=(ESIM_LINK, "esim_id"),
            ),
        ),
        rx.heading("Orders", size="3"),
        mini_table(
            ["Order", "Created", "Kind", "Amount", "Status"],
            s.person_orders,
            mini_row(
                "reference",
                "created",
                "kind",
                "amount",
                "status",
                link=(ORDER_LINK, "order_id"),
            ),
        ),
        rx.heading("Replacement requests", size="3"),
        mini_table(
            ["eSIM", "Status", "Created", "Reason"],
            s.person_requests,
            mini_row("esim_id", "status", "created", "reason", link=(ESIM_LINK, "esim_id")),
        ),
        data_testid="traveler-detail",
    )


def travelers_page() -> rx.Component:
    """``/admin/travelers``: filters, the staff-role grant form, the open account
    (``?user=``), the travelers table."""
    s = AdminTravelersState
    return admin_page(
        "Travelers",
        filters(
            s.search,
            field("Email contains", "email", s.f_email),
            rx.hstack(
                rx.checkbox(name="staff_only", default_checked=s.f_staff),
                rx.text("Staff only", size="2"),
                align="center",
                align_self="end",
            ),
        ),
        rx.form(
            rx.flex(
                field("Grant the staff role to (email)", "email", ""),
                rx.button("Grant staff role", type="submit", size="2", align_self="end"),
                wrap="wrap",
                spacing="3",
                align="end",
                width="100%",
            ),
            on_submit=s.grant,
            reset_on_submit=True,
            width="100%",
        ),
        rx.cond(s.selected != "", _traveler_detail()),
        table(
            s,
            [
                ("Email", "email"),
                ("Since", "created_at"),
                ("Verified", None),
                ("Role", None),
                ("eSIMs", None),
                ("Orders", None),
                ("", None),
            ],
            _traveler_row,
            "travelers-table",
        ),
    )
