"""The SFT client's authentication: login, refresh, token lifetimes, both expiry shapes.

Behaviour follows docs/sft-platform.md#authentication and docs/sft-platform.md#token-expiry:
log in lazily; keep the access token in memory; refresh it with ``GET RefreshToken`` (refresh
token in ``X-Authorization``) once 80 % of its lifetime has passed (JWT ``exp``/``iat`` when
readable, else the 15 min default). A rejected token, either HTTP 401 or HTTP 200 with
``resultParam.resultCode "401"`` (:class:`TokenRejected`, raised by the request pipeline),
makes :meth:`Authenticator.token_rejected` renew it (refresh, else re-login) unless another
caller already did. One ``asyncio.Lock`` makes concurrent callers share a single login.
Tokens and the password are never logged or printed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from travelsim.sft import parsing, wire
from travelsim.sft.errors import SFTAuthError, SFTError, SFTMalformedResponse
from travelsim.sft.models import Priority
from travelsim.sft.transport import Transport, description_or_none

__all__ = [
    "MAX_REAUTHENTICATIONS",
    "REFRESH_AT_FRACTION",
    "Authenticator",
    "Token",
    "TokenRejected",
]

#: Logged as the SFT client (one logger name for the whole client, as before the split).
logger = logging.getLogger("travelsim.sft.client")

#: Fraction of a token's lifetime after which it is proactively refreshed.
REFRESH_AT_FRACTION = 0.8
#: Re-authentications (refresh or login) tried for one request before giving up: more than
#: one, because another caller's expiry (or the platform expiring every token of the account)
#: can reject the fresh token too; bounded, because a platform that rejects every token
#: must surface as SFTAuthError.
MAX_REAUTHENTICATIONS = 3
#: Seconds to wait before trying again after a proactive refresh failed for a non-auth reason.
_REFRESH_RETRY_S = 10.0


class TokenRejected(Exception):
    """The platform rejected the bearer token (either 401 shape)."""

    def __init__(self, http_status: int, description: str | None) -> None:
        super().__init__(description or "token rejected")
        self.http_status = http_status
        self.description = description


@dataclass(frozen=True, slots=True)
class Token:
    """A token and when to use it, on the client's monotonic clock (seconds)."""

    value: str
    refresh_at: float  # client clock (monotonic): renew from here on
    expires_at: float  # client clock: no longer usable

    def __repr__(self) -> str:  # never print the token
        return f"Token(refresh_at={self.refresh_at:.1f}, expires_at={self.expires_at:.1f})"


class Authenticator:
    """Holds the access and refresh tokens of one API user and renews them.

    Args:
        transport: the client's :class:`~travelsim.sft.transport.Transport` (login and refresh
            go through the same rate budget and retries as every request).
        username, password: API user credentials (password kept as ``SecretStr``).
        target_account_id: reseller "Support Access" child account, sent at login
            (docs/sft-platform.md#authentication).
        clock / wall_clock: monotonic and epoch clocks (seconds) for token scheduling.
    """

    def __init__(
        self,
        transport: Transport,
        username: str,
        password: str | SecretStr,
        *,
        target_account_id: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._transport = transport
        self.username = username
        self._password = password if isinstance(password, SecretStr) else SecretStr(password)
        self._target_account_id = target_account_id
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = asyncio.Lock()
        self.access: Token | None = None
        self.refresh: Token | None = None
        #: Counters for metrics and tests: logins and refreshes actually sent.
        self.login_count = 0
        self.refresh_count = 0

    def forget(self) -> None:
        """Drop both tokens (the next request logs in again)."""
        self.access = None
        self.refresh = None

    async def access_token(self) -> str:
        """A usable access token: the current one, or a refreshed/new one (one at a time).

        Raises SFTAuthError (credentials refused), or the transport's errors of the login.
        """
        token = self.access
        if token is not None and self._clock() < token.refresh_at:
            return token.value
        async with self._lock:
            token = self.access
            now = self._clock()
            if token is not None and now < token.refresh_at:
                return token.value
            if token is not None and now < token.expires_at and self._refresh_usable(now):
                # Proactive refresh; if it fails for a non-auth reason keep the valid token.
                try:
                    await self._do_refresh()
                except SFTAuthError:
                    await self._do_login()
                except SFTError as exc:
                    logger.warning(
                        "sft proactive token refresh failed; keeping the current token",
                        extra={"error": type(exc).__name__},
                    )
                    retry_at = min(now + _REFRESH_RETRY_S, token.expires_at)
                    self.access = Token(token.value, retry_at, token.expires_at)
            else:
                await self._renew()
            assert self.access is not None
            return self.access.value

    async def login_now(self) -> None:
        """Log in now, whatever tokens are held (one at a time with every renewal). Raises as
        the login does."""
        async with self._lock:
            await self._do_login()

    async def refresh_now(self) -> bool:
        """Renew with the refresh token now; ``False`` when none is held. Raises as the
        refresh does (SFTAuthError when refused)."""
        async with self._lock:
            if self.refresh is None:
                return False
            await self._do_refresh()
            return True

    async def token_rejected(self, rejected: str) -> None:
        """Called after either 401 shape: renew unless another caller already did."""
        async with self._lock:
            if self.access is not None and self.access.value != rejected:
                return
            self.access = None
            await self._renew()

    async def _renew(self) -> None:
        """Refresh if a refresh token is believed valid, else (or if refused) log in."""
        if self._refresh_usable(self._clock()):
            try:
                await self._do_refresh()
                return
            except SFTAuthError:
                logger.info("sft refresh token refused; logging in again")
            except SFTError as exc:
                logger.warning(
                    "sft token refresh failed; logging in again",
                    extra={"error": type(exc).__name__},
                )
        await self._do_login()

    def _refresh_usable(self, now: float) -> bool:
        return self.refresh is not None and now < self.refresh.expires_at

    async def _do_login(self) -> None:
        body: dict[str, str] = {
            wire.LOGIN_USERNAME: self.username,
            wire.LOGIN_PASSWORD: self._password.get_secret_value(),
        }
        if self._target_account_id:
            body[wire.LOGIN_TARGET_ACCOUNT_ID] = self._target_account_id
        self.login_count += 1
        access, refresh = await self._token_request(wire.LOGIN, body=body, bearer=None)
        self._store_tokens(access, refresh)
        logger.info("sft logged in")

    async def _do_refresh(self) -> None:
        assert self.refresh is not None
        self.refresh_count += 1
        access, refresh = await self._token_request(
            wire.REFRESH_TOKEN, body=None, bearer=self.refresh.value
        )
        self._store_tokens(access, refresh)
        logger.info("sft token refreshed")

    async def _token_request(
        self, op: wire.Operation, *, body: Any, bearer: str | None
    ) -> tuple[str, str | None]:
        """Login or refresh: ``(access, refresh or None)``. HTTP 401/403 or a refusal envelope
        (HTTP 200 with a non-zero result) raise SFTAuthError; an unreadable body raises
        SFTMalformedResponse."""

        async def attempt() -> tuple[str, str | None]:
            response = await self._transport.exchange(
                op, op.path, Priority.PROVISIONING, None, body, bearer=bearer
            )
            status = response.status_code
            if status == httpx.codes.UNAUTHORIZED or status == httpx.codes.FORBIDDEN:
                raise SFTAuthError(
                    op.name,
                    status,
                    wire.CODE_TOKEN_INVALID,
                    description_or_none(op, response) or "authentication refused",
                )
            data = parsing.decode_json(op.name, status, response.content)
            if isinstance(data, dict) and wire.ACCESS_TOKEN not in data:
                # An envelope instead of tokens: a refusal in the HTTP-200 shape.
                try:
                    env = parsing.parse_envelope(op.name, status, data)
                except SFTMalformedResponse:
                    env = None
                if env is not None and not env.ok:
                    raise SFTAuthError(op.name, status, env.op_code, env.description)
            return parsing.parse_tokens(op.name, status, data)

        return await self._transport.with_retries(op, attempt)

    def _store_tokens(self, access: str, refresh: str | None) -> None:
        self.access = self._schedule(access, wire.DEFAULT_ACCESS_TOKEN_LIFETIME_S)
        if refresh is not None:
            self.refresh = self._schedule(refresh, wire.DEFAULT_REFRESH_TOKEN_LIFETIME_S)

    def _schedule(self, token: str, default_lifetime: float) -> Token:
        """Lifetime from the JWT (``exp - iat``, else ``exp - now``), else the default of
        docs/sft-platform.md#authentication ("Lifetime")."""
        claims = parsing.jwt_claims(token)
        lifetime = default_lifetime
        exp, iat = claims.get(wire.JWT_EXP), claims.get(wire.JWT_IAT)
        if isinstance(exp, int | float) and not isinstance(exp, bool):
            if isinstance(iat, int | float) and not isinstance(iat, bool) and exp > iat:
                lifetime = float(exp - iat)
            elif exp > self._wall_clock():
                lifetime = float(exp) - self._wall_clock()
        now = self._clock()
        return Token(token, now + REFRESH_AT_FRACTION * lifetime, now + lifetime)
