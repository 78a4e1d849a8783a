"""Staff admin pages: overview, orders, travelers, eSIMs, catalogue, outbox, audit log and
simulator controls. Nothing is drawn until the page load has confirmed the staff role on
the server (``AdminState.is_admin``); every action is re-checked by its handler."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx

from travelsim.components.layout import page
from travelsim.state.admin.base import ANY, AdminState
from travelsim.state.admin.catalogue import AdminCatalogueState
from travelsim.state.admin.esims import AdminEsimsState
from travelsim.state.admin.orders import AdminOrdersState
from travelsim.state.admin.outbox import AdminAuditState, AdminOutboxState
from travelsim.state.admin.overview import AdminOverviewState
from travelsim.state.admin.simulator import AdminSimState
from travelsim.state.admin.travelers import AdminTravelersState

SECTIONS: list[tuple[str, str]] = [
    ("Overview", "/admin"),
    ("Orders", "/admin/orders"),
    ("Travelers", "/admin/travelers"),
    ("eSIMs", "/admin/esims"),
    ("Catalogue", "/admin/catalogue"),
    ("Outbox", "/admin/outbox"),
    ("Audit log", "/admin/audit"),
]


# ============================================================================ building blocks
def _nav() -> rx.Component:
    links = [
        rx.link(label, href=href, size="2", weight="medium", underline="hover")
        for label, href in SECTIONS
    ]
    return rx.flex(
        *links,
        rx.cond(
            AdminState.on_simulator,
            rx.link("Simulator", href="/admin/simulator", size="2", weight="medium"),
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


def _field(label: str, name: str, value: Any = "", **props: Any) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=f"f-{name}", font_size="12px", font_weight="500"),
        rx.input(
            id=f"f-{name}", name=name, default_value=value, size="2", aria_label=label, **props
        ),
        spacing="1",
        min_width="9em",
        flex="1",
    )


def _choice(label: str, name: str, options: list[str], value: Any) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", weight="medium"),
        rx.select.root(
            rx.select.trigger(aria_label=label),
            rx.select.content(*[rx.select.item(o, value=o) for o in options]),
            name=name,
            default_value=value,
            size="2",
        ),
        spacing="1",
        min_width="9em",
    )


def _var_select(items: Any, name: str, label: str) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(placeholder=label, aria_label=label),
        rx.select.content(rx.foreach(items, lambda o: rx.select.item(o, value=o))),
        name=name,
        size="2",
    )


def _filters(on_submit: Any, *fields: rx.Component) -> rx.Component:
    return rx.form(
        rx.flex(
            *fields,
            rx.button("Search", type="submit", size="2", align_self="end"),
            wrap="wrap",
            spacing="3",
            align="end",
            width="100%",
        ),
        on_submit=on_submit,
        reset_on_submit=False,
        width="100%",
    )


Column = tuple[str, str | None]


def _table(
    state: Any,
    columns: list[Column],
    row: Callable[[Any], rx.Component],
    testid: str,
) -> rx.Component:
    """A sortable table of ``state.rows`` with a pager: ``columns`` are (label, sort key or
    ``None``); sorting and paging ask the server."""
    headers = []
    for label, key in columns:
        if key is None:
            headers.append(rx.table.column_header_cell(label))
        else:
            headers.append(
                rx.table.column_header_cell(
                    rx.button(
                        label,
                        rx.cond(
                            state.sort == key,
                            rx.icon(rx.cond(state.desc, "arrow-down", "arrow-up"), size=12),
                            rx.icon("arrow-up-down", size=12, color=rx.color("gray", 8)),
                        ),
                        variant="ghost",
                        size="1",
                        on_click=state.sort_by(key),
                        aria_label=f"Sort by {label}",
                    )
                )
            )
    return rx.vstack(
        rx.box(
            rx.table.root(
                rx.table.header(rx.table.row(*headers)),
                rx.table.body(rx.foreach(state.rows, row)),
                size="1",
                variant="surface",
                data_testid=testid,
            ),
            overflow_x="auto",
            width="100%",
        ),
        rx.hstack(
            rx.button(
                rx.icon("chevron-left", size=14),
                "Previous",
                size="1",
                variant="soft",
                disabled=state.page <= 1,
                on_click=state.prev_page,
            ),
            rx.text(
                "Page ",
                state.page,
                " of ",
                state.pages,
                " · ",
                state.count_label,
                size="1",
                data_testid=f"{testid}-count",
            ),
            rx.button(
                "Next",
                rx.icon("chevron-right", size=14),
                size="1",
                variant="soft",
                disabled=state.page >= state.pages,
                on_click=state.next_page,
            ),
            align="center",
            spacing="3",
        ),
        width="100%",
        spacing="2",
    )


def _kv(label: str, value: Any, testid: str | None = None) -> rx.Component:
    return rx.hstack(
        rx.text(label, size="2", color=rx.color("gray", 11), min_width="10em"),
        rx.text(value, size="2", data_testid=testid, word_break="break-all"),
        align="start",
        width="100%",
    )


def _badge(value: Any) -> rx.Component:
    return rx.badge(
        value,
        variant="soft",
        color_scheme=rx.match(
            value,
            ("delivered", "green"),
            ("ok", "green"),
            ("done", "green"),
            ("active", "green"),
            ("Active", "green"),
            ("needs_attention", "amber"),
            ("refused", "amber"),
            ("failed", "red"),
            ("failing", "red"),
            ("degraded", "amber"),
            ("stale", "amber"),
            ("Suspended", "red"),
            "gray",
        ),
    )


def _card(title: str, *children: rx.Component, **props: Any) -> rx.Component:
    return rx.card(
        rx.vstack(rx.heading(title, size="4"), *children, spacing="2", width="100%"),
        width="100%",
        **props,
    )


# ============================================================================ overview
def _figure(label: str, value: Any, testid: str, **props: Any) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(label, size="2", color=rx.color("gray", 11)),
            rx.heading(value, size="6", data_testid=testid),
            spacing="1",
        ),
        min_width="11em",
        flex="1",
        **props,
    )


def _job_row(j: Any) -> rx.Component:
    return rx.table.row(
        rx.table.cell(j["job"]),
        rx.table.cell(j["at"]),
        rx.table.cell(_badge(j["health"])),
        rx.table.cell(j["duration"]),
        rx.table.cell(j["calls"]),
        rx.table.cell(j["rate_limited"]),
        rx.table.cell(j["errors"]),
        rx.table.cell(j["staleness"]),
        data_testid="job-row",
    )


def overview_page() -> rx.Component:
    s = AdminOverviewState
    return admin_page(
        "Admin",
        rx.flex(
            _figure("Orders today", s.figures["orders_today"], "fig-orders-today"),
            _figure("Revenue today", rx.text(s.revenue_today.join(" · ")), "fig-revenue-today"),
            _figure("Revenue 30 days", rx.text(s.revenue_30d.join(" · ")), "fig-revenue-30d"),
            _figure(
                "eSIMs delivered today / total",
                rx.text(s.figures["delivered_today"], " / ", s.figures["delivered_total"]),
                "fig-delivered",
            ),
            _figure(
                "Free eSIMs (alert below)",
                rx.text(s.figures["free_esims"], " (", s.figures["threshold"], ")"),
                "fig-free",
                background_color=rx.cond(s.low_stock, rx.color("amber", 3), "transparent"),
            ),
            rx.link(
                _figure(
                    "Orders needing attention",
                    s.figures["needs_attention"],
                    "fig-attention",
                ),
                href="/admin/orders?status=needs_attention",
                underline="none",
                color="inherit",
                flex="1",
            ),
            _figure("Flagged payments", s.figures["flagged"], "fig-flagged"),
            _figure("Open replacement requests", s.figures["replacements"], "fig-replacements"),
            wrap="wrap",
            spacing="3",
            width="100%",
        ),
        _card(
            "Platform",
            rx.hstack(
                rx.icon(
                    rx.cond(s.sft_ok, "plug-zap", "unplug"),
                    color=rx.cond(s.sft_ok, rx.color("green", 9), rx.color("gray", 9)),
                ),
                rx.text("SFT: ", s.sft_status, data_testid="sft-status"),
                align="center",
            ),
            rx.text(
                "Callbacks: ",
                s.callbacks["enabled"],
                " · last event ",
                s.callbacks["last"],
                " · ",
                s.callbacks["day"],
                " in 24 h · ",
                s.callbacks["pending"],
                " pending · ",
                s.callbacks["failed"],
                " failed",
                size="2",
                data_testid="callbacks",
            ),
        ),
        _card(
            "Background jobs (last run)",
            rx.cond(
                s.jobs.length() > 0,
                rx.box(
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(
                                *[
                                    rx.table.column_header_cell(h)
                                    for h in (
                                        "Job",
                                        "Started",
                                        "Health",
                                        "Took",
                                        "Calls",
                                        "429s",
                                        "Errors",
                                        "Oldest figure",
                                    )
                                ]
                            )
                        ),
                        rx.table.body(rx.foreach(s.jobs, _job_row)),
                        size="1",
                    ),
                    overflow_x="auto",
                    width="100%",
                ),
                rx.text("No background run recorded yet.", size="2"),
            ),
        ),
    )


# ============================================================================ orders
def _order_row(r: Any) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(r["reference"], href="/admin/orders?order=" + r["order_id"])),
        rx.table.cell(r["created"]),
        rx.table.cell(r["traveler"]),
        rx.table.cell(rx.code(r["iccid"])),
        rx.table.cell(r["plan"]),
        rx.table.cell(r["amount"]),
        rx.table.cell(_badge(r["status"])),
        rx.table.cell(r["payment"]),
        data_testid="order-row",
        data_order_id=r["order_id"],
    )


def _step_row(st: Any) -> rx.Component:
    return rx.table.row(
        rx.table.cell(st["name"]),
        rx.table.cell(_badge(st["status"])),
        rx.table.cell(st["attempts"]),
        rx.table.cell(st["started"]),
        rx.table.cell(st["duration"]),
        rx.table.cell(rx.text(st["error"], color=rx.color("red", 11)), st["detail"]),
        data_testid="admin-step",
        data_status=st["status"],
    )


def _order_detail() -> rx.Component:
    s = AdminOrdersState
    d = s.detail
    return _card(
        "Order details",
        _kv("Reference", d["reference"], "order-reference"),
        _kv("Status", _badge(d["status"]), "order-status"),
        _kv("Kind · plan", rx.text(d["kind"], " · ", d["plan"])),
        _kv("Traveler", rx.link(d["traveler"], href="/admin/travelers?user=" + d["user_id"])),
        _kv(
            "eSIM",
            rx.link(rx.code(d["iccid"]), href="/admin/esims?esim=" + d["esim_id"]),
        ),
        _kv("Amount", d["amount"]),
        _kv(
            "Payment",
            rx.text(d["payment_status"], " · ", d["payment_provider"], " ", d["card_last4"]),
            "payment-status",
        ),
        _kv("Created · delivered", rx.text(d["created"], " · ", d["delivered"])),
        _kv("Runs · last error", rx.text(d["attempts"], " · ", d["last_error"])),
        rx.cond(
            d["retry"] != "",
            _kv("Automatic retry", d["retry"], "order-retry"),
        ),
        _kv("Install status · add-on use", rx.text(d["profile_status"], " · ", d["addon_used"])),
        rx.box(
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(h)
                            for h in ("Step", "Status", "Tries", "Started", "Took", "Detail")
                        ]
                    )
                ),
                rx.table.body(rx.foreach(s.steps, _step_row)),
                size="1",
            ),
            overflow_x="auto",
            width="100%",
        ),
        rx.flex(
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
        ),
        rx.cond(
            s.payment_action == "",
            rx.text(
                "No payment action: the payment is ",
                d["payment_status"],
                ".",
                size="2",
                color=rx.color("gray", 11),
                data_testid="no-payment-action",
            ),
        ),
        rx.form(
            rx.vstack(
                rx.text(
                    "Refund rule: ",
                    rx.cond(s.refund_allowed, "allowed", "refused"),
                    " (",
                    d["refund_reason"],
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
                        rx.cond(s.payment_action == "refund", "Refund payment", "Void payment"),
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
        ),
        data_testid="order-detail",
    )


def orders_page() -> rx.Component:
    s = AdminOrdersState
    return admin_page(
        "Orders",
        _filters(
            s.search,
            _choice(
                "Status",
                "status",
                [ANY, "paid", "provisioning", "delivered", "needs_attention"],
                s.f_status,
            ),
            _field("Traveler email", "traveler", s.f_traveler),
            _field("ICCID", "iccid", s.f_iccid),
            _field("Reference", "reference", s.f_reference),
            _field(
                "From (UTC, YYYY-MM-DD)",
                "date_from",
                s.f_from,
                placeholder="YYYY-MM-DD",
                input_mode="numeric",
                max_length=10,
            ),
            _field(
                "To (UTC, YYYY-MM-DD)",
                "date_to",
                s.f_to,
                placeholder="YYYY-MM-DD",
                input_mode="numeric",
                max_length=10,
            ),
        ),
        rx.cond(s.selected != "", _order_detail()),
        _table(
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


# ============================================================================ travelers
def _traveler_row(r: Any) -> rx.Component:
    s = AdminTravelersState
    return rx.table.row(
        rx.table.cell(rx.link(r["email"], href="/admin/travelers?user=" + r["user_id"])),
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


def _mini_row(*keys: str, link: tuple[str, str] | None = None) -> Callable[[Any], Any]:
    def row(r: Any) -> rx.Component:
        cells = []
        for i, key in enumerate(keys):
            if i == 0 and link is not None:
                cells.append(rx.table.cell(rx.link(r[key], href=link[0] + r[link[1]])))
            else:
                cells.append(rx.table.cell(r[key]))
        return rx.table.row(*cells)

    return row


def _mini_table(headers: list[str], rows: Any, row: Callable[[Any], Any]) -> rx.Component:
    return rx.box(
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
            rx.table.body(rx.foreach(rows, row)),
            size="1",
        ),
        overflow_x="auto",
        width="100%",
    )


def _traveler_detail() -> rx.Component:
    s = AdminTravelersState
    return _card(
        "Traveler",
        _kv("Email", s.person["email"], "person-email"),
        _kv("Since", s.person["created"]),
        _kv("Staff", s.person["staff"]),
        _kv("Deleted", s.person["deleted"]),
        rx.heading("eSIMs", size="3"),
        _mini_table(
            ["ICCID", "Endpoint", "State", "Endpoint status", "Install"],
            s.person_esims,
            _mini_row(
                "iccid",
                "endpoint_id",
                "state",
                "endpoint_status",
                "install",
                link=("/admin/esims?esim=", "esim_id"),
            ),
        ),
        rx.heading("Orders", size="3"),
        _mini_table(
            ["Order", "Created", "Kind", "Amount", "Status"],
            s.person_orders,
            _mini_row(
                "reference",
                "created",
                "kind",
                "amount",
                "status",
                link=("/admin/orders?order=", "order_id"),
            ),
        ),
        rx.heading("Replacement requests", size="3"),
        _mini_table(
            ["eSIM", "Status", "Created", "Reason"],
            s.person_requests,
            _mini_row(
                "esim_id", "status", "created", "reason", link=("/admin/esims?esim=", "esim_id")
            ),
        ),
        data_testid="traveler-detail",
    )


def travelers_page() -> rx.Component:
    s = AdminTravelersState
    return admin_page(
        "Travelers",
        _filters(
            s.search,
            _field("Email contains", "email", s.f_email),
            rx.hstack(
                rx.checkbox(name="staff_only", default_checked=s.f_staff),
                rx.text("Staff only", size="2"),
                align="center",
                align_self="end",
            ),
        ),
        rx.form(
            rx.flex(
                _field("Grant the staff role to (email)", "email", ""),
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
        _table(
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


# ============================================================================ eSIMs
def _esim_row(r: Any) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(r["esim_id"], href="/admin/esims?esim=" + r["esim_id"])),
        rx.table.cell(rx.code(r["iccid"])),
        rx.table.cell(r["endpoint_id"]),
        rx.table.cell(r["state"]),
        rx.table.cell(r["owner"]),
        rx.table.cell(rx.cond(r["endpoint_status"] != "", _badge(r["endpoint_status"]))),
        rx.table.cell(r["install"]),
        data_testid="esim-row",
    )


def _addon_row(a: Any) -> rx.Component:
    return rx.table.row(
        rx.table.cell(a["unique_id"]),
        rx.table.cell(a["plan"]),
        rx.table.cell(_badge(a["status"])),
        rx.table.cell(a["remaining"], " / ", a["initial"]),
        rx.table.cell(a["used"]),
        rx.table.cell(a["started"]),
        rx.table.cell(a["expires"]),
        data_testid="admin-addon",
        data_plan_id=a["plan_id"],
        data_status=a["status"],
    )


def _esim_detail() -> rx.Component:
    s = AdminEsimsState
    e = s.esim
    return _card(
        "eSIM details",
        _kv("ICCID", rx.code(e["iccid"]), "esim-iccid"),
        _kv("Endpoint", e["endpoint_id"], "esim-endpoint"),
        _kv("Owner", rx.link(e["owner"], href="/admin/travelers?user=" + e["user_id"])),
        _kv("Inventory state", e["state"]),
        _kv(
            "Endpoint status",
            rx.hstack(_badge(e["endpoint_status"]), rx.text(e["lifecycle_reason"], size="2")),
            "esim-endpoint-status",
        ),
        _kv(
            "Install status", rx.text(e["profile_status"], " (", e["install"], ")"), "esim-install"
        ),
        _kv("Figures from SFT", rx.text(e["synced"], " ", e["sync_error"])),
        _kv(
            "Replaced by eSIM",
            rx.text(e["replaced_by"], " ", e["replacement_status"]),
            "replaced-by",
        ),
        rx.cond(
            e["replaced_by"] != "",
            rx.link("Open the new eSIM", href="/admin/esims?esim=" + e["replaced_by"]),
        ),
        rx.heading("Add-ons", size="3"),
        _mini_table(
            ["uniqueId", "Plan", "Status", "Left / total", "Used", "Started", "Expires"],
            s.addons,
            _addon_row,
        ),
        rx.heading("Orders", size="3"),
        _mini_table(
            ["Order", "Kind", "Amount", "Status", "Created"],
            s.esim_orders,
            _mini_row(
                "reference",
                "kind",
                "amount",
                "status",
                "created",
                link=("/admin/orders?order=", "order_id"),
            ),
        ),
        rx.cond(
            s.esim_requests.length() > 0,
            rx.vstack(
                rx.heading("Replacement requests", size="3"),
                _mini_table(
                    ["Status", "Created", "Reason"],
                    s.esim_requests,
                    _mini_row("status", "created", "reason"),
                ),
                width="100%",
            ),
        ),
        rx.heading("Actions", size="3"),
        rx.flex(
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
        ),
        rx.form(
            rx.flex(
                rx.input(type="hidden", name="request_id", value=s.goodwill_key),
                rx.select.root(
                    rx.select.trigger(placeholder="Plan", aria_label="Goodwill plan"),
                    rx.select.content(
                        rx.foreach(
                            s.plans, lambda p: rx.select.item(p["label"], value=p["plan_id"])
                        )
                    ),
                    name="plan_id",
                    size="2",
                ),
                rx.input(
                    name="note", placeholder="Note (why)", aria_label="Goodwill note", size="2"
                ),
                rx.button("Give goodwill add-on", type="submit", disabled=s.busy, variant="soft"),
                wrap="wrap",
                spacing="2",
            ),
            on_submit=s.goodwill,
            reset_on_submit=False,
            width="100%",
        ),
        rx.form(
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
                    disabled=s.busy | (e["replaced_by"] != ""),
                    color_scheme="orange",
                ),
                wrap="wrap",
                spacing="2",
            ),
            on_submit=s.replace,
            reset_on_submit=True,
            width="100%",
        ),
        rx.cond(
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
                        rx.button(
                            "Consume data", type="submit", disabled=s.busy, variant="outline"
                        ),
                        spacing="2",
                        wrap="wrap",
                    ),
                    on_submit=s.consume,
                    reset_on_submit=True,
                ),
                rx.form(
                    rx.flex(
                        _var_select(s.profile_statuses, "status", "Profile status"),
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
        ),
        data_testid="esim-detail",
    )


def esims_page() -> rx.Component:
    s = AdminEsimsState
    return admin_page(
        "eSIMs",
        _filters(
            s.search,
            _field("ICCID or endpoint id", "query", s.f_query),
            _choice("State", "state", [ANY, "free", "reserved", "assigned", "retired"], s.f_state),
        ),
        rx.cond(s.selected != "", _esim_detail()),
        _table(
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


# ============================================================================ catalogue
def _plan_row(r: Any) -> rx.Component:
    s = AdminCatalogueState
    return rx.table.row(
        rx.table.cell(r["plan_id"]),
        rx.table.cell(r["sft_name"]),
        rx.table.cell(r["display_name"]),
        rx.table.cell(r["volume"], " · ", r["validity"]),
        rx.table.cell(r["price_text"]),
        rx.table.cell(rx.text(r["destinations"], size="1")),
        rx.table.cell(_badge(r["on_sale"])),
        rx.table.cell(r["platform"]),
        rx.table.cell(
            rx.button("Edit", size="1", variant="soft", on_click=s.start_edit(r["plan_id"]))
        ),
        data_testid="plan-row",
        data_plan_id=r["plan_id"],
    )


def _plan_editor() -> rx.Component:
    s = AdminCatalogueState
    return _card(
        "Edit plan",
        rx.text(s.editing, " · ", s.edit["sft_name"], size="2"),
        rx.form(
            rx.vstack(
                rx.flex(
                    _field("Display name", "display_name", s.edit["display_name"]),
                    _field("Price (e.g. 4.50; empty = none)", "price", s.edit["price"]),
                    _field("Currency", "currency", s.edit["currency"], max_length=3),
                    wrap="wrap",
                    spacing="3",
                    width="100%",
                ),
                _field(
                    "Destinations (ISO codes, space separated)",
                    "destinations",
                    s.edit["destinations"],
                ),
                rx.hstack(
                    rx.checkbox(name="on_sale", default_checked=s.edit_on_sale, id="f-on_sale"),
                    rx.text("On sale", as_="label", html_for="f-on_sale", size="2"),
                    align="center",
                ),
                rx.hstack(
                    rx.button("Save", type="submit"),
                    rx.button("Cancel", type="button", variant="soft", on_click=s.cancel_edit),
                ),
                width="100%",
            ),
            on_submit=s.save,
            reset_on_submit=False,
            width="100%",
            key=s.editing,
        ),
        data_testid="plan-editor",
    )


def catalogue_page() -> rx.Component:
    s = AdminCatalogueState
    return admin_page(
        "Catalogue",
        _filters(s.search, _field("Plan id or name", "query", s.f_query)),
        rx.cond(s.editing != "", _plan_editor()),
        _table(
            s,
            [
                ("Plan", "plan_id"),
                ("Platform name", "name"),
                ("Display name", None),
                ("Volume", None),
                ("Price", "price"),
                ("Destinations", None),
                ("On sale", "on_sale"),
                ("Platform", None),
                ("", None),
            ],
            _plan_row,
            "plans-table",
        ),
    )


# ============================================================================ outbox, audit
def _mail_row(r: Any) -> rx.Component:
    return rx.table.row(
        rx.table.cell(r["created"]),
        rx.table.cell(r["to"]),
        rx.table.cell(r["kind"]),
        rx.table.cell(r["subject"]),
        rx.table.cell(_badge(r["status"])),
        rx.table.cell(r["attempts"]),
        rx.table.cell(r["sent"]),
        rx.table.cell(r["error"]),
        data_testid="mail-row",
        data_kind=r["kind"],
    )


def outbox_page() -> rx.Component:
    s = AdminOutboxState
    return admin_page(
        "Outbox",
        rx.cond(
            s.mail_hint != "",
            rx.callout(
                s.mail_hint,
                icon="mail-warning",
                color_scheme="amber",
                width="100%",
                data_testid="outbox-smtp-hint",
            ),
        ),
        _filters(
            s.search,
            _choice("Status", "status", [ANY, "queued", "sending", "sent", "failed"], s.f_status),
            _field("Kind", "kind", s.f_kind),
            _field("To contains", "to", s.f_to),
        ),
        _table(
            s,
            [
                ("Queued", "created_at"),
                ("To", "to"),
                ("Kind", "kind"),
                ("Subject", None),
                ("Status", "status"),
                ("Tries", None),
                ("Sent", None),
                ("Error", None),
            ],
            _mail_row,
            "outbox-table",
        ),
    )


def _audit_row(r: Any) -> rx.Component:
    return rx.table.row(
        rx.table.cell(r["at"]),
        rx.table.cell(r["actor"]),
        rx.table.cell(rx.code(r["action"])),
        rx.table.cell(r["target"]),
        rx.table.cell(_badge(r["result"])),
        rx.table.cell(rx.text(r["detail"], size="1")),
        data_testid="audit-row",
        data_action=r["action"],
        data_result=r["result"],
    )


def audit_page() -> rx.Component:
    s = AdminAuditState
    return admin_page(
        "Audit log",
        rx.text(
            "Every staff action, as it happened. Entries cannot be edited or deleted.",
            size="2",
            color=rx.color("gray", 11),
        ),
        _filters(
            s.search,
            _field("Action starts with", "action", s.f_action),
            _field("Actor contains", "actor", s.f_actor),
            _field("Target id", "target", s.f_target),
            _choice("Result", "result", [ANY, "ok", "refused", "failed"], s.f_result),
        ),
        _table(
            s,
            [
                ("When", "at"),
                ("Who", "actor"),
                ("Action", "action"),
                ("Target", None),
                ("Result", "result"),
                ("Detail", None),
            ],
            _audit_row,
            "audit-table",
        ),
    )


# ============================================================================ simulator
def _fault_row(f: Any) -> rx.Component:
    return rx.table.row(
        rx.table.cell(f["id"]),
        rx.table.cell(f["operation"]),
        rx.table.cell(f["kind"]),
        rx.table.cell(f["count"]),
        rx.table.cell(f["fired"]),
        data_testid="fault-row",
    )


def simulator_page() -> rx.Component:
    s = AdminSimState
    return admin_page(
        "Simulator",
        rx.cond(
            AdminState.on_simulator,
            rx.vstack(
                rx.text(
                    "The portal runs on the built-in SFT simulator. Data use and profile "
                    "status are set per eSIM on its page (eSIMs).",
                    size="2",
                ),
                _card(
                    "Clock",
                    rx.text("Simulator time: ", s.clock, data_testid="sim-clock"),
                    rx.form(
                        rx.flex(
                            rx.input(
                                name="hours",
                                placeholder="Hours",
                                aria_label="Hours to advance",
                                type="number",
                                size="2",
                                width="8em",
                            ),
                            rx.button("Advance clock", type="submit"),
                            spacing="2",
                            wrap="wrap",
                        ),
                        on_submit=s.advance,
                        reset_on_submit=True,
                    ),
                ),
                _card(
                    "Faults",
                    rx.form(
                        rx.flex(
                            rx.input(
                                name="operation",
                                placeholder="Operation (e.g. SubscribeAddon, *)",
                                aria_label="Operation",
                                size="2",
                            ),
                            _var_select(s.fault_kinds, "kind", "Fault kind"),
                            rx.input(
                                name="count",
                                default_value="1",
                                aria_label="Count",
                                type="number",
                                size="2",
                                width="6em",
                            ),
                            rx.button("Inject fault", type="submit"),
                            spacing="2",
                            wrap="wrap",
                        ),
                        on_submit=s.inject,
                        reset_on_submit=False,
                    ),
                    _mini_table(["Id", "Operation", "Kind", "Left", "Fired"], s.faults, _fault_row),
                    rx.button(
                        "Clear all faults",
                        on_click=s.clear_faults,
                        variant="soft",
                        width="fit-content",
                    ),
                ),
                width="100%",
                spacing="4",
            ),
            rx.text("Simulator controls exist only when the portal runs on the simulator."),
        ),
    )


#: (component, route, title, on_load) of the admin pages, appended to ``travelsim.PAGES``.
ADMIN_PAGES: list[tuple[Callable[[], rx.Component], str, str, Any]] = [
    (overview_page, "/admin", "Admin", AdminOverviewState.load),
    (orders_page, "/admin/orders", "Admin: orders", AdminOrdersState.load),
    (travelers_page, "/admin/travelers", "Admin: travelers", AdminTravelersState.load),
    (esims_page, "/admin/esims", "Admin: eSIMs", AdminEsimsState.load),
    (catalogue_page, "/admin/catalogue", "Admin: catalogue", AdminCatalogueState.load),
    (outbox_page, "/admin/outbox", "Admin: outbox", AdminOutboxState.load),
    (audit_page, "/admin/audit", "Admin: audit log", AdminAuditState.load),
    (simulator_page, "/admin/simulator", "Admin: simulator", AdminSimState.load),
]
