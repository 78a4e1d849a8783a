"""Sign-up, email verification, sign-in and sign-out as plain HTML form posts.

The browser posts ``application/x-www-form-urlencoded`` forms here and always gets a
``303 See Other`` to a page, with ``?error=<code>`` (see
``travelsim.services.accounts.ERROR_MESSAGES``) or ``?notice=<code>`` for that page to
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
  ``travelsim.services.security``).
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
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from travelsim import db
from travelsim.models import User
from travelsim.services import accounts, security
from travelsim.services.accounts import COOKIE_NAME, AccountError
from travelsim.settings import Settings, get_settings

log = logging.getLogger(__name__)

_FIELD_MAX = 1024


def safe_next(value: str | None) -> str:
    """``value`` if it is a same-site relative path (``/…``, not ``//…`` nor ``/\\…``,
    no scheme, host, backslash or control character), else ``"/"``."""
    if not value or len(value) > _FIELD_MAX:
        return "/"
    if not value.startswith("/") or value.startswith("//"):
        return "/"
    if "\\" in value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


def _origin_of(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, parts.hostname.lower(), port or default


def same_origin(request: Request, settings: Settings) -> bool:
    """False when the request carries an ``Origin`` (or, lacking one, a ``Referer``)
    that is neither the origin the request was addressed to nor ``settings.public_url``'s
    (``"null"`` and unparsable values count as foreign). True when neither header is
    present (non-browser clients)."""
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if claimed is None:
        return True
    origin = _origin_of(claimed)
    if origin is None:
        return False
    allowed = {_origin_of(str(request.url)), _origin_of(settings.public_url)}
    return origin in allowed


def client_address(request: Request) -> str:
    """The client's IP address as the server sees it (the throttling key per address)."""
    return request.client.host if request.client else "unknown"


def _redirect(path: str, **params: str) -> RedirectResponse:
    query = urlencode({k: v for k, v in params.items() if v})
    return RedirectResponse(f"{path}?{query}" if query else path, status_code=303)


def _set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=int(accounts.SESSION_ABSOLUTE_TTL.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )


def _delete_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        COOKIE_NAME, path="/", httponly=True, samesite="lax", secure=settings.secure_cookies
    )


async def _form(request: Request) -> dict[str, str]:
    """The text fields of the posted form, each cut to 1024 characters."""
    form = await request.form(max_files=0, max_fields=20)
    return {k: v[:_FIELD_MAX] for k, v in form.items() if isinstance(v, str)}


def _forbidden() -> Response:
    return PlainTextResponse(accounts.message_for("csrf"), status_code=403)


async def signup(request: Request) -> Response:
    """``POST /auth/signup``: create the account and queue the verification email."""
    settings = get_settings()
    if not same_origin(request, settings):
        return _forbidden()
    form = await _form(request)
    email = form.get("email", "").strip()
    password = form.get("password", "")
    next_path = safe_next(form.get("next"))
    async with db.session() as s:
        try:
            await accounts.signup(
                s, email, password, base_url=settings.public_url, next_path=next_path
            )
            await s.commit()
        except AccountError as exc:
            if exc.code != "email_taken":
                return _redirect("/signup", error=exc.code, email=email, next=form.get("next", ""))
            await s.rollback()
            await accounts.notify_existing_signup(s, email, settings.public_url)
            await s.commit()
    return _redirect("/signin", notice="check_email", next="" if next_path == "/" else next_path)


async def verify(request: Request) -> Response:
    """``GET /auth/verify?token=&next=``: confirm the email, sign in, go to ``next`` (a safe
    relative path, else home)."""
    settings = get_settings()
    token = request.query_params.get("token", "")
    next_path = safe_next(request.query_params.get("next"))
    async with db.session() as s:
        try:
            user = await accounts.verify_email(s, token)
            session_token = await security.start_session(
                s,
                user,
                method="email_link",
                previous_token=request.cookies.get(COOKIE_NAME),
                user_agent=request.headers.get("user-agent"),
            )
            target = await security.after_signin_path(s, user, session_token, next_path)
            await s.commit()
        except AccountError as exc:
            return _redirect("/signin", error=exc.code)
    response = _redirect(target)
    _set_session_cookie(response, session_token, settings)
    return response


async def signin(request: Request) -> Response:
    """``POST /auth/signin``: check the password, start a session, go to ``next``."""
    settings = get_settings()
    if not same_origin(request, settings):
        return _forbidden()
    form = await _form(request)
    next_path = safe_next(form.get("next"))
    account = security.throttle_account(form.get("email", ""))
    address = client_address(request)
    async with db.session() as s:
        try:
            # Throttled before the password is even checked: a guesser learns nothing more.
            await security.check_throttle(
                s, kind=security.KIND_PASSWORD, account=account, address=address
            )
            user = await accounts.authenticate(s, form.get("email", ""), form.get("password", ""))
        except AccountError as exc:
            if exc.code == "invalid_credentials":
                await security.record_failure(
                    s, kind=security.KIND_PASSWORD, account=account, address=address
                )
            await s.commit()
            # ``unverified`` is only answered to someone who knows the password: echo the
            # email so the page can offer "send the link again".
            email = form.get("email", "").strip() if exc.code == "unverified" else ""
            return _redirect("/signin", error=exc.code, next=next_path, email=email)
        await security.clear_failures(s, kind=security.KIND_PASSWORD, account=account)
        # A fresh token on every sign-in (no session fixation); the old one is revoked.
        token = await security.start_session(
            s,
            user,
            method="password",
            previous_token=request.cookies.get(COOKIE_NAME),
            user_agent=request.headers.get("user-agent"),
        )
        target = await security.after_signin_path(s, user, token, next_path)
        await s.commit()
    response = _redirect(target)
    _set_session_cookie(response, token, settings)
    return response


async def signout(request: Request) -> Response:
    """``POST /auth/signout``: revoke the session server-side and drop the cookie."""
    settings = get_settings()
    if not same_origin(request, settings):
        return _forbidden()
    from travelsim.routes.oidc import provider_logout_url

    token = request.cookies.get(COOKIE_NAME)
    async with db.session() as s:
        factor = await security.session_factor(s, token)
        await accounts.end_session(s, token)
        await s.commit()
    provider_url = await provider_logout_url(factor)
    response = RedirectResponse(provider_url, status_code=303) if provider_url else _redirect("/")
    _delete_session_cookie(response, settings)
    return response


async def resend(request: Request) -> Response:
    """``POST /auth/resend``: maybe send a new verification link; always neutral."""
    settings = get_settings()
    if not same_origin(request, settings):
        return _forbidden()
    form = await _form(request)
    async with db.session() as s:
        await accounts.resend_verification(s, form.get("email", ""), settings.public_url)
        await s.commit()
    return _redirect("/signin", notice="check_email")


async def current_user(request: Request) -> User | None:
    """The signed-in user of ``request`` (from the session cookie), or ``None``.
    Opens and commits its own database session (``last_seen_at`` bump)."""
    return await accounts.user_for_token(request.cookies.get(COOKIE_NAME))


def auth_routes() -> list[Route]:
    """The routes above, to mount in ``travelsim.routes.app.build_routes_app``."""
    return [
        Route("/auth/signup", signup, methods=["POST"]),
        Route("/auth/verify", verify, methods=["GET"]),
        Route("/auth/signin", signin, methods=["POST"]),
        Route("/auth/signout", signout, methods=["POST"]),
        Route("/auth/resend", resend, methods=["POST"]),
    ]
