"""Sign-up, email verification, sign-in and sign-out as plain HTML form posts.

The browser posts ``application/x-www-form-urlencoded`` forms here and always gets a
``303 See Other`` to a page, with ``?error=<code>`` (see
``travelsim.services.auth.errors.ERROR_MESSAGES``) or ``?notice=<code>`` for that page to
show. The session lives in the HttpOnly cookie ``travelsim_session`` (``SameSite=Lax``,
``Path=/``, ``Secure`` in production, 30 days), never in JavaScript-readable storage.

- ``POST /auth/signup`` (email, password, next): ``/signin?notice=check_email``;
  errors ``/signup?error=…&email=…&next=…``.
- ``GET /auth/verify?token=…&next=…``: cookie set, ``next`` (a safe relative path, else
  ``/``); errors ``/signin?error=…``. Sign-up puts its own ``next`` in the link.
- ``POST /auth/signin`` (email, password, next): cookie set, ``next`` (a safe relative
  path, else ``/``), or the second-factor page first for staff and TOTP users; errors
  ``/signin?error=…&next=…`` (plus ``email`` for ``unverified``). Failed attempts are
  throttled per account and per client address (``throttled``, see
  ``travelsim.services.auth.throttling``).
- ``POST /auth/signout``: session revoked, cookie deleted, ``/`` (or, for a session started
  at an identity provider, that provider's end-session page, which returns to ``/``).
- ``POST /auth/resend`` (email): always ``/signin?notice=check_email``.

A duplicate sign-up gets the same answer as a new one (no account enumeration); the
owner of the address is emailed instead. CSRF: a POST whose ``Origin`` (or, without it,
``Referer``) is present and is neither the request's own origin nor ``PUBLIC_URL``'s is
refused with 403; ``SameSite=Lax`` keeps the cookie off cross-site POSTs as well. Links in
emails are built from ``PUBLIC_URL``, never from the request's ``Host`` header.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from travelsim import db, urls
from travelsim.routes.http import (
    client_address,
    cookie_token,
    delete_session_cookie,
    forbidden,
    read_form,
    redirect,
    same_origin,
    set_session_cookie,
)
from travelsim.routes.oidc import provider_logout_url
from travelsim.services.auth import sessions
from travelsim.services.auth import signin as signin_service
from travelsim.services.auth import signup as signup_service
from travelsim.services.auth.errors import AccountError
from travelsim.services.auth.throttling import (
    KIND_PASSWORD,
    check_throttle,
    clear_failures,
    record_failure,
    throttle_account,
)
from travelsim.settings import get_settings

log = logging.getLogger(__name__)


async def signup(request: Request) -> Response:
    """``POST /auth/signup``: create the account and queue the verification email."""
    settings = get_settings()
    if not same_origin(request, settings):
        return forbidden()
    form = await read_form(request)
    email = form.get("email", "").strip()
    password = form.get("password", "")
    next_path = signin_service.safe_next(form.get("next"))
    async with db.session() as s:
        try:
            await signup_service.signup(
                s, email, password, base_url=settings.public_url, next_path=next_path
            )
            await s.commit()
        except AccountError as exc:
            if exc.code != "email_taken":
                return redirect(
                    "/signup",
                    error=exc.code,
                    email=email,
                    next="" if next_path == "/" else next_path,
                )
            await s.rollback()
            await signup_service.notify_existing_signup(s, email, settings.public_url)
            await s.commit()
    return redirect(urls.SIGN_IN, notice="check_email", next="" if next_path == "/" else next_path)


async def verify(request: Request) -> Response:
    """``GET /auth/verify?token=&next=``: confirm the email, sign in, go to ``next`` (a safe
    relative path, else home)."""
    settings = get_settings()
    token = request.query_params.get("token", "")
    next_path = signin_service.safe_next(request.query_params.get("next"))
    async with db.session() as s:
        try:
            user = await signup_service.verify_email(s, token)
            session_token = await sessions.start_session(
                s,
                user,
                method="email_link",
                previous_token=cookie_token(request),
                user_agent=request.headers.get("user-agent"),
            )
            target = await signin_service.after_signin_path(s, user, session_token, next_path)
            await s.commit()
        except AccountError as exc:
            return redirect(urls.SIGN_IN, error=exc.code)
    response = redirect(target)
    set_session_cookie(response, session_token, settings)
    return response


async def signin(request: Request) -> Response:
    """``POST /auth/signin``: check the password, start a session, go to ``next``."""
    settings = get_settings()
    if not same_origin(request, settings):
        return forbidden()
    form = await read_form(request)
    next_path = signin_service.safe_next(form.get("next"))
    account = throttle_account(form.get("email", ""))
    address = client_address(request)
    async with db.session() as s:
        try:
            # Throttled before the password is even checked: a guesser learns nothing more.
            await check_throttle(s, kind=KIND_PASSWORD, account=account, address=address)
            user = await signin_service.authenticate(
                s, form.get("email", ""), form.get("password", "")
            )
        except AccountError as exc:
            if exc.code == "invalid_credentials":
                await record_failure(s, kind=KIND_PASSWORD, account=account, address=address)
            await s.commit()
            # ``unverified`` is only answered to someone who knows the password: echo the
            # email so the page can offer "send the link again".
            email = form.get("email", "").strip() if exc.code == "unverified" else ""
            return redirect(urls.SIGN_IN, error=exc.code, next=next_path, email=email)
        await clear_failures(s, kind=KIND_PASSWORD, account=account)
        # A fresh token on every sign-in (no session fixation); the old one is revoked.
        token = await sessions.start_session(
            s,
            user,
            method="password",
            previous_token=cookie_token(request),
            user_agent=request.headers.get("user-agent"),
        )
        target = await signin_service.after_signin_path(s, user, token, next_path)
        await s.commit()
    response = redirect(target)
    set_session_cookie(response, token, settings)
    return response


async def signout(request: Request) -> Response:
    """``POST /auth/signout``: revoke the session server-side and drop the cookie."""
    settings = get_settings()
    if not same_origin(request, settings):
        return forbidden()
    token = cookie_token(request)
    async with db.session() as s:
        factor = await sessions.session_factor(s, token)
        await sessions.end_session(s, token)
        await s.commit()
    provider_url = await provider_logout_url(factor)
    response = RedirectResponse(provider_url, status_code=303) if provider_url else redirect("/")
    delete_session_cookie(response, settings)
    return response


async def resend(request: Request) -> Response:
    """``POST /auth/resend``: maybe send a new verification link; always neutral."""
    settings = get_settings()
    if not same_origin(request, settings):
        return forbidden()
    form = await read_form(request)
    async with db.session() as s:
        await signup_service.resend_verification(s, form.get("email", ""), settings.public_url)
        await s.commit()
    return redirect(urls.SIGN_IN, notice="check_email")


def auth_routes() -> list[Route]:
    """The routes above, to mount in ``travelsim.routes.app.build_routes_app``."""
    return [
        Route("/auth/signup", signup, methods=["POST"]),
        Route("/auth/verify", verify, methods=["GET"]),
        Route("/auth/signin", signin, methods=["POST"]),
        Route("/auth/signout", signout, methods=["POST"]),
        Route("/auth/resend", resend, methods=["POST"]),
    ]
