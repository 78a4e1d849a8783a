"""``/admin``: the business at a glance (figures, platform, background jobs)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from travelsim.components.admin_widgets import badge, card, figure
from travelsim.pages.admin.layout import ORDERS, OUTBOX, RECONCILIATION, admin_page
from travelsim.state.admin.overview import AdminOverviewState


def _job_row(j: Any) -> rx.Component:
    return rx.table.row(
        rx.table.cell(j["job"]),
        rx.table.cell(j["at"]),
        rx.table.cell(badge(j["health"])),
        rx.table.cell(j["duration"]),
        rx.table.cell(j["calls"]),
        rx.table.cell(j["rate_limited"]),
        rx.table.cell(j["errors"]),
        rx.table.cell(j["staleness"]),
        data_testid="job-row",
    )


def _figures() -> rx.Component:
    """The headline figures; "needing attention" links to those orders."""
    s = AdminOverviewState
    return rx.flex(
        figure("Orders today", s.figures["orders_today"], "fig-orders-today"),
        figure("Revenue today", rx.text(s.revenue_today.join(" · ")), "fig-revenue-today"),
        figure("Revenue 30 days", rx.text(s.revenue_30d.join(" · ")), "fig-revenue-30d"),
        figure(
            "eSIMs delivered today / total",
            rx.text(s.figures["delivered_today"], " / ", s.figures["delivered_total"]),
            "fig-delivered",
        ),
        figure(
            "Free eSIMs (alert below)",
            rx.text(s.figures["free_esims"], " (", s.figures["threshold"], ")"),
            "fig-free",
            background_color=rx.cond(s.low_stock, rx.color("amber", 3), "transparent"),
        ),
        rx.link(
            figure(
                "Orders needing attention",
                s.figures["needs_attention"],
                "fig-attention",
            ),
            href=ORDERS + "?status=needs_attention",
            underline="none",
            color="inherit",
            flex="1",
        ),
        figure("Flagged payments", s.figures["flagged"], "fig-flagged"),
        figure("Open replacement requests", s.figures["replacements"], "fig-replacements"),
        rx.link(
            figure(
                "Emails failed (7 days)",
                s.figures["failed_emails"],
                "fig-failed-emails",
                background_color=rx.cond(
                    s.figures["failed_emails"] != "0", rx.color("amber", 3), "transparent"
                ),
            ),
            href=OUTBOX + "?status=failed",
            underline="none",
            color="inherit",
            flex="1",
        ),
        rx.link(
            figure(
                "Reconciliation: open",
                s.figures["discrepancies"],
                "fig-reconciliation",
                background_color=rx.cond(
                    s.figures["discrepancies"] != "0", rx.color("amber", 3), "transparent"
                ),
            ),
            href=RECONCILIATION,
            underline="none",
            color="inherit",
            flex="1",
        ),
        wrap="wrap",
        spacing="3",
        width="100%",
    )


def _platform() -> rx.Component:
    """SFT reachability and the platform callbacks' figures."""
    s = AdminOverviewState
    return card(
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
            " failed · ",
            s.callbacks["unrecognised"],
            " unrecognised",
            size="2",
            data_testid="callbacks",
        ),
        rx.cond(s.unrecognised.length() > 0, _unrecognised()),
    )


def _unrecognised_row(e: Any) -> rx.Component:
    """One event: what it was and why it was not applied on a line, the raw body below it at
    full width (a body column would be a few characters wide on a phone)."""
    return rx.box(
        rx.text(
            rx.text.strong("#", e["id"]),
            " · ",
            e["at"],
            " · ",
            e["type"],
            " · ",
            e["reason"],
            size="2",
        ),
        rx.code(
            e["body"],
            size="1",
            white_space="pre-wrap",
            word_break="break-all",
            display="block",
            width="100%",
        ),
        padding_y="0.4em",
        border_top="1px solid var(--gray-a5)",
        width="100%",
        data_testid="unrecognised-row",
    )


def _unrecognised() -> rx.Component:
    """The newest platform events the portal did not understand, with their raw body (as
    text, cut at 500 characters): staff can tell BICS what arrived."""
    s = AdminOverviewState
    return rx.box(
        rx.text(
            "Platform events not understood (newest first; stored, not applied):",
            size="2",
            weight="medium",
        ),
        rx.foreach(s.unrecognised, _unrecognised_row),
        width="100%",
        data_testid="unrecognised-events",
    )


_JOB_COLUMNS = ("Job", "Started", "Health", "Took", "Calls", "429s", "Errors", "Oldest figure")


def _jobs() -> rx.Component:
    """Each background job's last run (or a line saying there was none)."""
    s = AdminOverviewState
    return card(
        "Background jobs (last run)",
        rx.cond(
            s.jobs.length() > 0,
            rx.box(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(*[rx.table.column_header_cell(h) for h in _JOB_COLUMNS])
                    ),
                    rx.table.body(rx.foreach(s.jobs, _job_row)),
                    size="1",
                ),
                overflow_x="auto",
                width="100%",
            ),
            rx.text("No background run recorded yet.", size="2"),
        ),
    )


def overview_page() -> rx.Component:
    """``/admin``: figures, platform, background jobs."""
    return admin_page("Admin", _figures(), _platform(), _jobs())
