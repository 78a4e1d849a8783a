"""Sign-up, email verification, sign-in and sign-out as plain HTML form posts.

The browser posts ``application/x-www-form-urlencoded`` forms here and always gets a
``303 See Other`` to a page, with ``?error=<code>`` (see
``travelsim.services.auth.errors.ERROR_MESSAGES``) or ``?notice=<code>`` for that page to
show. The session lives in the HttpOnly cookie ``travelsim_session`` (``SameSite=Lax``,
``Path=/``, ``Secure`` in production, 30 days), never in JavaScript-readable storage.

- ``POST /auth/signup`` (email, password, next): ``/signin?notice=check_email`` and the
  sign-up flow cookie ``travelsim_signup`` (HttpOnly, ``Path=/auth/verify``, 24 h); errors
  ``/signup?error=…&email=…&next=…`` (``rate_limited`` beyond the per-address / per-email
  limits of ``travelsim.services.auth.request_limits``).
- ``GET /auth/verify?token=…&next=…``: the email is verified. Only the browser holding the
  flow cookie of the sign-up that sent this link is signed in (session cookie, ``next``: a
  safe relative path, else ``/``); any other browser gets ``/signin?notice=email_verified``
  and signs in with its password (no login CSRF: an attacker's link never signs the victim
  into the attacker's account), or, when no sign-up's password was kept (sign-ups competed
  for the address, or a resent link), ``/password/reset?token=…``: a one-use token to
  choose the password (``POST /auth/password/reset``). Errors ``/signin?error=…``.
  Sign-up puts its own ``next`` in the link.
- ``POST /auth/signin`` (email, password, next): cookie set, ``next`` (a safe relative
  path, else ``/``), or the second-factor page first for staff and TOTP users; errors
  ``/signin?error=…&next=…`` (plus ``email`` for ``unverified``). Failed attempts are
  throttled per account and per client address (``throttled``, see
  ``travelsim.services.auth.throttling``).
- ``POST /auth/signout``: session revoked, cookie deleted, ``Clear-Site-Data: "cache",
  "storage"`` (a kept install card goes too: ``routes.http.signed_out``), ``/`` (or, for a
  session started at an identity provider, that provider's end-session page, which returns
  to ``/``).
- ``POST /auth/resend`` (email): always ``/signin?notice=check_email`` (plus a new flow
  cookie), or ``/signin?error=rate_limited``; the same work for every address.

A duplicate sign-up gets the same answer as a new one (no account enumeration); the
owner of the address is emailed instead. CSRF: a POST whose ``Origin`` (or, without it,
``Referer``) is present and is neither the request's own origin nor ``PUBLIC_URL``'s is
refused with 403; ``SameSite=Lax`` keeps the cookie off cross-site POSTs as well. Links in
emails are built from ``PUBLIC_URL``, never from the request's ``Host`` header.
"""

from __future__ import annotations

import logging
import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from travelsim import db, urls
from travelsim.routes.currency import remember_account_currency
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
from travelsim.routes.locale import in_request_language, remember_account_language
from travelsim.routes.oidc import provider_logout_url
from travelsim.services.auth import sessions
from travelsim.services.auth import signin as signin_service
from travelsim.services.auth import signup as signup_service
from travelsim.services.auth.errors import AccountError
from travelsim.services.auth.request_limits import check_request
from travelsim.services.auth.signup import VERIFY_TOKEN_TTL
from travelsim.services.auth.throttling import (
    KIND_PASSWORD,
    check_throttle,
    clear_failures,
    record_failure,
    throttle_account,
)
from travelsim.services.auth.tokens import token_hash
from travelsim.settings import Settings, get_settings

log = logging.getLogger(__name__)

#: The sign-up flow cookie: a random value whose SHA-256 rides with the verification link.
SIGNUP_FLOW_COOKIE = "travelsim_signup"
_FLOW_PATH = "/auth/verify"


def _new_flow() -> tuple[str, str]:
    """A fresh ``(cookie value, its SHA-256 hex)`` for a sign-up's browser."""
    value = secrets.token_urlsafe(32)
    return value, token_hash(value)


def _set_flow_cookie(response: Response, value: str, settings: Settings) -> None:
    response.set_cookie(
        SIGNUP_FLOW_COOKIE,
        value,
        max_age=int(VERIFY_TOKEN_TTL.total_seconds()),
        path=_FLOW_PATH,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )


async def signup(request: Request) -> Response:
    """``POST /auth/signup``: create the account and queue the verification email."""
    settings = get_settings()
    if not same_origin(request, settings):
        return forbidden()
    form = await read_form(request)
    email = form.get("email", "").strip()
    password = form.get("password", "")
    next_path = signin_service.safe_next(form.get("next"))
    flow, flow_hash = _new_flow()
    try:
        await check_request("signup", client_address(request), email)
    except AccountError as exc:
        return redirect(
            "/signup", error=exc.code, email=email, next="" if next_path == "/" else next_path
        )
    async with db.session() as s:
        try:
            await signup_service.signup(
                s,
                email,
                password,
                base_url=settings.public_url,
                next_path=next_path,
                flow_hash=flow_hash,
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
            # Unverified account: its new pending password and link are queued; verified:
            # the owner gets a note. The answer is the same as for a new account.
            await signup_service.notify_existing_signup(s, email, settings.public_url)
            await s.commit()
    response = redirect(
        urls.SIGN_IN, notice="check_email", next="" if next_path == "/" else next_path
    )
    _set_flow_cookie(response, flow, settings)
    return response


async def verify(request: Request) -> Response:
    """``GET /auth/verify?token=&next=``: confirm the email; sign in only the browser that
    started this sign-up (its flow cookie), then go to ``next`` (a safe relative path, else
    home); any other browser is asked to sign in, or to choose its password when no
    sign-up's password was kept (competing sign-ups, resent link)."""
    settings = get_settings()
    token = request.query_params.get("token", "")
    next_path = signin_service.safe_next(request.query_params.get("next"))
    async with db.session() as s:
        try:
            verified = await signup_service.verify_signup(
                s, token, request.cookies.get(SIGNUP_FLOW_COOKIE)
            )
            if verified.outcome != "this_browser":
                await s.commit()
                if verified.reset_token:  # the link opened authorises choosing, once
                    response = RedirectResponse(
                        urls.reset_password(verified.reset_token), status_code=303
                    )
                    _delete_flow_cookie(response, settings)
                    return response
                return redirect(
                    urls.SIGN_IN,
                    notice="email_verified",
                    next="" if next_path == "/" else next_path,
                )
            user = verified.user
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
    _delete_flow_cookie(response, settings)
    return response


def _delete_flow_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        SIGNUP_FLOW_COOKIE,
        path=_FLOW_PATH,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )


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
        await clear_failures(s, kind=KIND_PASSWORD, account=account, address=address)
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
    remember_account_language(response, user)
    remember_account_currency(response, user)
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
    return signed_out(response, settings)


async def resend(request: Request) -> Response:
    """``POST /auth/resend``: one email whatever the address (a new link to an unverified
    account); the same answer for every address."""
    settings = get_settings()
    if not same_origin(request, settings):
        return forbidden()
    form = await read_form(request)
    email = form.get("email", "")
    try:
        await check_request("resend", client_address(request), email)
    except AccountError as exc:
        return redirect(urls.SIGN_IN, error=exc.code)
    flow, flow_hash = _new_flow()
    async with db.session() as s:
        await signup_service.resend_verification(s, email, settings.public_url, flow_hash=flow_hash)
        await s.commit()
    response = redirect(urls.SIGN_IN, notice="check_email")
    _set_flow_cookie(response, flow, settings)
    return response


def auth_routes() -> list[Route]:
    """The routes above, to mount in ``travelsim.routes.app.build_routes_app``. Those that
    email run in the language of the page the form was on (docs/i18n.md#emails)."""
    return [
        Route("/auth/signup", in_request_language(signup), methods=["POST"]),
        Route("/auth/verify", verify, methods=["GET"]),
        Route("/auth/signin", signin, methods=["POST"]),
        Route("/auth/signout", signout, methods=["POST"]),
        Route("/auth/resend", in_request_language(resend), methods=["POST"]),
    ]
