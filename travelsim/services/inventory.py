"""The local eSIM pool: mirror free SFT stock and hand out eSIMs exclusively.

SFT's ``fetchSIM ... page=1&perPage=1`` gives every concurrent caller the same "first free
SIM" (docs/sft-platform.md#fetchsim, docs/business-rules.md#esim-reservation), so exclusivity
never comes from the platform. It comes from this database:

* :func:`refill_pool` mirrors Pre-Active + attached SIMs (``fetchSIM?simStatusId=12&
  simAttachStatusId=1``, docs/sft-platform.md#fetchsim) as ``Esim(state="free")`` rows. Existing
  rows are never modified (a reserved, assigned or retired eSIM stays as it is).
* :func:`reserve` claims one free row for a checkout with a compare-and-set
  ``UPDATE ... WHERE id=:id AND state='free'`` (rowcount checked; a lost race retries with the
  next row). On PostgreSQL the candidate is picked with ``FOR UPDATE SKIP LOCKED`` so concurrent
  buyers do not even contend for the same row.
* :func:`release_expired` returns unpaid, expired reservations to the pool.
* :func:`assign` makes a reserved eSIM the buyer's for good (never reassigned).

States (``models.Esim``): ``free`` → ``reserved`` → ``assigned``; ``reserved`` → ``free`` on
expiry; ``retired`` is set by staff.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.models import Esim, InventoryState, utcnow
from travelsim.services.ownership import is_owner
from travelsim.sft.client import SFTClient
from travelsim.sft.models import Priority

__all__ = [
    "DEFAULT_PER_PAGE",
    "InventoryError",
    "assign",
    "extend",
    "free_count",
    "refill_pool",
    "release_expired",
    "reserve",
]

log = logging.getLogger(__name__)

#: fetchSIM page size used by :func:`refill_pool` (the cap is 250 per page, inferred:
#: docs/sft-platform.md#fetchsim).
DEFAULT_PER_PAGE = 100
#: Compare-and-set attempts in :func:`reserve` before giving up (each loss means another
#: buyer won a row, so the pool shrinks with every retry).
RESERVE_ATTEMPTS = 50


class InventoryError(Exception):
    """An eSIM could not change state as asked (e.g. assigning a row another checkout holds)."""


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


async def refill_pool(
    client: SFTClient,
    session: AsyncSession,
    *,
    max_pages: int = 10,
    per_page: int = DEFAULT_PER_PAGE,
    priority: Priority = Priority.PROVISIONING,
) -> int:
    """Insert the platform's free eSIMs that this database does not know yet; commit.

    Pages through ``GET fetchSIM?simStatusId=12&simAttachStatusId=1&page=N&perPage=per_page``
    (docs/sft-platform.md#fetchsim; 1-based pages) for at most ``max_pages`` pages. Rows without a
    linked endpoint are skipped. A row whose ICCID or endpoint id is already known is left untouched
    (``INSERT ... ON CONFLICT DO NOTHING``), so concurrent refills are safe and a reserved, assigned
    or retired eSIM is never reset to free.

    Returns the number of rows inserted. Raises the client's ``SFTError`` subclasses
    (rows inserted from earlier pages are committed page by page).
    """
    inserted = 0
    for page in range(1, max_pages + 1):
        rows, total = await client.fetch_sims(priority=priority, page=page, per_page=per_page)
        values: list[dict[str, Any]] = [
            {
                "iccid": r.iccid,
                "eid": r.eid,
                "endpoint_id": r.endpoint_id,
                "state": InventoryState.FREE,
                "updated_at": utcnow(),
            }
            for r in rows
            if r.endpoint_id
        ]
        if values:
            inserted += await _insert_ignore(session, values)
            await session.commit()
        # ``total`` may be just the row count when the platform omits totalCount (it is
        # inferred: docs/sft-platform.md#fetchsim), so a full page always asks for the next
        # one; an empty page ends the loop.
        if len(rows) < per_page or (total > per_page and page * per_page >= total):
            break
    if inserted:
        log.info("inventory refill", extra={"inserted": inserted})
    return inserted


async def _insert_ignore(session: AsyncSession, values: list[dict[str, Any]]) -> int:
    """Insert ``values`` into ``esim``, skipping rows that hit a unique constraint."""
    table: Any = Esim.__table__  # type: ignore[attr-defined]
    count = 0
    for row in values:
        if _dialect(session) == "postgresql":
            stmt: Any = postgresql.insert(table).values(**row).on_conflict_do_nothing()
        else:
            stmt = sqlite.insert(table).values(**row).on_conflict_do_nothing()
        result: Any = await session.execute(stmt)
        count += max(result.rowcount or 0, 0)
    return count


async def free_count(session: AsyncSession) -> int:
    """How many eSIMs are ``free`` in the local pool right now."""
    result = await session.execute(
        select(func.count()).select_from(Esim).where(col(Esim.state) == InventoryState.FREE)
    )
    return int(result.scalar_one())


async def reserve(session: AsyncSession, checkout_id: str, until: datetime) -> Esim | None:
    """Claim the lowest-id free eSIM for ``checkout_id`` until ``until`` (aware UTC).

    Compare-and-set: ``UPDATE esim SET state='reserved', checkout_id=:c, reserved_until=:u
    WHERE id=:id AND state='free'``; a rowcount of 0 means another buyer won that row, so the
    next candidate is tried (at most :data:`RESERVE_ATTEMPTS` times). PostgreSQL picks the
    candidate with ``SELECT ... FOR UPDATE SKIP LOCKED``.

    Returns the reserved row as stored (``UPDATE ... RETURNING``), or ``None`` when no free row
    is left.
    Does not commit: the caller commits (which also releases the PostgreSQL row lock).
    """
    pg = _dialect(session) == "postgresql"
    for _ in range(RESERVE_ATTEMPTS):
        query = (
            select(Esim.id)
            .where(col(Esim.state) == InventoryState.FREE)
            .order_by(col(Esim.id))
            .limit(1)
        )
        if pg:
            query = query.with_for_update(skip_locked=True)
        esim_id = (await session.execute(query)).scalar_one_or_none()
        if esim_id is None:
            return None
        result: Any = await session.execute(
            update(Esim)
            .where(col(Esim.id) == esim_id, col(Esim.state) == InventoryState.FREE)
            .values(
                state=InventoryState.RESERVED,
                checkout_id=checkout_id,
                reserved_until=until,
                updated_at=utcnow(),
            )
            .returning(Esim)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        reserved: Esim | None = result.scalars().one_or_none()
        if reserved is not None:
            return reserved
    log.warning("inventory reserve gave up after %d lost races", RESERVE_ATTEMPTS)
    return None


async def _fresh(session: AsyncSession, esim_id: int) -> Esim | None:
    query = select(Esim).where(col(Esim.id) == esim_id).execution_options(populate_existing=True)
    return (await session.exec(query)).one_or_none()


async def extend(session: AsyncSession, esim_id: int, checkout_id: str, until: datetime) -> bool:
    """Move the end of ``checkout_id``'s reservation of ``esim_id`` to ``until`` if the row is
    still reserved for it (compare-and-set). Returns ``False`` when the reservation is gone.
    Does not commit."""
    result: Any = await session.execute(
        update(Esim)
        .where(
            col(Esim.id) == esim_id,
            col(Esim.state) == InventoryState.RESERVED,
            col(Esim.checkout_id) == checkout_id,
        )
        .values(reserved_until=until, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)


async def release_expired(session: AsyncSession, now: datetime) -> int:
    """Return every reservation that ended before ``now`` (aware UTC) to the pool and commit.

    Only ``reserved`` rows are touched (an assigned eSIM is never freed), in one
    compare-and-set ``UPDATE``. The checkout itself stays ``open``: paying later re-reserves
    (``checkout_payment.pay``). Returns the number of eSIMs released.
    """
    result: Any = await session.execute(
        update(Esim)
        .where(col(Esim.state) == InventoryState.RESERVED, col(Esim.reserved_until) < now)
        .values(
            state=InventoryState.FREE, checkout_id=None, reserved_until=None, updated_at=utcnow()
        )
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    released = int(result.rowcount or 0)
    if released:
        log.info("inventory released expired reservations", extra={"released": released})
    return released


async def assign(
    session: AsyncSession,
    esim: Esim | int,
    user_id: int,
    *,
    checkout_id: str | None = None,
    destination: str | None = None,
) -> Esim:
    """Make ``esim`` (a row or its id) belong to ``user_id`` for good (state ``assigned``).

    Compare-and-set from ``reserved`` (and, if ``checkout_id`` is given, reserved for that
    checkout); assigning a row already assigned to the same user is a no-op. Returns the row
    as now stored (``UPDATE ... RETURNING``; re-read when nothing was updated). Raises
    :class:`InventoryError` if the row is missing, free, retired, assigned to someone else, or
    reserved for another checkout. Does not commit.
    """
    esim_id = esim if isinstance(esim, int) else esim.id
    assert esim_id is not None
    conditions = [col(Esim.id) == esim_id, col(Esim.state) == InventoryState.RESERVED]
    if checkout_id is not None:
        conditions.append(col(Esim.checkout_id) == checkout_id)
    now = utcnow()
    result: Any = await session.execute(
        update(Esim)
        .where(*conditions)
        .values(
            state=InventoryState.ASSIGNED,
            user_id=user_id,
            reserved_until=None,
            assigned_at=now,
            updated_at=now,
            destination=destination,
        )
        .returning(Esim)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    updated: Esim | None = result.scalars().one_or_none()
    if updated is not None:
        return updated
    fresh = await _fresh(session, esim_id)
    if fresh is None:
        raise InventoryError("eSIM vanished")
    if not is_owner(fresh, user_id):
        raise InventoryError(f"eSIM {esim_id} is {fresh.state}, not reserved for this checkout")
    return fresh
