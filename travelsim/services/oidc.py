"""Sign-in with an OpenID Connect provider: who the validated ID token's claims are here.

No Reflex and no HTTP here: the authorization code flow (PKCE, state, nonce) and the ID
token validation (signature against the provider's JWKS, ``iss``, ``aud``, ``exp``,
``nonce``) happen in :mod:`travelsim.routes.oidc` with Authlib; this module receives the
*validated* claims and decides which portal user they are, under these rules:

0. A staff account never signs in through the provider, neither by a new link nor by an
   older one (``oidc_staff``): staff sign in with their password and pass TOTP. A provider
   account showing a staff member's address must not become a way into the admin.
1. An identity already linked (same ``iss`` + ``sub``) signs in its user, whatever the email
   says now.
2. Otherwise, with an email the provider marks verified (``email_verified`` true):
   - no account has that email: a new account is created, email verified, with an unusable
     random password (a password reset can set one later);
   - an account has it and its email is verified here too: the identity is linked to it and
     the account is told by email (the provider, the device, the time in UTC, what to do if
     it was not them: :func:`travelsim.services.email_messages.provider_linked_email`,
     queued in the same transaction);
   - an account has it but its email is not verified here: refused (``oidc_unverified``):
     whoever registered that address never proved they own it, so the account might be
     someone else's trap.
3. A provider email that is not verified is refused (``oidc_unverified``), so a provider
   account claiming someone else's address never reaches their account; no email at all:
   ``oidc_no_email``.

Deleted accounts (``account_deletion``) never sign in again. The rules and their sources:
docs/architecture.md, "Security: sessions and the second factor".
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import i18n
from travelsim.models import OidcIdentity, User, utcnow
from travelsim.services import email, email_messages
from travelsim.services.auth.credentials import is_deleted, normalise_email, user_by_email
from travelsim.services.auth.errors import AccountError
from travelsim.services.auth.passwords import hash_password
from travelsim.services.auth.sessions import describe_user_agent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProviderClaims:
    """The claims of a validated ID token that matter here."""

    issuer: str
    subject: str
    email: str | None
    email_verified: bool

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> ProviderClaims:
        """Read ``iss``, ``sub``, ``email`` and ``email_verified`` (``true`` or the string
        ``"true"``; anything else is unverified). Raises :class:`AccountError`
        ``oidc_failed`` without ``iss`` or ``sub``."""
        issuer = claims.get("iss")
        subject = claims.get("sub")
        if not isinstance(issuer, str) or not issuer or not isinstance(subject, str) or not subject:
            raise AccountError("oidc_failed")
        if len(issuer) > 255 or len(subject) > 255:
            raise AccountError("oidc_failed")
        raw_email = claims.get("email")
        email: str | None = None
        if isinstance(raw_email, str) and raw_email.strip():
            try:
                email = normalise_email(raw_email)
            except AccountError:
                email = None
        verified = claims.get("email_verified")
        email_verified = verified is True or (
            isinstance(verified, str) and verified.lower() == "true"
        )
        return cls(issuer=issuer, subject=subject, email=email, email_verified=email_verified)


async def _identity(session: AsyncSession, issuer: str, subject: str) -> OidcIdentity | None:
    return (
        await session.exec(
            select(OidcIdentity)
            .where(OidcIdentity.issuer == issuer)
            .where(OidcIdentity.subject == subject)
        )
    ).first()


async def resolve_user(
    session: AsyncSession,
    claims: ProviderClaims,
    *,
    provider_name: str,
    user_agent: str | None = None,
) -> tuple[User, OidcIdentity]:
    """The portal user and linked identity for validated provider ``claims``, creating the
    account and/or the link under the module's rules. Linking an existing account queues
    its notice email (``provider_name``: the provider as travelers know it, e.g.
    ``settings.oidc_display_name``; ``user_agent``: the browser's header, named in the
    email). The caller commits.

    Raises :class:`AccountError`: ``oidc_staff`` (a staff account), ``oidc_no_email``,
    ``oidc_unverified``, ``forbidden`` (a deleted account)."""
    now = utcnow()
    identity = await _identity(session, claims.issuer, claims.subject)
    if identity is not None:
        user = await session.get(User, identity.user_id)
        if user is None or await is_deleted(session, identity.user_id):
            raise AccountError("forbidden")
        if user.is_staff:
            log.info("provider sign-in refused user_id=%s: staff", user.id)
            raise AccountError("oidc_staff")
        identity.last_signin_at = now
        if claims.email:
            identity.email = claims.email
        session.add(identity)
        await session.flush()
        log.info("provider sign-in user_id=%s identity_id=%s", user.id, identity.id)
        return user, identity

    if claims.email is None:
        raise AccountError("oidc_no_email")
    if not claims.email_verified:
        log.info("provider sign-in refused: provider email not verified")
        raise AccountError("oidc_unverified")
    user_or_none = await user_by_email(session, claims.email)
    if user_or_none is None:
        user = User(
            email=claims.email,
            password_hash=hash_password(secrets.token_urlsafe(32)),
            email_verified_at=now,
            locale=email.new_account_locale(),
        )
        session.add(user)
        await session.flush()
        log.info("account created from provider user_id=%s", user.id)
    else:
        user = user_or_none
        if user.id is not None and await is_deleted(session, user.id):
            raise AccountError("forbidden")
        if user.is_staff:
            log.info("provider link refused user_id=%s: staff", user.id)
            raise AccountError("oidc_staff")
        if user.email_verified_at is None:
            log.info("provider link refused user_id=%s: email not verified here", user.id)
            raise AccountError("oidc_unverified")
    assert user.id is not None
    identity = OidcIdentity(
        issuer=claims.issuer,
        subject=claims.subject,
        user_id=user.id,
        email=claims.email,
        linked_at=now,
        last_signin_at=now,
    )
    session.add(identity)
    await session.flush()
    log.info("provider identity linked user_id=%s identity_id=%s", user.id, identity.id)
    if user_or_none is not None:
        notice = email_messages.provider_linked_email(
            provider=provider_name,
            device=describe_user_agent(user_agent or ""),
            at=now,
            locale=email.recipient_locale(user, i18n.current()),
        )
        await email.enqueue(session, to=user.email, user_id=user.id, **notice)
    return user, identity


async def identities_of(session: AsyncSession, user_id: int) -> list[OidcIdentity]:
    """The provider identities linked to ``user_id``, oldest first."""
    return list(
        (
            await session.exec(
                select(OidcIdentity)
                .where(OidcIdentity.user_id == user_id)
                .order_by(OidcIdentity.linked_at)  # type: ignore[arg-type]
            )
        ).all()
    )
