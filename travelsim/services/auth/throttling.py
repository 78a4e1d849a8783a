"""Sign-in throttling: password sign-ins and second-factor codes, on the shared rate limits.

Three rules, all counted in :mod:`travelsim.services.rate_limits` (atomic, shared by every
worker through Redis), within ``SIGNIN_THROTTLE_WINDOW_SECONDS`` (15 min)
(docs/architecture.md#security-accounts-and-throttling):

* **account + address** (``SIGNIN_THROTTLE_PER_ACCOUNT``, 5): attempts at one account from
  one client address. Beyond it that address is refused for that account with ``throttled``.
* **address** (``SIGNIN_THROTTLE_PER_ADDRESS``, 20): *failed* attempts from one client address
  at any account (password spraying). Beyond it the address is refused. Successes and
  attempts already refused do not count, so one account's guesses from a shared address
  (a household, a hotel) never refuse another account's right password there, until they
  add up to that many failures. Parallel bursts are bounded by a second, atomic rule on all
  attempts from the address, :data:`ADDRESS_BURST_FACTOR` times larger.
* **account, from anywhere**: never a refusal, so a stranger cannot lock the owner out
  (OWASP Authentication Cheat Sheet, "Account Lockout"): once the account has
  ``SIGNIN_THROTTLE_PER_ACCOUNT`` failures from all addresses together, each further attempt
  waits :data:`ACCOUNT_DELAY_SECONDS` before its credential is checked, and
  :data:`ACCOUNT_DELAY_MAX_SECONDS` once it has :data:`ACCOUNT_HEAVY_FAILURES`.

The client address is ``travelsim.routes.http.client_address`` (it honours
``TRUSTED_PROXY_HOPS``). :func:`check_throttle` *reserves* the attempt in the account+address
rule (and the address's burst rule) in one atomic step before the credential is checked, so 41
parallel guesses at one account get at most the limit evaluated; :func:`record_failure` counts
a failure towards the address's failures and the third;
:func:`clear_failures` forgets the account's counts after a success. The ``session``
parameters are kept for the callers' convenience: nothing is written to the database.
"""

from __future__ import annotations

import asyncio
import logging

from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.services import rate_limits
from travelsim.services.auth.credentials import normalise_email
from travelsim.services.auth.errors import AccountError
from travelsim.settings import Settings, get_settings

log = logging.getLogger(__name__)

#: Kinds of throttled attempts.
KIND_PASSWORD = "password"
KIND_TOTP = "totp"

#: Wait before checking a credential of an account with many failures from all addresses,
#: in seconds.
ACCOUNT_DELAY_SECONDS = 1.0
#: The wait once the account has :data:`ACCOUNT_HEAVY_FAILURES` failures in the window.
ACCOUNT_DELAY_MAX_SECONDS = 5.0
ACCOUNT_HEAVY_FAILURES = 100
#: All attempts (successes included) one address may make per window, as a multiple of
#: ``SIGNIN_THROTTLE_PER_ADDRESS``: bounds a parallel burst that the failures rule, checked
#: before the outcome is known, cannot.
ADDRESS_BURST_FACTOR = 5


def throttle_account(raw_email: str) -> str:
    """The account key a sign-in attempt counts against: the normalised email, or for a
    malformed one its trimmed lower-case form (cut to 254 characters)."""
    try:
        return normalise_email(raw_email)
    except AccountError:
        return (raw_email or "").strip().lower()[:254]


def totp_account(user_id: int) -> str:
    """The account key of second-factor attempts of ``user_id``: ``"user:<id>"``."""
    return f"user:{user_id}"


def _limits(kind: str, cfg: Settings) -> tuple[rate_limits.Limit, ...]:
    """(account+address, address failures, account soft, account heavy) rules of ``kind``."""
    window = f"{cfg.signin_throttle_window_seconds} seconds"
    return (
        rate_limits.Limit(
            f"signin-{kind}-account-address", f"{cfg.signin_throttle_per_account}/{window}"
        ),
        rate_limits.Limit("signin-address-failures", f"{cfg.signin_throttle_per_address}/{window}"),
        rate_limits.Limit(f"signin-{kind}-account", f"{cfg.signin_throttle_per_account}/{window}"),
        rate_limits.Limit(f"signin-{kind}-account-heavy", f"{ACCOUNT_HEAVY_FAILURES}/{window}"),
    )


def _address_burst(cfg: Settings) -> rate_limits.Limit:
    """Every attempt from one address, :data:`ADDRESS_BURST_FACTOR` times the failures rule."""
    amount = cfg.signin_throttle_per_address * ADDRESS_BURST_FACTOR
    return rate_limits.Limit(
        "signin-address-attempts", f"{amount}/{cfg.signin_throttle_window_seconds} seconds"
    )


async def account_delay(kind: str, account: str, settings: Settings | None = None) -> float:
    """Seconds an attempt at ``account`` waits before its credential is checked (0, or
    :data:`ACCOUNT_DELAY_SECONDS`, or :data:`ACCOUNT_DELAY_MAX_SECONDS`)."""
    _pair, _address, soft, heavy = _limits(kind, settings or get_settings())
    if not await rate_limits.allowed(heavy, account):
        return ACCOUNT_DELAY_MAX_SECONDS
    if not await rate_limits.allowed(soft, account):
        return ACCOUNT_DELAY_SECONDS
    return 0.0


async def check_throttle(
    session: AsyncSession | None,
    *,
    kind: str,
    account: str,
    address: str,
    settings: Settings | None = None,
) -> None:
    """Reserve one attempt of ``kind`` at ``account`` from ``address`` (atomically, before
    the credential is checked), then wait the account's progressive delay
    (:func:`account_delay`). Raises :class:`AccountError` ``throttled`` when the
    account+address or the address rule is full (nothing reserved then). ``session`` is
    unused (kept for the callers)."""
    cfg = settings or get_settings()
    pair, address_failures, _soft, _heavy = _limits(kind, cfg)
    if not await rate_limits.allowed(address_failures, address):
        log.info("attempt throttled kind=%s reason=address", kind)
        raise AccountError("throttled")
    if not await rate_limits.hit(pair, account, address):
        log.info("attempt throttled kind=%s reason=account_address", kind)
        raise AccountError("throttled")
    if not await rate_limits.hit(_address_burst(cfg), address):
        log.info("attempt throttled kind=%s reason=address_burst", kind)
        raise AccountError("throttled")
    delay = await account_delay(kind, account, cfg)
    if delay:
        log.info("attempt delayed kind=%s seconds=%s", kind, delay)
        await asyncio.sleep(delay)


async def record_failure(
    session: AsyncSession | None,
    *,
    kind: str,
    account: str,
    address: str,
    settings: Settings | None = None,
) -> None:
    """Count one failed attempt at ``account`` from ``address`` towards the address's failures
    and the account's progressive delay (the attempt itself was counted by
    :func:`check_throttle`). ``session`` is unused (kept for the callers)."""
    _pair, address_failures, soft, heavy = _limits(kind, settings or get_settings())
    await rate_limits.hit(address_failures, address)
    await rate_limits.hit(soft, account)
    await rate_limits.hit(heavy, account)


async def clear_failures(
    session: AsyncSession | None,
    *,
    kind: str,
    account: str,
    address: str | None = None,
    settings: Settings | None = None,
) -> None:
    """Forget the failures of ``kind`` at ``account`` (after a success or a password reset):
    its progressive delay, and with ``address`` that address's attempts at it."""
    pair, _address, soft, heavy = _limits(kind, settings or get_settings())
    await rate_limits.clear(soft, account)
    await rate_limits.clear(heavy, account)
    if address is not None:
        await rate_limits.clear(pair, account, address)
