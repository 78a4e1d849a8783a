"""How often one client address, and one target email, may ask for a sign-up, a password
reset email or a new verification link (docs/architecture.md#security-accounts-and-throttling).

Each of these costs an Argon2 hash (sign-up) and sends an email to an address the requester
types, so each is limited per client address (``travelsim.routes.http.client_address``,
which honours ``TRUSTED_PROXY_HOPS``) and per normalised target email, on the shared
:mod:`travelsim.services.rate_limits` (atomic, shared by every worker through Redis). A
refusal is :class:`~travelsim.services.auth.errors.AccountError` ``rate_limited`` ("Too many
attempts. Please try again in 60 minutes."), the same for every address, so it reveals
nothing about accounts.
"""

from __future__ import annotations

import logging
from typing import Literal

from travelsim.services import rate_limits
from travelsim.services.auth.errors import RATE_LIMIT_WINDOW_MINUTES, AccountError
from travelsim.services.auth.throttling import throttle_account
from travelsim.settings import get_settings

log = logging.getLogger(__name__)

Action = Literal["signup", "reset", "resend"]

_WINDOW = f"{RATE_LIMIT_WINDOW_MINUTES} minutes"


def _limits(action: Action) -> tuple[rate_limits.Limit, rate_limits.Limit]:
    """(per client address, per target email) rules of ``action``:
    ``ACCOUNT_REQUESTS_PER_ADDRESS`` (10) and ``ACCOUNT_REQUESTS_PER_EMAIL`` (3) per window."""
    cfg = get_settings()
    return (
        rate_limits.Limit(f"{action}-address", f"{cfg.account_requests_per_address}/{_WINDOW}"),
        rate_limits.Limit(f"{action}-email", f"{cfg.account_requests_per_email}/{_WINDOW}"),
    )


async def check_request(action: Action, address: str, email: str) -> None:
    """Count one ``action`` request from client ``address`` for target ``email`` (raw, as
    typed: normalised here). Raises :class:`AccountError` ``rate_limited`` when the address
    made ``ACCOUNT_REQUESTS_PER_ADDRESS``, or the email received
    ``ACCOUNT_REQUESTS_PER_EMAIL``, requests of this action within the last
    :data:`~travelsim.services.auth.errors.RATE_LIMIT_WINDOW_MINUTES` minutes (the refused
    request is not counted against the email)."""
    by_address, by_email = _limits(action)
    if not await rate_limits.hit(by_address, address):
        log.info("request refused action=%s reason=address", action)
        raise AccountError("rate_limited")
    target = throttle_account(email)
    if target and not await rate_limits.hit(by_email, target):
        log.info("request refused action=%s reason=email", action)
        raise AccountError("rate_limited")
