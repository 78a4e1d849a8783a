"""``/admin/outbox`` (emails and their delivery state) and ``/admin/audit`` (the audit log,
read-only)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from travelsim import db
from travelsim.services import admin
from travelsim.services.admin import PageResult, Staff
from travelsim.settings import get_settings
from travelsim.state.admin.base import (
    ANY,
    AdminState,
    FormFilter,
    ListMixin,
    filter_value,
    staff_background,
)

#: The options of the outbox's status filter ("sending" matches no email today).
MAIL_STATUS_CHOICES: list[str] = [ANY, "queued", "sending", "sent", "failed"]
#: The options of the audit log's result filter (``ActionResult.result``).
RESULT_CHOICES: list[str] = [ANY, "ok", "refused", "failed"]


class AdminOutboxState(ListMixin, AdminState):
    """``/admin/outbox``: emails and their delivery state; ``mail_hint`` says where mail
    goes when no SMTP server is configured (empty when one is)."""

    f_status: str = ANY
    f_kind: str = ""
    f_to: str = ""
    mail_hint: str = ""

    filters: ClassVar[tuple[FormFilter, ...]] = (
        FormFilter("f_status", "status", "choice"),
        FormFilter("f_kind", "kind", max_len=32),
        FormFilter("f_to", "to", max_len=100),
    )

    def _forget(self) -> None:
        self.rows = []

    async def _fetch(self) -> PageResult:
        async with db.session() as s:
            return await admin.list_outbox(
                s,
                status=filter_value(self.f_status),
                kind=filter_value(self.f_kind),
                to=filter_value(self.f_to),
                sort=self.sort or "created_at",
                desc=self.desc,
                page=self.page,
                per_page=self.per_page,
            )

    def _on_open(self, query: Mapping[str, str]) -> None:
        """Where mail goes without SMTP; ``?status=`` filters (the home page's "Emails failed"
        links to ``?status=failed``)."""
        self.mail_hint = admin.mail_delivery_hint(get_settings()) or ""
        status = str(query.get("status", ""))
        self.f_status = status if status in MAIL_STATUS_CHOICES[1:] else ANY

    @staff_background
    async def send_again(self, staff: Staff, email_id: str) -> None:
        """Queue a failed email again (``admin.send_again``); the notice says the outcome and
        the list is re-read."""
        if not email_id.isdigit():
            return
        await self._perform(lambda: admin.send_again(staff, int(email_id)))


class AdminAuditState(ListMixin, AdminState):
    """``/admin/audit``: the audit log (read-only)."""

    f_action: str = ""
    f_actor: str = ""
    f_result: str = ANY
    f_target: str = ""

    filters: ClassVar[tuple[FormFilter, ...]] = (
        FormFilter("f_action", "action", max_len=40),
        FormFilter("f_actor", "actor", max_len=100),
        FormFilter("f_result", "result", "choice"),
        FormFilter("f_target", "target", max_len=64),
    )

    def _forget(self) -> None:
        self.rows = []

    async def _fetch(self) -> PageResult:
        async with db.session() as s:
            return await admin.list_audit(
                s,
                action=filter_value(self.f_action),
                actor=filter_value(self.f_actor),
                target=filter_value(self.f_target),
                result=filter_value(self.f_result),
                sort=self.sort or "at",
                desc=self.desc,
                page=self.page,
                per_page=self.per_page,
            )

    def _on_open(self, query: Mapping[str, str]) -> None:
        """``?target=`` filters by target id."""
        self.f_target = str(query.get("target", ""))[:64]
