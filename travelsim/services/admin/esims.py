"""The eSIMs section: the eSIMs list, one eSIM's detail, refreshing it from SFT, and the
staff suspension (suspend / resume, docs/business-rules.md#staff-suspension). Goodwill
add-ons and replacements: :mod:`.staff_orders`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db
from travelsim.esim.addons import draw_key, effective_status, live_count
from travelsim.esim.lifecycle import STAFF_REASON, endpoint_state, install_state
from travelsim.formatting import format_bytes
from travelsim.models import (
    Esim,
    EsimAddon,
    EsimReplacement,
    EsimSync,
    Order,
    ReplacementRequest,
    User,
    utcnow,
)
from travelsim.services import live, usage_sync
from travelsim.services.admin.base import (
    DEFAULT_PER_PAGE,
    PRIORITY,
    ActionResult,
    PageResult,
    Refused,
    Staff,
    _act,
    _like,
    _money,
    _paged,
    _sort,
    _sync_quietly,
    _when,
    count_of,
)
from travelsim.sft.client import SFTClient
from travelsim.sft.errors import SFTBusinessError, SFTError, SFTOutcomeUnknown

#: The lifecycle reasons SFT reports, in words.
_REASONS = {"1": "System", "2": "Dunning", "3": "Staff (CSR)"}

_ESIM_SORTS: dict[str, Any] = {
    "id": col(Esim.id),
    "iccid": col(Esim.iccid),
    "endpoint_id": col(Esim.endpoint_id),
    "state": col(Esim.state),
    "updated_at": col(Esim.updated_at),
}


async def list_esims(
    session: AsyncSession,
    *,
    query_text: str | None = None,
    state: str | None = None,
    sort: str = "id",
    desc: bool = True,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> PageResult:
    """eSIMs whose ICCID or endpoint id contains ``query_text``, optionally in ``state``."""
    query: Any = select(Esim, User.email).outerjoin(User, col(User.id) == col(Esim.user_id))
    if query_text:
        pattern = _like(query_text)
        query = query.where(
            or_(
                col(Esim.iccid).like(pattern, escape="\\"),
                col(Esim.endpoint_id).like(pattern, escape="\\"),
            )
        )
    if state:
        query = query.where(col(Esim.state) == state)
    rows, total, page, per_page = await _paged(
        session, query, _sort(_ESIM_SORTS, sort, desc, "id", col(Esim.id)), page, per_page
    )
    return PageResult(
        [
            {
                "esim_id": str(e.id),
                "iccid": e.iccid,
                "endpoint_id": e.endpoint_id,
                "state": e.state,
                "owner": owner or "",
                "endpoint_status": e.endpoint_status or "",
                "install": install_state(e.profile_status),
                "updated": _when(e.updated_at),
            }
            for e, owner in rows
        ],
        total,
        page,
        per_page,
    )


def _addon_row(a: EsimAddon, now: datetime) -> dict[str, str]:
    """One add-on of :func:`esim_detail`: status as the traveler sees it at ``now``, volumes
    as text."""
    return {
        "unique_id": a.unique_id,
        "plan": a.plan_name or a.plan_id,
        "plan_id": a.plan_id,
        "status": effective_status(a, now),
        "remaining": format_bytes(a.remaining_bytes),
        "initial": format_bytes(a.initial_bytes),
        "used": format_bytes(a.used_bytes),
        "started": _when(a.started_at),
        "expires": _when(a.expires_at),
    }


async def _replacements(
    session: AsyncSession, esim_id: int
) -> tuple[EsimReplacement | None, EsimReplacement | None]:
    """The replacement of ``esim_id`` (it is the old eSIM) and the one it came from (it is
    the new eSIM); either may be ``None``."""
    replaced = (
        await session.exec(
            select(EsimReplacement).where(col(EsimReplacement.old_esim_id) == esim_id)
        )
    ).first()
    replaces = (
        await session.exec(
            select(EsimReplacement).where(col(EsimReplacement.new_esim_id) == esim_id)
        )
    ).first()
    return replaced, replaces


async def esim_detail(session: AsyncSession, esim_id: int) -> dict[str, Any] | None:
    """One eSIM: owner, endpoint state and lifecycle reason, install status, add-ons with
    figures, its orders, replacement requests and replacement record."""
    esim = await session.get(Esim, esim_id)
    if esim is None:
        return None
    owner = await session.get(User, esim.user_id) if esim.user_id else None
    sync = await session.get(EsimSync, esim_id)
    now = utcnow()
    addons = sorted(
        (await session.exec(select(EsimAddon).where(col(EsimAddon.esim_id) == esim_id))).all(),
        key=draw_key,
    )
    orders = (
        await session.exec(
            select(Order).where(col(Order.esim_id) == esim_id).order_by(col(Order.created_at))
        )
    ).all()
    requests = (
        await session.exec(
            select(ReplacementRequest)
            .where(col(ReplacementRequest.esim_id) == esim_id)
            .order_by(col(ReplacementRequest.created_at).desc())
        )
    ).all()
    replaced, replaces = await _replacements(session, esim_id)
    reason = sync.lifecycle_reason if sync else None
    status = (sync.endpoint_status if sync else None) or esim.endpoint_status
    suspended = endpoint_state(status) == "suspended"
    return {
        "esim_id": str(esim.id),
        "iccid": esim.iccid,
        "eid": esim.eid or "",
        "endpoint_id": esim.endpoint_id,
        "state": esim.state,
        "owner": owner.email if owner else "",
        "user_id": str(esim.user_id or ""),
        "nickname": esim.nickname or "",
        "endpoint_status": status or "unknown",
        "suspended": suspended,
        "staff_suspended": suspended and reason == STAFF_REASON,
        # The platform keeps the last suspension's reason after a resume: show it only
        # while the endpoint is suspended.
        "lifecycle_reason": _REASONS.get(reason or "", reason or "") if suspended else "",
        "profile_status": esim.profile_status or "unknown",
        "install": install_state(esim.profile_status),
        "synced": _when(sync.synced_at if sync else None),
        "sync_error": (sync.last_error or "") if sync else "",
        "live_addons": live_count(addons, now),
        "addons": [_addon_row(a, now) for a in addons],
        "orders": [
            {
                "order_id": o.id,
                "reference": o.reference,
                "status": o.status,
                "kind": o.kind,
                "amount": _money(o.amount_minor, o.currency),
                "created": _when(o.created_at),
            }
            for o in orders
        ],
        "requests": [
            {
                "id": str(r.id),
                "status": r.status,
                "reason": r.reason,
                "created": _when(r.created_at),
            }
            for r in requests
        ],
        "replaced_by": str(replaced.new_esim_id or "") if replaced else "",
        "replacement_status": replaced.status if replaced else "",
        "replaces": str(replaces.old_esim_id) if replaces else "",
    }


async def refresh_esim(staff: Staff, esim_id: int, *, client: SFTClient) -> ActionResult:
    """Re-read one eSIM from SFT (``usage_sync.sync_esims`` at refresh priority)."""

    async def body() -> str:
        result = await usage_sync.sync_esims(client, [esim_id], priority=PRIORITY)
        outcome = result.outcomes[0]
        live.notify(esim_id)
        if not outcome.ok:
            if outcome.error == "not_found":
                raise Refused("unknown eSIM")
            raise SFTErrorText(outcome.error or "sync failed")
        return f"refreshed from SFT ({count_of(outcome.changed_rows, 'row')} changed)"

    return await _act(staff, "esim.refresh", "esim", str(esim_id), body)


class SFTErrorText(SFTError):
    """A platform failure known only by its recorded text (from a sync outcome)."""

    def __init__(self, text: str) -> None:
        Exception.__init__(self, text)
        self.operation = "sync"

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "sync failed"


async def staff_lifecycle(client: SFTClient, endpoint_id: str, *, suspend: bool) -> str:
    """Suspend or resume ``endpoint_id`` as staff (reason "3"), reading it first and again
    after an unknown outcome or refusal (never resent; the re-read is ``simStatus`` of
    ``fetchSIM?iccid=``, docs/sft-platform.md#fetchsim, with the ICCID the profile reports).
    Returns what happened; raises :class:`Refused` when the endpoint is in no state to change
    (e.g. only Active can suspend) and the platform's error when the change failed or its
    status cannot be re-read (unknown: check again later)."""
    profile = await client.endpoint_profile(endpoint_id, priority=PRIORITY)
    state = endpoint_state(profile.status)
    want = "suspended" if suspend else "active"
    if state == want:
        return f"endpoint already {profile.status}"
    if suspend and state != "active":
        raise Refused(f"the endpoint is {profile.status or 'unknown'}: only Active can suspend")
    if not suspend and state != "suspended":
        raise Refused(f"the endpoint is {profile.status or 'unknown'}: only Suspended can resume")
    try:
        result = await client.change_lifecycle(
            endpoint_id, "S" if suspend else "A", reason=STAFF_REASON, priority=PRIORITY
        )
        return f"endpoint {result.current_status or want} (was {profile.status})"
    except (SFTOutcomeUnknown, SFTBusinessError):
        again = (
            await client.sim_status(profile.iccid, endpoint_id=endpoint_id, priority=PRIORITY)
            if profile.iccid
            else None
        )
        if endpoint_state(again) == want:
            return f"endpoint {again} (verified by re-read)"
        raise


async def set_suspended(
    staff: Staff, esim_id: int, *, suspend: bool, client: SFTClient
) -> ActionResult:
    """Suspend (``EndPointLifeCycleChange "S"``) or resume (``"A"``) an eSIM's endpoint as a
    staff suspension (reason "3" CSR, docs/business-rules.md#staff-suspension); the traveler's
    top-up cannot undo it (``topup.STAFF_REASONS``). The new status is mirrored by a sync."""

    async def body() -> str:
        async with db.session() as s:
            esim = await s.get(Esim, esim_id)
            if esim is None:
                raise Refused("unknown eSIM")
            endpoint_id = esim.endpoint_id
        what = await staff_lifecycle(client, endpoint_id, suspend=suspend)
        await _sync_quietly(client, [esim_id])
        return what

    return await _act(
        staff, "esim.suspend" if suspend else "esim.resume", "esim", str(esim_id), body
    )
