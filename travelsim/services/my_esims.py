"""The "My eSIMs" read model: the traveler's eSIMs with what each has in data, and the
data-state rule the eSIM page shares (:mod:`travelsim.services.esim_dashboard`). No Reflex,
no platform call: the stored figures only (written by :mod:`travelsim.services.usage_sync`).

Bytes everywhere; datetimes aware UTC (pages render local time with the zone named,
docs/esim.md#time-zone-names). ``None`` means unknown and is never shown as 0
(docs/esim.md#f9-usage-lag). Statuses are the stored ones corrected for time
(``esim.addons.effective_status``).

Every eSIM has one **data state** (:data:`DataState`, on
:class:`~travelsim.services.esim_dashboard.Dashboard` and :class:`EsimSummary`;
docs/business-rules.md#data-states), which pages turn into words, so that no page has to
guess from the figures:

* ``unknown``: the network has not reported the figures (never read, a live plan's figure
  not reported, or nothing live while a plan the platform stopped listing may still run).
  ``percent_remaining`` is ``None`` exactly in this state; nothing is claimed about plans
  or usage.
* ``live``: a plan is running or waiting, with known figures.
* ``used_up`` / ``expired``: no plan is running or waiting; the plan that ran last (the
  highest draw order among the ended ones, ``Dashboard.last_plan``) was used up /
  expired. Remaining is a known 0 (0 %): the traveler needs to buy more data.
* ``no_plan``: read from the network, and no plan at all (none, or only removed ones).

Percentages are rounded down (:func:`travelsim.formatting.percent_left`,
docs/business-rules.md#figures-shown-to-travelers):
100 % only when nothing was used, 0 % only when nothing is left. Ownership: only the eSIM's
holder (``Esim.user_id``, state ``assigned``, not an unclaimed gift;
:mod:`travelsim.services.ownership`) sees anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.esim.addons import AddonOrder, order_addons
from travelsim.esim.lifecycle import InstallState, endpoint_state, install_state
from travelsim.formatting import percent_left
from travelsim.models import AddonState, Esim, EsimAddon, EsimSync, InventoryState, utcnow

__all__ = [
    "DataState",
    "EsimListState",
    "EsimSummary",
    "addons_by_esim",
    "data_state",
    "esim_title",
    "esims_of",
    "live_totals",
    "percent_of",
]

#: What the traveler has in data right now (module docstring, "data state";
#: docs/business-rules.md#data-states).
DataState = Literal["unknown", "live", "used_up", "expired", "no_plan"]

EsimListState = Literal["active", "waiting", "suspended", "ended", "unknown"]


@dataclass(frozen=True)
class EsimSummary:
    """One row of the "My eSIMs" list.

    Attributes:
        esim_id, iccid, nickname, destination, title: identity (see :class:`Dashboard`).
        state: ``suspended`` (endpoint Suspended) > ``active`` (an add-on's clock runs) >
            ``waiting`` (add-ons not started yet) > ``ended`` (none live; all used up, expired
            or removed) > ``unknown`` (never synced and no add-ons stored).
        data_state: as :attr:`Dashboard.data_state` (``state`` says whether a plan runs
            or waits; ``data_state`` says whether data is known, live, used up or expired).
        install: :func:`install_state` of the profile status.
        remaining_bytes / total_bytes / percent_remaining: as :class:`Dashboard` (``None`` =
            unknown).
        expires_at: the current add-on's expiry (``None`` if not running).
        ended_at: the expiry of the plan that ran last when ``data_state`` is ``expired``
            (aware UTC), else ``None``.
        updated_at: ``EsimSync.synced_at``.
    """

    esim_id: int
    iccid: str
    nickname: str | None
    destination: str | None
    title: str
    state: EsimListState
    data_state: DataState
    install: InstallState
    remaining_bytes: int | None
    total_bytes: int | None
    percent_remaining: float | None
    expires_at: datetime | None
    ended_at: datetime | None
    updated_at: datetime | None


def percent_of(remaining: int | None, total: int | None) -> float | None:
    """Percent of ``total`` left (:func:`travelsim.formatting.percent_left`, rounded down to
    1 decimal), ``None`` when either figure is unknown."""
    if remaining is None or total is None:
        return None
    return percent_left(remaining, total)


def esim_title(esim: Esim) -> str:
    """The eSIM's name for travelers: its nickname, else "eSIM ··1234" (last 4 ICCID digits)."""
    return esim.nickname or f"eSIM ··{esim.iccid[-4:]}"


def data_state(
    ordered: AddonOrder, remaining: int | None, total: int | None, synced: bool
) -> DataState:
    """The :data:`DataState` of an eSIM (module docstring) from its ordered add-ons, the
    live totals (:func:`live_totals`, bytes) and whether it was ever synced."""
    if ordered.live:
        return "live" if remaining is not None and total is not None else "unknown"
    if any(ordered.states[a.unique_id] == AddonState.UNKNOWN for a in ordered.ended):
        return "unknown"  # the platform stopped listing a live plan: it may still run
    if ordered.last is not None:
        last_used_up = ordered.states[ordered.last.unique_id] == AddonState.USED_UP
        return "used_up" if last_used_up else "expired"
    if ordered.ended or synced:
        return "no_plan"
    return "unknown"


def live_totals(live: Sequence[EsimAddon], synced: bool) -> tuple[int | None, int | None]:
    """``(remaining, total)`` bytes summed over the live add-ons (negative figures as 0);
    ``None`` when one of them is unknown; ``(0, 0)`` when nothing is live after a sync,
    ``(None, None)`` before any."""
    if not live:
        return (0, 0) if synced else (None, None)
    remaining = [a.remaining_bytes for a in live]
    total = [a.initial_bytes for a in live]
    rem = None if any(r is None for r in remaining) else sum(max(0, r or 0) for r in remaining)
    tot = None if any(t is None for t in total) else sum(max(0, t or 0) for t in total)
    return rem, tot


async def addons_by_esim(
    session: AsyncSession, esim_ids: Sequence[int]
) -> dict[int, list[EsimAddon]]:
    """The stored add-ons of each of ``esim_ids`` (one query; ``[]`` for an eSIM without)."""
    out: dict[int, list[EsimAddon]] = {i: [] for i in esim_ids}
    if not esim_ids:
        return out
    rows = (
        await session.exec(select(EsimAddon).where(col(EsimAddon.esim_id).in_(list(esim_ids))))
    ).all()
    for row in rows:
        out[row.esim_id].append(row)
    return out


async def esims_of(
    session: AsyncSession, user_id: int, *, now: datetime | None = None
) -> list[EsimSummary]:
    """The eSIMs assigned to ``user_id``, newest first, with a remaining-data summary at
    ``now`` (aware UTC, default: current time). Three queries whatever the count."""
    at = now or utcnow()
    esims = (
        await session.exec(
            select(Esim)
            .where(col(Esim.user_id) == user_id, col(Esim.state) == InventoryState.ASSIGNED)
            .where(col(Esim.gift_pending).is_(False))  # nobody holds an unclaimed gift
            .order_by(col(Esim.assigned_at).desc(), col(Esim.id).desc())
        )
    ).all()
    ids = [e.id for e in esims if e.id is not None]
    addons = await addons_by_esim(session, ids)
    syncs = (
        {
            s.esim_id: s
            for s in (
                await session.exec(select(EsimSync).where(col(EsimSync.esim_id).in_(ids)))
            ).all()
        }
        if ids
        else {}
    )
    out: list[EsimSummary] = []
    for esim in esims:
        assert esim.id is not None
        out.append(_summary(esim, addons[esim.id], syncs.get(esim.id), at))
    return out


def _summary(
    esim: Esim, addons: list[EsimAddon], sync: EsimSync | None, at: datetime
) -> EsimSummary:
    """One row of the list (:class:`EsimSummary`) from the eSIM's stored rows at ``at``."""
    assert esim.id is not None
    synced_at = sync.synced_at if sync else None
    ordered = order_addons(addons, at)
    remaining, total = live_totals(ordered.live, synced_at is not None)
    state_of_data = data_state(ordered, remaining, total, synced_at is not None)
    if state_of_data != "unknown" and not ordered.live:
        remaining, total = 0, 0
    endpoint = (sync.endpoint_status if sync else None) or esim.endpoint_status
    cur = ordered.current
    running = cur is not None and ordered.states[cur.unique_id] == AddonState.ACTIVE
    profile_status = (sync.profile_status if sync else None) or esim.profile_status
    return EsimSummary(
        esim_id=esim.id,
        iccid=esim.iccid,
        nickname=esim.nickname,
        destination=esim.destination,
        title=esim_title(esim),
        state=_list_state(ordered, endpoint, bool(addons) or synced_at is not None),
        data_state=state_of_data,
        install=install_state(profile_status),
        remaining_bytes=remaining,
        total_bytes=total,
        percent_remaining=None if state_of_data == "unknown" else percent_of(remaining, total),
        expires_at=cur.expires_at if running and cur is not None else None,
        ended_at=(
            ordered.last.expires_at
            if state_of_data == "expired" and ordered.last is not None
            else None
        ),
        updated_at=synced_at,
    )


def _list_state(ordered: AddonOrder, endpoint: str | None, known: bool) -> EsimListState:
    """:attr:`EsimSummary.state`: suspended > active > waiting > ended > unknown (``known``:
    add-ons are stored or the eSIM was synced)."""
    states = {ordered.states[a.unique_id] for a in ordered.live}
    if endpoint_state(endpoint) == "suspended":
        return "suspended"
    if AddonState.ACTIVE in states:
        return "active"
    if AddonState.WAITING in states:
        return "waiting"
    if known:
        return "ended"
    return "unknown"
