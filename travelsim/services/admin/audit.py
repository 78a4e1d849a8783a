"""The audit section: reading the audit log (rows are written by ``base._act``, one per
staff action; the log is append-only)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.models import AuditLog
from travelsim.services.admin.base import DEFAULT_PER_PAGE, PageResult, _like, _paged, _sort, _when

_AUDIT_SORTS: dict[str, Any] = {
    "at": col(AuditLog.at),
    "action": col(AuditLog.action),
    "actor": col(AuditLog.actor),
    "result": col(AuditLog.result),
}


async def list_audit(
    session: AsyncSession,
    *,
    action: str | None = None,
    actor: str | None = None,
    target: str | None = None,
    result: str | None = None,
    sort: str = "at",
    desc: bool = True,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> PageResult:
    """The audit log, filtered by action prefix, actor (substring), target id and result."""
    query: Any = select(AuditLog)
    if action:
        query = query.where(col(AuditLog.action).like(action.strip() + "%"))
    if actor:
        query = query.where(func.lower(col(AuditLog.actor)).like(_like(actor), escape="\\"))
    if target:
        query = query.where(col(AuditLog.target_id) == target.strip())
    if result:
        query = query.where(col(AuditLog.result) == result)
    rows, total, page, per_page = await _paged(
        session, query, _sort(_AUDIT_SORTS, sort, desc, "at", col(AuditLog.id)), page, per_page
    )
    return PageResult(
        [
            {
                "id": str(a.id),
                "at": _when(a.at),
                "actor": a.actor,
                "action": a.action,
                "target": f"{a.target_type} {a.target_id}",
                "result": a.result,
                "detail": a.detail,
            }
            for (a,) in rows
        ],
        total,
        page,
        per_page,
    )
