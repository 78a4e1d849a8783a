"""The one ownership rule of an eSIM: it is a traveler's when it is assigned to them.

Every traveler-facing read or change of an eSIM (install page, "My eSIMs", top-up, checkout,
replacement request) asks this module, so "someone else's eSIM" and "an eSIM that does not
exist" are told apart nowhere: both are simply not found (no probing of other travelers' ids).
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.models import Esim, InventoryState


def is_owner(esim: Esim | None, user_id: int | None) -> bool:
    """True when ``esim`` exists, is ``assigned`` (sold for good) and belongs to ``user_id``.
    A reserved eSIM (held by an open checkout) is nobody's yet."""
    return (
        esim is not None
        and user_id is not None
        and esim.user_id == user_id
        and esim.state == InventoryState.ASSIGNED
    )


async def owned_esim(
    session: AsyncSession, user_id: int | None, esim_id: int | None
) -> Esim | None:
    """The eSIM ``esim_id`` when :func:`is_owner` holds for ``user_id``, else ``None`` (also
    for a missing id). One primary-key read, no platform call."""
    if esim_id is None or user_id is None:
        return None
    esim = await session.get(Esim, esim_id)
    return esim if is_owner(esim, user_id) else None
