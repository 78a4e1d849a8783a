"""The travelers section: the accounts list, one account's detail, and granting or revoking
the staff role."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db
from travelsim.esim.lifecycle import install_state
from travelsim.models import AccountDeletion, Esim, Order, ReplacementRequest, User
from travelsim.services.admin.base import (
    DEFAULT_PER_PAGE,
    ActionResult,
    PageResult,
    Refused,
    Staff,
    _act,
    _like,
    _money,
    _paged,
    _sort,
    _when,
)
from travelsim.services.auth.credentials import normalise_email
from travelsim.services.auth.errors import AccountError

_USER_SORTS: dict[str, Any] = {"created_at": col(User.created_at), "email": col(User.email)}


async def list_travelers(
    session: AsyncSession,
    *,
    email_query: str | None = None,
    staff_only: bool = False,
    sort: str = "created_at",
    desc: bool = True,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> PageResult:
    """Accounts filtered by email (substring) and role, with their eSIM and order counts."""
    esims = (
        select(func.count())
        .select_from(Esim)
        .where(col(Esim.user_id) == col(User.id))
        .correlate(User)
        .scalar_subquery()
    )
    orders = (
        select(func.count())
        .select_from(Order)
        .where(col(Order.user_id) == col(User.id))
        .correlate(User)
        .scalar_subquery()
    )
    query: Any = select(User, esims, orders)
    if email_query:
        query = query.where(func.lower(col(User.email)).like(_like(email_query), escape="\\"))
    if staff_only:
        query = query.where(col(User.is_staff).is_(True))
    rows, total, page, per_page = await _paged(
        session, query, _sort(_USER_SORTS, sort, desc, "created_at", col(User.id)), page, per_page
    )
    return PageResult(
        [
            {
                "user_id": str(user.id),
                "email": user.email,
                "created": _when(user.created_at),
                "verified": "yes" if user.email_verified_at else "no",
                "staff": "staff" if user.is_staff else "",
                "esims": str(n_esims),
                "orders": str(n_orders),
            }
            for user, n_esims, n_orders in rows
        ],
        total,
        page,
        per_page,
    )


async def traveler_detail(session: AsyncSession, user_id: int) -> dict[str, Any] | None:
    """One account with its eSIMs, orders (newest first, at most 50) and replacement
    requests."""
    user = await session.get(User, user_id)
    if user is None:
        return None
    esims = (
        await session.exec(select(Esim).where(col(Esim.user_id) == user_id).order_by(col(Esim.id)))
    ).all()
    own = (
        await session.exec(
            select(Order)
            .where(col(Order.user_id) == user_id)
            .order_by(col(Order.created_at).desc())
            .limit(50)
        )
    ).all()
    requests = (
        await session.exec(
            select(ReplacementRequest)
            .where(col(ReplacementRequest.user_id) == user_id)
            .order_by(col(ReplacementRequest.created_at).desc())
        )
    ).all()
    return {
        "user_id": str(user.id),
        "email": user.email,
        "staff": user.is_staff,
        "created": _when(user.created_at),
        "deleted": await session.get(AccountDeletion, user_id) is not None,
        "esims": [
            {
                "esim_id": str(e.id),
                "iccid": e.iccid,
                "endpoint_id": e.endpoint_id,
                "state": e.state,
                "endpoint_status": e.endpoint_status or "",
                "install": install_state(e.profile_status),
            }
            for e in esims
        ],
        "orders": [
            {
                "order_id": o.id,
                "reference": o.reference,
                "created": _when(o.created_at),
                "status": o.status,
                "kind": o.kind,
                "amount": _money(o.amount_minor, o.currency),
            }
            for o in own
        ],
        "requests": [
            {
                "id": str(r.id),
                "esim_id": str(r.esim_id),
                "status": r.status,
                "reason": r.reason,
                "created": _when(r.created_at),
            }
            for r in requests
        ],
    }


async def set_staff(
    actor: Staff | None, email_address: str, *, grant: bool, actor_label: str | None = None
) -> ActionResult:
    """Grant or revoke the staff role of the account ``email_address``. ``actor`` ``None``
    is the command line (``actor_label`` ``cli``) or the demo seed. Staff cannot revoke
    themselves (another admin must)."""

    try:
        address = normalise_email(email_address)
    except AccountError:
        address = email_address.strip().lower()[:254]

    async def body() -> str:
        async with db.session() as s:
            user = (await s.exec(select(User).where(col(User.email) == address))).first()
            if user is None or user.id is None:
                raise Refused("no account with this email")
            if await s.get(AccountDeletion, user.id) is not None:
                raise Refused("no account with this email")
            if not grant and actor is not None and actor.user_id == user.id:
                raise Refused("you cannot revoke your own staff role")
            if user.is_staff == grant:
                return "already staff" if grant else "was not staff"
            user.is_staff = grant
            s.add(user)
            await s.commit()
        return (
            "staff role granted (two-step verification required at next sign-in)"
            if grant
            else "staff role revoked"
        )

    return await _act(
        actor,
        "staff.grant" if grant else "staff.revoke",
        "user",
        address,
        body,
        actor_label=actor_label,
    )
