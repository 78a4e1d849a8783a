"""Travelers and staff: accounts, email tokens, sessions, sign-in with an identity provider,
second factor and account deletion."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from travelsim.models.columns import UTCDateTime, utc_column, utcnow

# --- accounts -----------------------------------------------------------------------------


class User(SQLModel, table=True):
    """A traveler (or staff member). ``email`` is stored normalised (lower-case)."""

    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True, index=True)
    password_hash: str = Field(max_length=255, repr=False)
    email_verified_at: datetime | None = utc_column()
    is_staff: bool = False
    #: The traveler's Stripe Customer (``cus_…``), made at their first payment; their saved
    #: cards hang off it (docs/payments.md#saved-cards).
    stripe_customer_id: str | None = Field(default=None, max_length=64, unique=True)
    #: The language chosen with the switcher (one of ``travelsim.i18n.LOCALES``), ``None``
    #: until the traveler chooses (docs/i18n.md#choosing-the-language).
    locale: str | None = Field(default=None, max_length=8)
    #: The currency chosen with the currency menu (ISO 4217, one of ``Settings.currencies``),
    #: ``None`` until the traveler chooses (docs/i18n.md#currencies).
    currency: str | None = Field(default=None, max_length=3)
    #: The country of residence the traveler stated (ISO alpha-2), ``None`` until stated:
    #: VAT evidence (docs/business-rules.md#vat-evidence).
    country: str | None = Field(default=None, max_length=2)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class EmailToken(SQLModel, table=True):
    """A single-use, expiring token sent by email (verification, password reset).
    Only the SHA-256 of the token is stored."""

    __tablename__ = "email_token"

    id: int | None = Field(default=None, primary_key=True)
    #: ``None`` only for a decoy row (used at birth, never usable) written for an address
    #: without an account, so both cases do the same database work.
    user_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    purpose: str = Field(max_length=16, description="'verify' or 'reset'")
    token_hash: str = Field(max_length=64, unique=True, repr=False)
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used_at: datetime | None = utc_column()
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    #: ``verify`` only: the Argon2 hash of the password the sign-up that issued this link
    #: chose (verifying sets it), and the SHA-256 of that sign-up's browser flow cookie.
    password_hash: str | None = Field(default=None, max_length=255, repr=False)
    flow_hash: str | None = Field(default=None, max_length=64, repr=False)


class AuthSession(SQLModel, table=True):
    """A signed-in browser session behind the HttpOnly cookie. The cookie holds a random
    token; only its SHA-256 is stored here."""

    __tablename__ = "auth_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, repr=False)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    last_seen_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    revoked_at: datetime | None = utc_column()
    user_agent: str | None = Field(default=None, max_length=300)


# --- sign-in with an identity provider, session security, privacy ------------------------


class OidcIdentity(SQLModel, table=True):
    """A provider account (OpenID Connect ``iss`` + ``sub``) linked to a portal user.

    Created on the first provider sign-in: either with a new user (provider email verified,
    no account with that email yet) or linked to the existing user of that email, only when
    both the provider and the portal have that email verified. ``email`` is the provider's
    address at the last sign-in (informative: identity is ``issuer`` + ``subject``).
    """

    __tablename__ = "oidc_identity"
    __table_args__ = (
        UniqueConstraint("issuer", "subject", name="uq_oidc_identity_issuer_subject"),
    )

    id: int | None = Field(default=None, primary_key=True)
    issuer: str = Field(max_length=255)
    subject: str = Field(max_length=255)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    email: str | None = Field(default=None, max_length=254)
    linked_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    last_signin_at: datetime | None = utc_column()


class UserTotp(SQLModel, table=True):
    """A user's TOTP second factor (RFC 6238: SHA-1, 6 digits, 30 s steps).

    ``secret_enc``: the base32 secret encrypted with ``travelsim.keys.secret_box()``.
    ``confirmed_at``: ``None`` while enrolment waits for a first correct code.
    ``last_used_step``: the 30-second time step of the last accepted code; a code of that
    step or an earlier one is refused (no replay).
    """

    __tablename__ = "user_totp"

    user_id: int = Field(foreign_key="app_user.id", primary_key=True)
    secret_enc: str = Field(repr=False)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    confirmed_at: datetime | None = utc_column()
    last_used_step: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class SessionFactor(SQLModel, table=True):
    """How an ``auth_session`` was established, beside it (one row per session).

    ``method``: ``password``, ``oidc``, ``email_link`` (verification link) or ``reset``
    (password reset). ``totp_verified_at``: when the second factor was passed in this session
    (staff sessions are "full" only then). ``oidc_identity_id`` / ``id_token_enc`` (the ID
    token, encrypted, for the provider's end-session ``id_token_hint``): provider sessions.
    """

    __tablename__ = "session_factor"

    session_id: int = Field(foreign_key="auth_session.id", primary_key=True)
    method: str = Field(max_length=16)
    oidc_identity_id: int | None = Field(default=None, foreign_key="oidc_identity.id")
    id_token_enc: str | None = Field(default=None, repr=False)
    totp_verified_at: datetime | None = utc_column()


class AccountDeletion(SQLModel, table=True):
    """An account deleted at its owner's request (``services.privacy.deletion``).

    The ``app_user`` row stays as an anonymised tombstone (checkouts and payments kept for
    accounting still reference it); this row records when it happened and what was done.
    """

    __tablename__ = "account_deletion"

    user_id: int = Field(foreign_key="app_user.id", primary_key=True)
    deleted_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    esims_suspended: int = 0
    orders_detached: int = 0
