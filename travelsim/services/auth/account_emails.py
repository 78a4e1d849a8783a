"""The emails that answer a request about an address that has nothing to act on.

Forgot-password and resend-verification queue exactly one email whatever the address is
(docs/architecture.md#security-accounts-and-throttling), so the answer costs the same work
for an existing and an unknown address: these are the emails of the "nothing to do" cases.
Each function queues one row in the caller's session (:func:`travelsim.services.email.enqueue`,
flushed, **not committed**); links use the portal's public origin ``base_url``.
"""

from __future__ import annotations

import html

from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import urls
from travelsim.services import email as email_service


async def send_no_account(
    session: AsyncSession, address: str, base_url: str, *, asked: str, kind: str
) -> None:
    """Tell ``address`` (normalised) that someone asked for ``asked`` (e.g. "a password
    reset") but no TravelSIM account uses it; ``kind``: the outbox label."""
    signup = urls.absolute("/signup", base_url)
    await email_service.enqueue(
        session,
        to=address,
        subject="About your TravelSIM request",
        text=(
            f"Someone (probably you) asked for {asked} for this email address, but no "
            "TravelSIM account uses it.\n\n"
            f"If you meant to create one: {signup}\n\n"
            "If it was not you, you can ignore this email.\n"
        ),
        html=(
            f"<p>Someone (probably you) asked for {html.escape(asked)} for this email "
            "address, but no TravelSIM account uses it.</p>"
            f'<p><a href="{html.escape(signup, quote=True)}">Create an account</a></p>'
            "<p>If it was not you, you can ignore this email.</p>"
        ),
        kind=kind,
    )


async def send_already_verified(
    session: AsyncSession, address: str, user_id: int, base_url: str
) -> None:
    """Tell the owner of ``address`` that a new confirmation link was asked for although the
    address is already confirmed (kind ``already_verified``)."""
    signin = urls.absolute(urls.SIGN_IN, base_url)
    await email_service.enqueue(
        session,
        to=address,
        subject="Your TravelSIM email address is already confirmed",
        text=(
            "Someone (probably you) asked for a new confirmation link, but this email "
            "address is already confirmed.\n\n"
            f"Sign in here: {signin}\n\n"
            "If it was not you, you can ignore this email: nothing has changed.\n"
        ),
        html=(
            "<p>Someone (probably you) asked for a new confirmation link, but this email "
            "address is already confirmed.</p>"
            f'<p><a href="{html.escape(signin, quote=True)}">Sign in</a></p>'
            "<p>If it was not you, you can ignore this email: nothing has changed.</p>"
        ),
        kind="already_verified",
        user_id=user_id,
    )
