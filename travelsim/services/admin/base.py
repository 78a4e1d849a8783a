"""What every staff section shares: who acts, the audited action, and list plumbing.

Who may call what
    The admin pages' handlers resolve the staff member from the session cookie with
    :func:`staff_user` (``auth.staff.require_staff``: staff role, live session, second factor
    passed) and pass a :class:`Staff` to the actions. Every action re-reads the role from the
    database before doing anything (a role revoked mid-session stops at once) and writes
    exactly one :class:`~travelsim.models.AuditLog` row (who, when, action, target, ``ok`` /
    ``refused`` / ``failed``, detail): :func:`_act`. The audit log is append-only: nothing here
    updates or deletes it, and the database refuses it (migration 0006 triggers).
Lists
    Every list pages on the server: one ``COUNT(*)`` over the filtered query and one
    ``LIMIT``/``OFFSET`` page of it, sorted by a whitelisted column (:class:`PageResult`).
    Rows are dicts of display strings (plus raw ids), ready for a table. Counts are words
    with their number (:func:`count_of`: "1 row", "2 rows"). Times are UTC, labelled "UTC";
    date filters are UTC days written ``YYYY-MM-DD`` (:func:`parse_filter_day`), never a
    locale format such as mm/dd/yyyy.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db
from travelsim.formatting import format_money
from travelsim.models import AuditLog, OrderStatus, User, utcnow
from travelsim.services import live, provisioning, usage_sync
from travelsim.services.auth.errors import AccountError
from travelsim.services.auth.sessions import user_for_token
from travelsim.services.auth.staff import require_staff
from travelsim.services.payments import PaymentProviderError
from travelsim.sft.client import SFTClient
from travelsim.sft.errors import SFTError
from travelsim.sft.models import Priority

log = logging.getLogger(__name__)

#: Page sizes accepted by the lists.
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
#: Priority of every SFT request a staff member causes.
PRIORITY = Priority.REFRESH

#: Keyword arguments passed on to ``provisioning.run_order`` (tests: fast backoff, ...).
RunOptions = dict[str, Any]
#: What an action's body returns: the message, or the message and data (e.g. new ids).
ActionBody = Callable[[], Awaitable[str | tuple[str, dict[str, Any]]]]


# ============================================================================ who
@dataclass(frozen=True)
class Staff:
    """The staff member acting (resolved from the session by :func:`staff_user`)."""

    user_id: int
    email: str


async def staff_user(session_token: str | None) -> Staff | None:
    """The staff member behind a session cookie value, or ``None``: not signed in, not
    staff, session dead, or the second factor not passed in this session
    (``auth.staff.require_staff``). Never raises for those cases."""
    user = await user_for_token(session_token)
    try:
        checked = await require_staff(user, session_token)
    except AccountError:
        return None
    assert checked.id is not None
    return Staff(checked.id, checked.email)


async def _still_staff(staff: Staff) -> bool:
    """The role re-read at the start of every action (the session was checked by
    :func:`staff_user` when the page's handler ran)."""
    async with db.session() as s:
        user = await s.get(User, staff.user_id)
        return bool(user is not None and user.is_staff)


# ============================================================================ audit
@dataclass(frozen=True)
class ActionResult:
    """Outcome of a staff action: ``result`` ``ok`` / ``refused`` / ``failed`` (as in the
    audit log), a ``message`` for the staff member, and ``data`` (e.g. new ids)."""

    result: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the action was carried out."""
        return self.result == "ok"


class Refused(Exception):
    """A rule refused the action; the message says which (shown to staff, audited)."""


async def write_audit(
    *,
    actor: Staff | None,
    actor_label: str | None = None,
    action: str,
    target_type: str,
    target_id: str,
    result: str,
    detail: str,
) -> AuditLog:
    """Append one audit row in its own transaction (committed). ``actor`` ``None`` means the
    command line or the seed (``actor_label``)."""
    row = AuditLog(
        at=utcnow(),
        actor_user_id=actor.user_id if actor else None,
        actor=(actor.email if actor else (actor_label or "system"))[:254],
        action=action[:40],
        target_type=target_type[:20],
        target_id=str(target_id)[:64],
        result=result,
        detail=detail[:1000],
    )
    async with db.session() as s:
        s.add(row)
        await s.commit()
        await s.refresh(row)
    log.info(
        "staff action",
        extra={"action": row.action, "target": row.target_id, "result": row.result},
    )
    return row


async def _act(
    staff: Staff | None,
    action: str,
    target_type: str,
    target_id: str,
    body: ActionBody,
    *,
    actor_label: str | None = None,
) -> ActionResult:
    """Run ``body`` as one audited action (module docstring): refused when the role was
    revoked, ``refused`` on :class:`Refused`, ``failed`` on a platform, payment provider or
    unexpected error; one audit row in every case. Never raises."""
    if staff is not None and not await _still_staff(staff):
        outcome = ActionResult("refused", "Your staff role was revoked.")
    else:
        try:
            value = await body()
            message, data = value if isinstance(value, tuple) else (value, {})
            outcome = ActionResult("ok", message, data)
        except Refused as exc:
            outcome = ActionResult("refused", str(exc))
        except SFTError as exc:
            outcome = ActionResult("failed", f"platform error: {type(exc).__name__} {exc}"[:500])
        except PaymentProviderError as exc:
            outcome = ActionResult("failed", f"payment provider error: {exc.code}")
        except Exception as exc:
            log.exception("staff action %s failed", action)
            outcome = ActionResult("failed", f"unexpected error ({type(exc).__name__})")
    await write_audit(
        actor=staff,
        actor_label=actor_label,
        action=action,
        target_type=target_type,
        target_id=target_id,
        result=outcome.result,
        detail=outcome.message,
    )
    return outcome


async def _sync_quietly(client: SFTClient, esim_ids: list[int]) -> None:
    """Re-read the eSIMs' figures after a staff change (a failure is logged, not raised) and
    tell their open pages."""
    try:
        await usage_sync.sync_esims(client, esim_ids, priority=PRIORITY)
    except Exception:
        log.warning("admin: figures sync failed for %s", esim_ids, exc_info=True)
    live.notify(*esim_ids)


def run_in_progress(status: str, updated_at: datetime) -> bool:
    """True while a provisioning run holds an order (``status``, ``updated_at`` UTC):
    ``provisioning`` with a heartbeat younger than ``provisioning.DEFAULT_LEASE`` (an older
    one is a dead run). Staff neither retry nor void such an order."""
    return status == OrderStatus.PROVISIONING and updated_at > (
        utcnow() - provisioning.DEFAULT_LEASE
    )


# ============================================================================ paging
def count_of(n: int, singular: str, plural: str | None = None) -> str:
    """``n`` and the noun in the right number: ``count_of(1, "row")`` → ``"1 row"``,
    ``count_of(2, "row")`` → ``"2 rows"`` (``plural`` defaults to ``singular + "s"``)."""
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def parse_filter_day(text: str | None) -> date | None:
    """A date filter: a UTC day written ``YYYY-MM-DD`` (ISO 8601), or ``None`` when empty.
    Raises ``ValueError`` (message naming the expected format) for anything else, e.g. the
    ambiguous ``03/01/2026``."""
    value = (text or "").strip()
    if not value:
        return None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError(f"{value[:20]!r} is not a date: write it as YYYY-MM-DD (UTC)")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a valid date: write it as YYYY-MM-DD (UTC)") from None


@dataclass(frozen=True)
class PageResult:
    """One page of a list: ``rows`` (display dicts), ``total`` rows matching the filters,
    1-based ``page`` and ``per_page``."""

    rows: list[dict[str, str]]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """Number of pages (at least 1)."""
        return max(1, -(-self.total // self.per_page))

    @property
    def count_label(self) -> str:
        """``total`` in words: ``"1 row"``, ``"2 rows"``."""
        return count_of(self.total, "row")


def clamp_page(page: int, per_page: int) -> tuple[int, int]:
    """``page`` ≥ 1 and ``per_page`` within 1..:data:`MAX_PER_PAGE`."""
    return max(1, int(page)), min(MAX_PER_PAGE, max(1, int(per_page)))


async def _paged(
    session: AsyncSession,
    query: Any,
    order_by: list[Any],
    page: int,
    per_page: int,
) -> tuple[list[Any], int, int, int]:
    """Count the filtered ``query`` and fetch one page of it (LIMIT/OFFSET)."""
    page, per_page = clamp_page(page, per_page)
    total = int(
        (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    )
    rows = (
        await session.execute(
            query.order_by(*order_by).limit(per_page).offset((page - 1) * per_page)
        )
    ).all()
    return list(rows), total, page, per_page


def _sort(columns: dict[str, Any], sort: str, desc: bool, default: str, tiebreak: Any) -> list[Any]:
    """``ORDER BY`` the whitelisted column ``sort`` (``default`` when unknown), then
    ``tiebreak``, both ascending or both descending."""
    column = columns.get(sort, columns[default])
    return [column.desc() if desc else column.asc(), tiebreak.desc() if desc else tiebreak.asc()]


def _when(value: datetime | None) -> str:
    """``YYYY-MM-DD HH:MM UTC``, or ``""`` for ``None``."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else ""


def _like(text: str) -> str:
    """A case-folded ``LIKE`` pattern matching ``text`` anywhere (escape character ``\\``)."""
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _money(amount_minor: int | None, currency: str | None) -> str:
    """An amount in minor units as money text; ``""`` without amount or currency."""
    if amount_minor is None or not currency:
        return ""
    try:
        return format_money(amount_minor, currency)
    except Exception:  # an unknown currency code must not break a list
        return f"{amount_minor} {currency}"
