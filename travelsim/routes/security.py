"""Password reset, the TOTP second factor and sign-out everywhere, as HTML form posts.

Same conventions as :mod:`travelsim.routes.auth` (helpers in :mod:`travelsim.routes.http`):
every POST passes the same-origin check (403 otherwise) and answers ``303 See Other`` with
``?error=<code>`` / ``?notice=<code>``.

- ``POST /auth/password/forgot`` (email): always ``/signin?notice=reset_sent``, or
  ``/password/forgot?error=rate_limited`` beyond the per-address / per-email limits
  (``travelsim.services.auth.request_limits``); an email with a single-use link
  ``/password/reset?token=…`` goes to existing accounts, a "no account" note to other
  addresses (the same work either way).
- ``POST /auth/password/reset`` (token, password, password2): the new password is set, every
  session of the account is revoked and this browser is signed in afresh (second-factor page
  first for staff / TOTP users); errors ``/password/reset?token=…&error=…`` (password policy,
  ``passwords_differ``) or ``/password/forgot?error=reset_token_…``.
- ``POST /auth/totp`` (code, next): confirms a pending enrolment or passes the second factor
  for this session; then ``next``. Errors ``/security/totp?error=…&next=…``; failures are
  throttled like password sign-ins (``throttled``).
- ``POST /auth/signout-all``: every session of the account is revoked (this one included),
  cookie deleted, ``Clear-Site-Data`` as at sign-out, ``/signin?notice=signed_out_everywhere``.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from travelsim import db, urls
from travelsim.routes.http import (
    client_address,
    cookie_token,
    forbidden,
    read_form,
    redirect,
    same_origin,
    set_session_cookie,
    signed_out,
)
from travelsim.routes.locale import in_request_language
from travelsim.services.auth import reset, sessions
from travelsim.services.auth.errors import AccountError
from travelsim.services.auth.request_limits import check_request
from travelsim.services.auth.signin import after_signin_path, safe_next
from travelsim.services.auth.totp import confirm_totp_enrolment, totp_of, verify_totp
from travelsim.settings import get_settings

log = logging.getLogger(__name__)


async def forgot_password(request: Request) -> Response:
    """``POST /auth/password/forgot``: maybe email a reset link; always the same answer."""
    settings = get_settings()
    if not same_origin(request, settings):
        return forbidden()
    form = await read_form(request)
    try:
        await check_request("reset", client_address(request), form.get("email", ""))
    except AccountError as exc:
        return redirect("/password/forgot", error=exc.code)
    async with db.session() as s:
        await reset.request_password_reset(s, form.get("email", ""), settings.public_url)
        await s.commit()
    return redirect(urls.SIGN_IN, notice="reset_sent")


async def reset_password(request: Request) -> Response:
    """``POST /auth/password/reset``: set the new password from a reset link."""
    settings = get_settings()
    if not same_origin(request, settings):
        return forbidden()
    form = await read_form(request)
    token = form.get("token", "")
    password = form.get("password", "")
    if password != form.get("password2", ""):
        return redirect("/password/reset", token=token, error="passwords_differ")
    async with db.session() as s:
        try:
            user = await reset.reset_password(s, token, password)
        except AccountError as exc:
            await s.rollback()
            if exc.code.startswith("reset_token_"):
                return redirect("/password/forgot", error=exc.code)
            return redirect("/password/reset", token=token, error=exc.code)
        session_token = await sessions.start_session(
            s,
            user,
            method="reset",
            previous_token=cookie_token(request),
            user_agent=request.headers.get("user-agent"),
        )
        target = await after_signin_path(s, user, session_token, urls.ACCOUNT)
        await s.commit()
    response = redirect(target)
    set_session_cookie(response, session_token, settings)
    return response


async def totp(request: Request) -> Response:
    """``POST /auth/totp``: confirm TOTP enrolment or pass the second factor."""
    settings = get_settings()
    if not same_origin(request, settings):
        return forbidden()
    form = await read_form(request)
    next_path = safe_next(form.get("next"))
    token = cookie_token(request)
    async with db.session() as s:
        # The second factor's own route: the session may still owe it (docs/architecture.md).
        user = await sessions.pending_user(s, token)
        if user is None or user.id is None:
            await s.commit()
            return redirect(urls.SIGN_IN, error="signin_required")
        row = await totp_of(s, user.id)
        try:
            if row is not None and row.confirmed_at is None:
                await confirm_totp_enrolment(
                    s,
                    user,
                    form.get("code", ""),
                    session_token=token,
                    address=client_address(request),
                )
            else:
                await verify_totp(
                    s,
                    user,
                    form.get("code", ""),
                    session_token=token,
                    address=client_address(request),
                )
        except AccountError as exc:
            await s.commit()  # keeps the failed attempt for throttling
            return redirect(
                "/security/totp", error=exc.code, next="" if next_path == "/" else next_path
            )
        await s.commit()
    return redirect(next_path)


async def signout_all(request: Request) -> Response:
    """``POST /auth/signout-all``: revoke every session of the signed-in account."""
    settings = get_settings()
    if not same_origin(request, settings):
        return forbidden()
    async with db.session() as s:
        token = cookie_token(request)
        user = await sessions.resolve_session(s, token)
        if user is not None and user.id is not None:
            await sessions.sign_out_everywhere(s, user.id)
        else:  # a session owing its second factor may not end the others: only itself
            await sessions.end_session(s, token)
        await s.commit()
    response = redirect(urls.SIGN_IN, notice="signed_out_everywhere")
    return signed_out(response, settings)


def security_routes() -> list[Route]:
    """The routes above, to mount in ``travelsim.routes.app.build_routes_app``. The reset
    request emails in the language of the page the form was on (docs/i18n.md#emails)."""
    return [
        Route("/auth/password/forgot", in_request_language(forgot_password), methods=["POST"]),
        Route("/auth/password/reset", reset_password, methods=["POST"]),
        Route("/auth/totp", totp, methods=["POST"]),
        Route("/auth/signout-all", signout_all, methods=["POST"]),
    ]
