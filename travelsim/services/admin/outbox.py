"""The outbox section: the emails queued or sent, and what the page says when no mail
server is configured."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db
from travelsim.models import OutboxEmail, OutboxStatus, utcnow
from travelsim.services.admin.base import (
    DEFAULT_PER_PAGE,
    ActionResult,
    PageResult,
    Refused,
    Staff,
    _act,
    _like,
    _paged,
    _sort,
    _when,
)
from travelsim.settings import Settings

#: How far back the home page counts failed emails.
FAILED_EMAILS_WINDOW = timedelta(days=7)

_OUTBOX_SORTS: dict[str, Any] = {
    "created_at": col(OutboxEmail.created_at),
    "status": col(OutboxEmail.status),
    "kind": col(OutboxEmail.kind),
    "to": col(OutboxEmail.to_address),
}


def mail_delivery_hint(settings: Settings) -> str | None:
    """What the outbox page says when no mail server is configured (``SMTP_HOST`` unset):
    where the emails go and how to send them; ``None`` when SMTP is configured."""
    if settings.smtp_host:
        return None
    where = (
        "They can be read in the demo mailbox at /demo/mailbox."
        if settings.app_env == "demo"
        else "Nobody receives them."
    )
    return (
        "SMTP is not configured (SMTP_HOST is not set): emails stay here, queued, "
        f"and are never sent. {where} To send them, set SMTP_HOST (and SMTP_PORT, "
        "SMTP_USERNAME, SMTP_PASSWORD, SMTP_TLS or SMTP_STARTTLS as your server needs) in the "
        "environment or .env and restart; queued emails then go out."
    )


async def list_outbox(
    session: AsyncSession,
    *,
    status: str | None = None,
    kind: str | None = None,
    to: str | None = None,
    sort: str = "created_at",
    desc: bool = True,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> PageResult:
    """Emails queued or sent, with their delivery state (bodies are not listed)."""
    query: Any = select(OutboxEmail)
    if status:
        query = query.where(col(OutboxEmail.status) == status)
    if kind:
        query = query.where(col(OutboxEmail.kind) == kind)
    if to:
        query = query.where(func.lower(col(OutboxEmail.to_address)).like(_like(to), escape="\\"))
    rows, total, page, per_page = await _paged(
        session,
        query,
        _sort(_OUTBOX_SORTS, sort, desc, "created_at", col(OutboxEmail.id)),
        page,
        per_page,
    )
    return PageResult(
        [
            {
                "id": str(m.id),
                "created": _when(m.created_at),
                "to": m.to_address,
                "kind": m.kind,
                "subject": m.subject,
                "status": m.status,
                "attempts": str(m.attempts),
                "sent": _when(m.sent_at),
                "error": m.last_error or "",
                "can_resend": "1" if m.status == OutboxStatus.FAILED else "",
            }
            for (m,) in rows
        ],
        total,
        page,
        per_page,
    )


async def failed_emails(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Emails given up (``failed``: a permanent SMTP refusal, or every retry used) and queued
    in the last :data:`FAILED_EMAILS_WINDOW`: the home page's figure."""
    since = (now or utcnow()) - FAILED_EMAILS_WINDOW
    query = (
        select(func.count())
        .select_from(OutboxEmail)
        .where(col(OutboxEmail.status) == OutboxStatus.FAILED, col(OutboxEmail.created_at) >= since)
    )
    return int((await session.exec(query)).one())


async def send_again(staff: Staff | None, email_id: int) -> ActionResult:
    """Put a ``failed`` email back in the queue, due now, with its attempts reset (after the
    mail relay or the address was fixed); its last error is kept until the next attempt.
    Refused for an email that is not failed (a queued or sent one is never sent twice).
    Audited as ``outbox.send_again``."""

    async def body() -> str:
        async with db.session() as s:
            result = await s.exec(
                update(OutboxEmail)
                .where(
                    col(OutboxEmail.id) == email_id, col(OutboxEmail.status) == OutboxStatus.FAILED
                )
                .values(status=OutboxStatus.QUEUED, attempts=0, next_attempt_at=None)
            )
            await s.commit()
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise Refused("only a failed email can be sent again")
        return f"email #{email_id} queued again; the email job sends it on its next run"

    return await _act(staff, "outbox.send_again", "email", str(email_id), body)
