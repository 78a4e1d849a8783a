"""What a traveler changes on their own eSIM: its nickname, and a replacement request when
its code was used or its download failed (docs/esim.md#single-use-codes). No Reflex.

Only the owner may change anything (:mod:`travelsim.services.ownership`): for anyone else's
eSIM (or a missing id) the functions return ``None`` and write nothing, so they reveal
nothing.

:class:`NicknameError` carries a message for the traveler, in the active language
(docs/i18n.md#texts-made-at-run-time).
"""

from __future__ import annotations

import unicodedata

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.i18n import _
from travelsim.models import ReplacementRequest, ReplacementRequestStatus, utcnow
from travelsim.services.ownership import owned_esim

__all__ = ["NICKNAME_MAX", "NICKNAME_MIN", "NicknameError", "rename_esim", "request_replacement"]

#: Nickname length limits (characters, after trimming).
NICKNAME_MIN = 1
NICKNAME_MAX = 40


class NicknameError(ValueError):
    """The nickname is empty, too long (> :data:`NICKNAME_MAX`) or has control characters.
    ``str(error)`` is the sentence the traveler reads, in the active language."""


def _clean_nickname(raw: str) -> str:
    name = " ".join(raw.split())
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise NicknameError(_("The name cannot contain control characters."))
    if not NICKNAME_MIN <= len(name) <= NICKNAME_MAX:
        raise NicknameError(
            _("Use {min} to {max} characters for the name.").format(
                min=NICKNAME_MIN, max=NICKNAME_MAX
            )
        )
    return name


async def rename_esim(
    session: AsyncSession, *, user_id: int, esim_id: int, nickname: str
) -> str | None:
    """Set the nickname of ``user_id``'s eSIM ``esim_id``; commits.

    The nickname is trimmed and inner whitespace runs collapse to one space; it must then be
    1-40 characters without control characters, else :class:`NicknameError`. Returns the
    stored nickname, or ``None`` if the eSIM is not this user's (nothing written).
    """
    name = _clean_nickname(nickname)
    esim = await owned_esim(session, user_id, esim_id)
    if esim is None:
        return None
    if esim.nickname != name:
        esim.nickname = name
        esim.updated_at = utcnow()
        session.add(esim)
        await session.commit()
    return name


async def request_replacement(
    session: AsyncSession, *, user_id: int, esim_id: int, reason: str
) -> ReplacementRequest | None:
    """Open a replacement request for ``user_id``'s eSIM (docs/esim.md#f1-code-already-used,
    docs/esim.md#f2-download-failed); commits.

    Idempotent: an already open request is returned unchanged. ``reason`` is trimmed and
    cut to 500 characters (``"unspecified"`` if empty). Returns ``None`` if the eSIM is not
    this user's.
    """
    if await owned_esim(session, user_id, esim_id) is None:
        return None
    existing = (
        await session.exec(
            select(ReplacementRequest).where(
                col(ReplacementRequest.esim_id) == esim_id,
                col(ReplacementRequest.status) == ReplacementRequestStatus.OPEN,
            )
        )
    ).first()
    if existing is not None:
        return existing
    row = ReplacementRequest(
        esim_id=esim_id,
        user_id=user_id,
        reason=(" ".join(reason.split()) or "unspecified")[:500],
        status=ReplacementRequestStatus.OPEN,
    )
    session.add(row)
    await session.commit()
    await session.refresh(row)
    return row
