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

log = logging.getLogger(__name__)

Action = Literal["signup", "reset", "resend"]

#: Requests of one action per client address, and per target email, per window.
PER_ADDRESS = 10
PER_EMAIL = 3

_WINDOW = f"{RATE_LIMIT_WINDOW_MINUTES} minutes"
_BY_ADDRESS = {
    a: rate_limits.Limit(f"{a}-address", f"{PER_ADDRESS}/{_WINDOW}")
    for a in ("signup", "reset", "resend")
}
_BY_EMAIL = {
    a: rate_limits.Limit(f"{a}-email", f"{PER_EMAIL}/{_WINDOW}")
    for a in ("signup", "reset", "resend")
}


async def check_request(action: Action, address: str, email: str) -> None:
    """Count one ``action`` request from client ``address`` for target ``email`` (raw, as
    typed: normalised here). Raises :class:`AccountError` ``rate_limited`` when the address
    made :data:`PER_ADDRESS`, or the email received :data:`PER_EMAIL`, requests of this
    action within the last :data:`~travelsim.services.auth.errors.RATE_LIMIT_WINDOW_MINUTES`
    minutes (the refused request is not counted against the email)."""
    if not await rate_limits.hit(_BY_ADDRESS[action], address):
        log.info("request refused action=%s reason=address", action)
        raise AccountError("rate_limited")
    target = throttle_account(email)
    if target and not await rate_limits.hit(_BY_EMAIL[action], target):
        log.info("request refused action=%s reason=email", action)
        raise AccountError("rate_limited")
