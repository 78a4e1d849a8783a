"""``/admin/outbox`` (emails and their delivery state) and ``/admin/audit`` (the audit log)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from travelsim.components.admin_widgets import badge, choice, field, filters, table
from travelsim.pages.admin.layout import admin_page
from travelsim.state.admin.outbox import (
    MAIL_STATUS_CHOICES,
    RESULT_CHOICES,
    AdminAuditState,
    AdminOutboxState,
)


def _mail_row(r: Any) -> rx.Component:
    return rx.table.row(
        rx.table.cell(r["created"]),
        rx.table.cell(r["to"]),
        rx.table.cell(r["kind"]),
        rx.table.cell(r["subject"]),
        rx.table.cell(badge(r["status"])),
        rx.table.cell(r["attempts"]),
        rx.table.cell(r["sent"]),
        rx.table.cell(r["error"]),
        rx.table.cell(
            rx.cond(
                r["can_resend"] != "",
                rx.button(
                    "Send again",
                    size="1",
                    variant="soft",
                    on_click=AdminOutboxState.send_again(r["id"]),
                    disabled=AdminOutboxState.busy,
                    data_testid="mail-send-again",
                ),
            )
        ),
        data_testid="mail-row",
        data_kind=r["kind"],
    )


def outbox_page() -> rx.Component:
    """``/admin/outbox``: where mail goes without SMTP, filters, the emails table."""
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
        filters(
            s.search,
            choice("Status", "status", MAIL_STATUS_CHOICES, s.f_status),
            field("Kind", "kind", s.f_kind),
            field("To contains", "to", s.f_to),
        ),
        table(
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
                ("", None),
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
        rx.table.cell(badge(r["result"])),
        rx.table.cell(rx.text(r["detail"], size="1")),
        data_testid="audit-row",
        data_action=r["action"],
        data_result=r["result"],
    )


def audit_page() -> rx.Component:
    """``/admin/audit``: filters and the audit log's table (read-only)."""
    s = AdminAuditState
    return admin_page(
        "Audit log",
        rx.text(
            "Every staff action, as it happened. Entries cannot be edited or deleted.",
            size="2",
            color=rx.color("gray", 11),
        ),
        filters(
            s.search,
            field("Action starts with", "action", s.f_action),
            field("Actor contains", "actor", s.f_actor),
            field("Target id", "target", s.f_target),
            choice("Result", "result", RESULT_CHOICES, s.f_result),
        ),
        table(
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
