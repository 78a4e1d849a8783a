"""What a valid email address and password are, which account an address names, and
whether an account was deleted (deleted accounts never sign in again).

Codes raised (:class:`~travelsim.services.auth.errors.AccountError`): ``email_invalid``,
``password_too_short``, ``password_too_long``, ``password_blank``, ``password_is_email``.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.models import AccountDeletion, User
from travelsim.services.auth.errors import AccountError
from travelsim.services.auth.passwords import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH

#: ``app_user.password_hash`` of an account with no usable password (verified through
#: competing sign-ups, waiting for its owner to choose one): not a PHC string, so no
#: password ever matches it (``verify_password`` answers False for a malformed hash).
NO_PASSWORD = "!none"


def normalise_email(raw: str) -> str:
    """``raw`` validated (syntax only, no DNS) and lower-cased, e.g.
    ``" Ana@Example.COM "`` → ``"ana@example.com"``. Internationalised domains come back
    in Unicode (NFC). Raises :class:`AccountError` ``email_invalid``."""
    if not isinstance(raw, str) or not raw.strip():
        raise AccountError("email_invalid")
    try:
        info = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise AccountError("email_invalid") from exc
    return info.normalized.lower()


def check_password_policy(password: str, email: str) -> None:
    """Raise :class:`AccountError` unless ``password`` is 10 to 128 characters, not only
    whitespace and not the (normalised) ``email`` itself, in any case or with
    surrounding spaces. Codes: ``password_too_short``, ``password_too_long``,
    ``password_blank``, ``password_is_email``."""
    if len(password) > PASSWORD_MAX_LENGTH:
        raise AccountError("password_too_long")
    if not password.strip():
        raise AccountError("password_blank")
    if len(password) < PASSWORD_MIN_LENGTH:
        raise AccountError("password_too_short")
    if password.strip().lower() == email.strip().lower():
        raise AccountError("password_is_email")


async def user_by_email(session: AsyncSession, address: str) -> User | None:
    """The account whose email is ``address`` (already normalised), or ``None``."""
    return (await session.exec(select(User).where(User.email == address))).first()


async def is_deleted(session: AsyncSession, user_id: int) -> bool:
    """True when the account ``user_id`` was deleted at its owner's request
    (an ``account_deletion`` row exists; its ``app_user`` row is a tombstone)."""
    return await session.get(AccountDeletion, user_id) is not None
