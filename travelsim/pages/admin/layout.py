"""The frame of every staff admin page: heading, section links and the notice line, and
the admin sections' paths. Nothing is drawn until the page load has confirmed the staff role
on the server (``AdminState.is_admin``); every action is re-checked by its handler."""

from __future__ import annotations

import reflex as rx

from travelsim.components.layout import page
from travelsim.state.admin.base import AdminState

#: The admin sections' paths (registered in :data:`travelsim.pages.admin.ADMIN_PAGES`).
OVERVIEW = "/admin"
ORDERS = "/admin/orders"
TRAVELERS = "/admin/travelers"
ESIMS = "/admin/esims"
CATALOGUE = "/admin/catalogue"
TAX = "/admin/tax"
OUTBOX = "/admin/outbox"
AUDIT = "/admin/audit"
RECONCILIATION = "/admin/reconciliation"
SIMULATOR = "/admin/simulator"

#: Links to one record: the prefix, then its id.
ORDER_LINK = ORDERS + "?order="
TRAVELER_LINK = TRAVELERS + "?user="
ESIM_LINK = ESIMS + "?esim="

#: The section links, in the nav's order (the simulator's comes last, on the simulator only).
SECTIONS: list[tuple[str, str]] = [
    ("Overview", OVERVIEW),
    ("Orders", ORDERS),
    ("Travelers", TRAVELERS),
    ("eSIMs", ESIMS),
    ("Catalogue", CATALOGUE),
    ("VAT", TAX),
    ("Outbox", OUTBOX),
    ("Reconciliation", RECONCILIATION),
    ("Audit log", AUDIT),
]


def _nav() -> rx.Component:
    links = [
        rx.link(label, href=href, size="2", weight="medium", underline="hover")
        for label, href in SECTIONS
    ]
    return rx.flex(
        *links,
        rx.cond(
            AdminState.on_simulator,
            rx.link("Simulator", href=SIMULATOR, size="2", weight="medium"),
        ),
        wrap="wrap",
        spacing="4",
        padding_y="2",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        width="100%",
        aria_label="Admin sections",
        role="navigation",
    )


def _notice() -> rx.Component:
    return rx.cond(
        AdminState.notice != "",
        rx.callout(
            AdminState.notice,
            icon=rx.match(
                AdminState.notice_result,
                ("ok", "circle-check"),
                ("refused", "ban"),
                ("failed", "triangle-alert"),
                "info",
            ),
            color_scheme=rx.match(
                AdminState.notice_result,
                ("ok", "green"),
                ("refused", "amber"),
                ("failed", "red"),
                "gray",
            ),
            width="100%",
            data_testid="admin-notice",
            data_result=AdminState.notice_result,
            role="status",
        ),
    )


def admin_page(title: str, *children: rx.Component) -> rx.Component:
    """An admin page: heading, section links, notice, then ``children`` once the role is
    confirmed (a neutral line before that)."""
    return page(
        rx.cond(
            AdminState.is_admin,
            rx.vstack(
                rx.hstack(
                    rx.icon("layout-dashboard"),
                    rx.heading(title, size="7"),
                    align="center",
                    spacing="2",
                ),
                _nav(),
                _notice(),
                *children,
                spacing="4",
                width="100%",
            ),
            rx.text("Checking access…", color=rx.color("gray", 11)),
        )
    )
