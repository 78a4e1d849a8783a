"""The gate of every staff action: :func:`require_staff`.

A staff session is "full" only once it passed the second factor
(``session_factor.totp_verified_at``, :mod:`travelsim.services.auth.totp`).
"""

from __future__ import annotations

from travelsim import db
from travelsim.models import SessionFactor, User
from travelsim.services.auth.errors import AccountError
from travelsim.services.auth.sessions import session_row


async def require_staff(user: User | None, session_token: str | None) -> User:
    """``user`` if it is a staff member whose session behind ``session_token`` is theirs,
    alive and has passed the second factor. Raises :class:`AccountError` ``forbidden``
    (signed out, not staff, someone else's or a dead session) or
    ``second_factor_required``. Call it at the top of every staff handler and route."""
    if user is None or not user.is_staff or user.id is None:
        raise AccountError("forbidden")
    async with db.session() as s:
        row = await session_row(s, session_token)
        if row is None or row.user_id != user.id or row.id is None:
            raise AccountError("forbidden")
        factor = await s.get(SessionFactor, row.id)
        if factor is None or factor.totp_verified_at is None:
            raise AccountError("second_factor_required")
    return user
