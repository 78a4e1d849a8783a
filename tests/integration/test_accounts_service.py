"""Accounts service against real databases (SQLite file; PostgreSQL via ``any_db``):
sign-up, verification tokens, sign-in, sessions and their expiry."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from argon2 import PasswordHasher
from sqlalchemy import update
from sqlmodel import col, select

from travelsim import db
from travelsim.models import AuthSession, EmailToken, OutboxEmail, User, utcnow
from travelsim.services.auth import reset, sessions, signin
from travelsim.services.auth import signup as signup_service
from travelsim.services.auth.errors import AccountError
from travelsim.settings import Settings

BASE = "https://www.travelsim.example"
PASSWORD = "correct horse battery"
LINK_RE = re.compile(r"(https://www\.travelsim\.example/auth/verify\?token=\S+)")


@pytest.fixture
async def engines() -> AsyncIterator[None]:
    yield
    await db.async_engine().dispose()


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def signup(email: str = "ana@example.com", password: str = PASSWORD) -> User:
    async with db.session() as s:
        user = await signup_service.signup(s, email, password, base_url=BASE)
        await s.commit()
        return user


async def verification_token(user_id: int) -> str:
    """The raw token, read from the latest verification email's link (as a traveler would)."""
    async with db.session() as s:
        mail = (
            await s.exec(
                select(OutboxEmail)
                .where(OutboxEmail.user_id == user_id)
                .where(OutboxEmail.kind == "verify")
                .order_by(col(OutboxEmail.id).desc())
            )
        ).first()
    assert mail is not None
    match = LINK_RE.search(mail.body_text)
    assert match, mail.body_text
    token = parse_qs(urlsplit(match.group(1)).query)["token"][0]
    assert mail.body_html is not None and match.group(1) in mail.body_html
    return token


async def verified_user(email: str = "ana@example.com") -> User:
    user = await signup(email)
    assert user.id is not None
    token = await verification_token(user.id)
    async with db.session() as s:
        await signup_service.verify_email(s, token)
        await s.commit()
    return user


# --- sign-up ---------------------------------------------------------------------------------


async def test_signup_stores_user_token_hash_and_queues_email(
    any_db: Settings, engines: None
) -> None:
    before = utcnow()
    user = await signup("  Ana@Example.COM ")
    assert user.id is not None
    token = await verification_token(user.id)
    async with db.session() as s:
        stored = await s.get(User, user.id)
        assert stored is not None
        assert stored.email == "ana@example.com"
        assert stored.email_verified_at is None
        assert stored.password_hash.startswith("$argon2id$")
        assert PASSWORD not in stored.password_hash
        assert PasswordHasher().verify(stored.password_hash, PASSWORD)
        tokens = (await s.exec(select(EmailToken).where(EmailToken.user_id == user.id))).all()
        mail = (await s.exec(select(OutboxEmail))).one()
    assert len(tokens) == 1
    row = tokens[0]
    assert row.purpose == "verify"
    assert row.token_hash == sha256(token)  # only the hash is stored
    assert token not in row.token_hash
    assert len(token) >= 43  # 32 random bytes, base64url
    # 24 hours from creation.
    assert before + timedelta(hours=24) <= row.expires_at <= utcnow() + timedelta(hours=24)
    assert mail.to_address == "ana@example.com"
    assert mail.status == "queued"
    assert mail.kind == "verify"


async def test_signup_duplicate_email_is_refused(any_db: Settings, engines: None) -> None:
    await signup("ana@example.com")
    with pytest.raises(AccountError) as info:
        await signup("ANA@example.com", "another password!")
    assert info.value.code == "email_taken"
    async with db.session() as s:
        assert len((await s.exec(select(User))).all()) == 1


@pytest.mark.parametrize(
    ("email", "password", "code"),
    [
        ("not-an-email", PASSWORD, "email_invalid"),
        ("ana@example.com", "short", "password_too_short"),
        ("ana@example.com", "ana@example.com", "password_is_email"),
        ("ana@example.com", " " * 20, "password_blank"),
    ],
)
async def test_signup_refusals_write_nothing(
    sqlite_db: Settings, engines: None, email: str, password: str, code: str
) -> None:
    with pytest.raises(AccountError) as info:
        await signup(email, password)
    assert info.value.code == code
    async with db.session() as s:
        assert (await s.exec(select(User))).all() == []
        assert (await s.exec(select(OutboxEmail))).all() == []


# --- verification ----------------------------------------------------------------------------


async def test_verify_is_single_use(any_db: Settings, engines: None) -> None:
    user = await signup()
    assert user.id is not None
    token = await verification_token(user.id)
    async with db.session() as s:
        verified = await signup_service.verify_email(s, token)
        await s.commit()
    assert verified.id == user.id
    assert verified.email_verified_at is not None
    async with db.session() as s:
        with pytest.raises(AccountError) as info:
            await signup_service.verify_email(s, token)
    assert info.value.code == "token_used"


async def test_verify_expired_and_unknown_tokens(any_db: Settings, engines: None) -> None:
    user = await signup()
    assert user.id is not None
    token = await verification_token(user.id)
    async with db.session() as s:
        await s.exec(
            update(EmailToken)
            .where(col(EmailToken.user_id) == user.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await s.commit()
    async with db.session() as s:
        with pytest.raises(AccountError) as expired:
            await signup_service.verify_email(s, token)
        with pytest.raises(AccountError) as unknown:
            await signup_service.verify_email(s, token + "x")
        with pytest.raises(AccountError) as empty:
            await signup_service.verify_email(s, "")
        stored = await s.get(User, user.id)
    assert expired.value.code == "token_expired"
    assert unknown.value.code == "token_invalid"
    assert empty.value.code == "token_invalid"
    assert stored is not None and stored.email_verified_at is None


async def test_resend_queues_one_email_for_every_address(
    sqlite_db: Settings, engines: None
) -> None:
    """One email per well-formed address, whoever owns it (the same work for all: how often
    is the route's per-address / per-email limit); a malformed one queues nothing."""
    user = await signup()
    assert user.id is not None
    first = await verification_token(user.id)
    async with db.session() as s:
        await signup_service.resend_verification(s, "ANA@example.com", BASE)
        await signup_service.resend_verification(s, "nobody@example.com", BASE)
        await signup_service.resend_verification(s, "garbage", BASE)  # nothing
        await s.commit()
        kinds = [(m.kind, m.to_address) for m in (await s.exec(select(OutboxEmail))).all()]
    assert kinds == [
        ("verify", "ana@example.com"),
        ("verify", "ana@example.com"),
        ("verify_no_account", "nobody@example.com"),
    ]
    second = await verification_token(user.id)
    assert second != first
    async with db.session() as s:
        await signup_service.verify_email(s, second)
        await s.commit()
    # The first link was voided by the verification; once verified, resend sends a note.
    async with db.session() as s:
        with pytest.raises(AccountError) as used:
            await signup_service.verify_email(s, first)
        assert used.value.code == "token_used"
    async with db.session() as s:
        await signup_service.resend_verification(s, "ana@example.com", BASE)
        await s.commit()
        last = (await s.exec(select(OutboxEmail).order_by(col(OutboxEmail.id).desc()))).first()
    assert last is not None and last.kind == "already_verified"


async def test_notify_existing_signup_emails_the_owner(sqlite_db: Settings, engines: None) -> None:
    await verified_user()
    async with db.session() as s:
        await signup_service.notify_existing_signup(s, "ana@example.com", BASE)
        await signup_service.notify_existing_signup(s, "ana@example.com", BASE)  # cooldown
        await s.commit()
        kinds = [m.kind for m in (await s.exec(select(OutboxEmail))).all()]
    assert kinds == ["verify", "account_exists"]


# --- sign-in ---------------------------------------------------------------------------------


async def test_authenticate(any_db: Settings, engines: None) -> None:
    user = await signup()
    async with db.session() as s:
        with pytest.raises(AccountError) as unverified:
            await signin.authenticate(s, "ana@example.com", PASSWORD)
        with pytest.raises(AccountError) as unverified_wrong:
            await signin.authenticate(s, "ana@example.com", "wrong password")
    assert unverified.value.code == "unverified"
    # A wrong password never reveals that the account exists and is unverified.
    assert unverified_wrong.value.code == "invalid_credentials"

    assert user.id is not None
    token = await verification_token(user.id)
    async with db.session() as s:
        await signup_service.verify_email(s, token)
        await s.commit()
    async with db.session() as s:
        signed_in = await signin.authenticate(s, " ANA@example.com", PASSWORD)
        assert signed_in.id == user.id
        for email, password in [
            ("ana@example.com", "wrong password"),
            ("nobody@example.com", PASSWORD),
            ("not an email", PASSWORD),
            ("ana@example.com", PASSWORD + "x" * 200),
        ]:
            with pytest.raises(AccountError) as info:
                await signin.authenticate(s, email, password)
            assert info.value.code == "invalid_credentials"


async def test_authenticate_rehashes_old_parameters(sqlite_db: Settings, engines: None) -> None:
    user = await verified_user()
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    async with db.session() as s:
        stored = await s.get(User, user.id)
        assert stored is not None
        stored.password_hash = weak.hash(PASSWORD)
        s.add(stored)
        await s.commit()
        old_hash = stored.password_hash
    async with db.session() as s:
        await signin.authenticate(s, "ana@example.com", PASSWORD)
        await s.commit()
    async with db.session() as s:
        stored = await s.get(User, user.id)
    assert stored is not None
    assert stored.password_hash != old_hash
    assert not PasswordHasher().check_needs_rehash(stored.password_hash)
    assert PasswordHasher().verify(stored.password_hash, PASSWORD)


# --- sessions ---------------------------------------------------------------------------------


async def _session_row(token: str) -> AuthSession:
    async with db.session() as s:
        row = (
            await s.exec(select(AuthSession).where(AuthSession.token_hash == sha256(token)))
        ).one()
    return row


async def _move(token: str, **values: object) -> None:
    async with db.session() as s:
        await s.exec(
            update(AuthSession).where(col(AuthSession.token_hash) == sha256(token)).values(**values)
        )
        await s.commit()


async def _resolve(token: str | None) -> User | None:
    async with db.session() as s:
        user = await sessions.resolve_session(s, token)
        await s.commit()
    return user


async def test_session_lifecycle(any_db: Settings, engines: None) -> None:
    user = await verified_user()
    async with db.session() as s:
        token = await sessions.create_session(s, user, user_agent="Mozilla/5.0 " + "x" * 400)
        await s.commit()
    row = await _session_row(token)
    assert token not in row.token_hash
    assert row.expires_at - row.created_at == timedelta(days=30)
    assert row.user_agent is not None and len(row.user_agent) == 300

    resolved = await _resolve(token)
    assert resolved is not None and resolved.id == user.id
    assert await _resolve(None) is None
    assert await _resolve("unknown-token") is None

    async with db.session() as s:
        await sessions.end_session(s, token)
        await s.commit()
    assert (await _session_row(token)).revoked_at is not None
    assert await _resolve(token) is None


async def test_session_idle_and_absolute_expiry(any_db: Settings, engines: None) -> None:
    user = await verified_user()
    async with db.session() as s:
        idle = await sessions.create_session(s, user)
        old = await sessions.create_session(s, user)
        await s.commit()
    now = utcnow()
    # Idle for just under 7 days: still valid; 7 days: over.
    await _move(idle, last_seen_at=now - timedelta(days=7) + timedelta(minutes=1))
    assert await _resolve(idle) is not None
    await _move(idle, last_seen_at=now - timedelta(days=7, seconds=1))
    assert await _resolve(idle) is None
    # Active every day but signed in 30 days ago: over.
    await _move(old, created_at=now - timedelta(days=30), expires_at=now - timedelta(seconds=1))
    assert await _resolve(old) is None


async def test_last_seen_is_bumped_at_most_once_a_minute(
    sqlite_db: Settings, engines: None
) -> None:
    user = await verified_user()
    async with db.session() as s:
        token = await sessions.create_session(s, user)
        await s.commit()
    recent = utcnow() - timedelta(seconds=30)
    await _move(token, last_seen_at=recent)
    await _resolve(token)
    assert (await _session_row(token)).last_seen_at == recent
    stale = utcnow() - timedelta(minutes=2)
    await _move(token, last_seen_at=stale)
    await _resolve(token)
    assert (await _session_row(token)).last_seen_at > utcnow() - timedelta(seconds=30)


async def test_end_all_sessions_and_user_for_token(sqlite_db: Settings, engines: None) -> None:
    user = await verified_user()
    assert user.id is not None
    async with db.session() as s:
        a = await sessions.create_session(s, user)
        b = await sessions.create_session(s, user)
        await s.commit()
    found = await sessions.user_for_token(a)
    assert found is not None and found.email == "ana@example.com"
    async with db.session() as s:
        await sessions.end_all_sessions(s, user.id)
        await s.commit()
    assert await sessions.user_for_token(a) is None
    assert await sessions.user_for_token(b) is None


async def test_verifying_competing_signups_revokes_sessions_and_keeps_no_password(
    sqlite_db: Settings, engines: None
) -> None:
    """Two sign-ups whose links are valid at once, a link used without either sign-up's
    browser: a session opened before is revoked, neither password is kept (nor any pending
    hash), and a one-use reset token is handed out for the owner to choose one."""
    user = await signup(password="first sign-up pw 1")
    assert user.id is not None
    async with db.session() as s:
        early = await sessions.start_session(s, user, method="password")
        await s.commit()
    async with db.session() as s:  # a new sign-up for the unverified account
        with pytest.raises(AccountError) as taken:
            await signup_service.signup(s, "ana@example.com", "second sign-up pw 2", base_url=BASE)
        assert taken.value.code == "email_taken"
        await s.commit()  # as the route does: the new pending password and its link
    token = await verification_token(user.id)
    async with db.session() as s:
        verified = await signup_service.verify_signup(s, token)
        await s.commit()
    assert (verified.outcome, verified.user.email_verified_at is not None) == (
        "choose_password",
        True,
    )
    assert verified.reset_token
    assert await sessions.user_for_token(early) is None
    async with db.session() as s:
        for password in ("second sign-up pw 2", "first sign-up pw 1"):
            with pytest.raises(AccountError) as refused:
                await signin.authenticate(s, "ana@example.com", password)
            assert refused.value.code == "invalid_credentials"
        rows = (await s.exec(select(EmailToken).where(EmailToken.purpose == "verify"))).all()
        assert [r.password_hash for r in rows] == [None, None]
        assert all(r.used_at is not None for r in rows)
        chosen = await reset.reset_password(s, verified.reset_token, "chosen by the owner 3")
        await s.commit()
        assert (await signin.authenticate(s, "ana@example.com", "chosen by the owner 3")).id
    assert chosen.id == user.id


async def test_verifying_the_only_pending_signup_sets_its_password(
    sqlite_db: Settings, engines: None
) -> None:
    """A second sign-up after the first one's link expired does not compete with it: its
    link, used without a browser, sets its password (the first stays refused)."""
    user = await signup(password="first sign-up pw 1")
    assert user.id is not None
    async with db.session() as s:  # the first link expired an hour ago
        now = utcnow()
        await s.exec(
            update(EmailToken).values(
                created_at=now - timedelta(hours=25), expires_at=now - timedelta(hours=1)
            )
        )
        await s.commit()
    async with db.session() as s:
        with pytest.raises(AccountError):
            await signup_service.signup(s, "ana@example.com", "second sign-up pw 2", base_url=BASE)
        await s.commit()
    token = await verification_token(user.id)
    async with db.session() as s:
        verified = await signup_service.verify_signup(s, token)
        await s.commit()
    assert (verified.outcome, verified.reset_token) == ("elsewhere", None)
    async with db.session() as s:
        assert (await signin.authenticate(s, "ana@example.com", "second sign-up pw 2")).id
        with pytest.raises(AccountError) as refused:
            await signin.authenticate(s, "ana@example.com", "first sign-up pw 1")
    assert refused.value.code == "invalid_credentials"
