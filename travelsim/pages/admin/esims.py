"""``/admin/esims``: the eSIM list, one eSIM's details, records and actions."""

from __future__ import annotations

from typing import Any

import reflex as rx

from travelsim.components.admin_widgets import (
    badge,
    card,
    choice,
    field,
    filters,
    kv,
    mini_row,
    mini_table,
    table,
    var_select,
)
from travelsim.pages.admin.layout import ESIM_LINK, ORDER_LINK, TRAVELER_LINK, admin_page
from travelsim.state.admin.base import AdminState
from travelsim.state.admin.esims import STATE_CHOICES, AdminEsimsState


def _esim_row(r: Any) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(r["esim_id"], href=ESIM_LINK + r["esim_id"])),
        rx.table.cell(rx.code(r["iccid"])),
        rx.table.cell(r["endpoint_id"]),
        rx.table.cell(r["state"]),
        rx.table.cell(r["owner"]),
        rx.table.cell(rx.cond(r["endpoint_status"] != "", badge(r["endpoint_status"]))),
        rx.table.cell(r["install"]),
        data_testid="esim-row",
    )


def _addon_row(a: Any) -> rx.Component:
    return rx.table.row(
        rx.table.cell(a["unique_id"]),
        rx.table.cell(a["plan"]),
        rx.table.cell(badge(a["status"])),
        rx.table.cell(a["remaining"], " / ", a["initial"]),
        rx.table.cell(a["used"]),
        rx.table.cell(a["started"]),
        rx.table.cell(a["expires"]),
        data_testid="admin-addon",
        data_plan_id=a["plan_id"],
        data_status=a["status"],
    )


def _esim_facts() -> list[rx.Component]:
    """The eSIM's key-value lines: ICCID to its replacement."""
    e = AdminEsimsState.esim
    return [
        kv("ICCID", rx.code(e["iccid"]), "esim-iccid"),
        kv("Endpoint", e["endpoint_id"], "esim-endpoint"),
        kv("Owner", rx.link(e["owner"], href=TRAVELER_LINK + e["user_id"])),
        kv("Inventory state", e["state"]),
        kv(
            "Endpoint status",
            rx.hstack(badge(e["endpoint_status"]), rx.text(e["lifecycle_reason"], size="2")),
            "esim-endpoint-status",
        ),
        kv("Install status", rx.text(e["profile_status"], " (", e["install"], ")"), "esim-install"),
        kv("Figures from SFT", rx.text(e["synced"], " ", e["sync_error"])),
        kv(
            "Replaced by eSIM",
            rx.text(e["replaced_by"], " ", e["replacement_status"]),
            "replaced-by",
        ),
        rx.cond(
            e["replaced_by"] != "",
            rx.link("Open the new eSIM", href=ESIM_LINK + e["replaced_by"]),
        ),
    ]


def _esim_records() -> list[rx.Component]:
    """The eSIM's add-ons, orders and (when there are any) replacement requests."""
    s = AdminEsimsState
    return [
        rx.heading("Add-ons", size="3"),
        mini_table(
            ["uniqueId", "Plan", "Status", "Left / total", "Used", "Started", "Expires"],
            s.addons,
            _addon_row,
        ),
        rx.heading("Orders", size="3"),
        mini_table(
            ["Order", "Kind", "Amount", "Status", "Created"],
            s.esim_orders,
            mini_row(
                "reference",
                "kind",
                "amount",
                "status",
                "created",
                link=(ORDER_LINK, "order_id"),
            ),
        ),
        rx.cond(
            s.esim_requests.length() > 0,
            rx.vstack(
                rx.heading("Replacement requests", size="3"),
                mini_table(
                    ["Status", "Created", "Reason"],
                    s.esim_requests,
                    mini_row("status", "created", "reason"),
                ),
                width="100%",
            ),
        ),
    ]


def _endpoint_buttons() -> rx.Component:
    """Suspend or resume the endpoint, and refresh from SFT."""
    s = AdminEsimsState
    return rx.flex(
        rx.cond(
            s.suspended,
            rx.button("Resume endpoint", on_click=s.resume, disabled=s.busy),
            rx.button(
                "Suspend endpoint",
                on_click=s.suspend,
                disabled=s.busy,
                color_scheme="red",
                variant="soft",
            ),
        ),
        rx.button("Refresh from SFT", on_click=s.refresh, disabled=s.busy, variant="soft"),
        wrap="wrap",
        spacing="2",
    )


def _goodwill_form() -> rx.Component:
    """A goodwill add-on: the plan, a note; the form's key makes a double submit one gift."""
    s = AdminEsimsState
    return rx.form(
        rx.flex(
            rx.input(type="hidden", name="request_id", value=s.goodwill_key),
            rx.select.root(
                rx.select.trigger(placeholder="Plan", aria_label="Goodwill plan"),
                rx.select.content(
                    rx.foreach(s.plans, lambda p: rx.select.item(p["label"], value=p["plan_id"]))
                ),
                name="plan_id",
                size="2",
            ),
            rx.input(name="note", placeholder="Note (why)", aria_label="Goodwill note", size="2"),
            rx.button("Give goodwill add-on", type="submit", disabled=s.busy, variant="soft"),
            wrap="wrap",
            spacing="2",
        ),
        on_submit=s.goodwill,
        reset_on_submit=False,
        width="100%",
    )


def _replace_form() -> rx.Component:
    """Replace the eSIM, with a note (disabled once it was replaced)."""
    s = AdminEsimsState
    return rx.form(
        rx.flex(
            rx.input(
                name="note",
                placeholder="Why (e.g. profile deleted, F1)",
                aria_label="Replacement note",
                size="2",
                min_width="14em",
            ),
            rx.button(
                "Replace eSIM",
                type="submit",
                disabled=s.busy | (s.esim["replaced_by"] != ""),
                color_scheme="orange",
            ),
            wrap="wrap",
            spacing="2",
        ),
        on_submit=s.replace,
        reset_on_submit=True,
        width="100%",
    )


def _sim_controls() -> rx.Component:
    """On the simulator only: consume data on the eSIM, set its profile status."""
    s = AdminEsimsState
    return rx.cond(
        AdminState.on_simulator,
        rx.vstack(
            rx.heading("Simulator", size="3"),
            rx.form(
                rx.flex(
                    rx.input(
                        name="megabytes",
                        placeholder="MB",
                        aria_label="Megabytes to consume",
                        type="number",
                        size="2",
                        width="8em",
                    ),
                    rx.button("Consume data", type="submit", disabled=s.busy, variant="outline"),
                    spacing="2",
                    wrap="wrap",
                ),
                on_submit=s.consume,
                reset_on_submit=True,
            ),
            rx.form(
                rx.flex(
                    var_select(s.profile_statuses, "status", "Profile status"),
                    rx.button(
                        "Set profile status",
                        type="submit",
                        disabled=s.busy,
                        variant="outline",
                    ),
                    spacing="2",
                    wrap="wrap",
                ),
                on_submit=s.set_profile,
                reset_on_submit=False,
            ),
            width="100%",
            data_testid="esim-sim-controls",
        ),
    )


def _esim_detail() -> rx.Component:
    return card(
        "eSIM details",
        *_esim_facts(),
        *_esim_records(),
        rx.heading("Actions", size="3"),
        _endpoint_buttons(),
        _goodwill_form(),
        _replace_form(),
        _sim_controls(),
        data_testid="esim-detail",
    )


def esims_page() -> rx.Component:
    """``/admin/esims``: filters, the open eSIM (``?esim=``), the eSIMs table."""
    s = AdminEsimsState
    return admin_page(
        "eSIMs",
        filters(
            s.search,
            field("ICCID or endpoint id", "query", s.f_query),
            choice("State", "state", STATE_CHOICES, s.f_state),
        ),
        rx.cond(s.selected != "", _esim_detail()),
        table(
            s,
            [
                ("Id", "id"),
                ("ICCID", "iccid"),
                ("Endpoint", "endpoint_id"),
                ("State", "state"),
                ("Owner", None),
                ("Endpoint status", None),
                ("Install", None),
            ],
            _esim_row,
            "esims-table",
        ),
    )
