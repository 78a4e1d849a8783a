"""What every form-post route shares: reading the form, the same-origin check, the session
cookie, ``303`` redirects and the signed-in user (safe ``next`` paths are
:func:`travelsim.services.auth.signin.safe_next`, shared with the pages' states).

Conventions of the ``/auth/*`` and ``/account/*`` routes: a POST whose ``Origin`` (or,
without it, ``Referer``) is present and is neither the request's own origin nor an allowed
one (``PUBLIC_URL``'s, :mod:`travelsim.origins`) is refused with 403 (:func:`same_origin`,
:func:`forbidden`), for every route at once by :class:`CrossOriginGuard`; every answer
is a ``303 See Other`` with ``?error=<code>`` / ``?notice=<code>`` for the page to show
(:func:`redirect`). The session lives in the HttpOnly cookie ``travelsim_session``
(``SameSite=Lax``, ``Path=/``, ``Secure`` in production, 30 days), never in
JavaScript-readable storage.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlencode

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from travelsim import logs
from travelsim.models import User
from travelsim.origins import allowed_origins, origin_of
from travelsim.services.auth.errors import message_for
from travelsim.services.auth.sessions import COOKIE_NAME, SESSION_ABSOLUTE_TTL, user_for_token
from travelsim.settings import Settings, get_settings

#: Longest accepted form field, in characters.
FIELD_MAX = 1024

#: Path prefixes of the server-to-server receivers, the only routes where a cross-origin
#: unsafe method is not refused by :class:`CrossOriginGuard`: they never act on a session
#: cookie and authenticate each request otherwise. ``/callbacks/sft``: the platform's
#: CallBackNotification batches (``SFT_CALLBACK_TOKEN``); ``/notifications/unsubscribe``:
#: RFC 8058 one-click unsubscribe, posted by mail providers' servers (the signed token in
#: its URL); ``/stripe/webhook``: Stripe's webhook events (the ``Stripe-Signature`` header
#: checked against the webhook secret, docs/payments.md#webhooks;
#: docs/architecture.md#security-origins-csrf-and-event-arguments).
SERVER_TO_SERVER: tuple[str, ...] = (
    "/callbacks/sft",
    "/notifications/unsubscribe",
    "/stripe/webhook",
)


#: Methods that never change anything (RFC 9110 §9.2.1): not checked by the guard.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def server_to_server(path: str) -> bool:
    """``path`` is one of :data:`SERVER_TO_SERVER` or below one."""
    return any(path == p or path.startswith(p + "/") for p in SERVER_TO_SERVER)


def same_origin(request: Request, settings: Settings) -> bool:
    """False when the request carries an ``Origin`` (or, lacking one, a ``Referer``)
    that is neither the origin the request was addressed to nor one of
    :func:`travelsim.origins.allowed_origins` (``PUBLIC_URL``'s, plus the development
    frontend's in demo/test; ``"null"`` and unparsable values count as foreign), or a
    ``Sec-Fetch-Site: cross-site`` header. True when neither header is present
    (non-browser clients: a browser always sends ``Origin`` on a cross-origin POST)."""
    if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
        return False
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if claimed is None:
        return True
    origin = origin_of(claimed)
    if origin is None:
        return False
    return origin == origin_of(str(request.url)) or origin in allowed_origins(settings)


class CrossOriginGuard:
    """ASGI middleware of the routes app (and so of everything Reflex mounts below it):
    an HTTP request with an unsafe method (anything but :data:`SAFE_METHODS`) that fails
    :func:`same_origin` is answered :func:`forbidden` (403, the ``csrf`` message) before
    any route runs, except on the :data:`SERVER_TO_SERVER` paths. One place, so a new
    route cannot forget the check (the routes' own ``same_origin`` calls stay as a second
    line; docs/architecture.md#security-origins-csrf-and-event-arguments)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] not in SAFE_METHODS
            and not server_to_server(scope["path"])
            and not same_origin(Request(scope), get_settings())
        ):
            await forbidden()(scope, receive, send)
            return
        await self.app(scope, receive, send)


#: An incoming ``X-Request-ID`` is kept only when it looks like an id (a proxy's).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class RequestIdMiddleware:
    """ASGI middleware: each HTTP request gets an id, the proxy's ``X-Request-ID`` when it
    is a plain token of at most 64 characters, else a new random one; it is in the
    context of every log record the request causes (``travelsim.logs.REQUEST_ID``) and
    echoed in the answer's ``X-Request-ID`` (docs/monitoring.md#logs)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id", "")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        token = logs.REQUEST_ID.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            logs.REQUEST_ID.reset(token)


def forbidden() -> Response:
    """The 403 answer to a cross-site POST (plain text, the ``csrf`` message)."""
    return PlainTextResponse(message_for("csrf"), status_code=403)


def client_address(request: Request) -> str:
    """The client's IP address, the key of every per-address limit: the TCP peer, or with
    ``TRUSTED_PROXY_HOPS=N`` the N-th address from the right of ``X-Forwarded-For`` (what
    the N-th trusted proxy saw), the same rule Reflex applies to handlers'
    ``router.session.client_ip`` with its ``trusted_proxy_hops`` (docs/architecture.md#rate-limits).
    A client cannot choose its address by sending the header: entries it wrote are left of
    the ones the proxies append."""
    peer = request.client.host if request.client else "unknown"
    return forwarded_client(
        peer, request.headers.get("x-forwarded-for"), get_settings().trusted_proxy_hops
    )


def forwarded_client(peer: str, forwarded_for: str | None, hops: int) -> str:
    """``peer``, or with ``hops`` > 0 the ``hops``-th entry from the right of the
    comma-separated ``forwarded_for`` (``peer`` when the header has fewer entries)."""
    if hops <= 0 or not forwarded_for:
        return peer
    entries = [part.strip() for part in forwarded_for.split(",") if part.strip()]
    return entries[-hops] if len(entries) >= hops else peer


async def read_form(request: Request) -> dict[str, str]:
    """The text fields of the posted form (at most 20, no files), each cut to
    :data:`FIELD_MAX` characters."""
    form = await request.form(max_files=0, max_fields=20)
    return {k: v[:FIELD_MAX] for k, v in form.items() if isinstance(v, str)}


def redirect(path: str, **params: str) -> RedirectResponse:
    """``303 See Other`` to ``path`` with the non-empty ``params`` as its query."""
    query = urlencode({k: v for k, v in params.items() if v})
    return RedirectResponse(f"{path}?{query}" if query else path, status_code=303)


def cookie_token(request: Request) -> str | None:
    """The raw session token from the request's cookie, if any."""
    return request.cookies.get(COOKIE_NAME)


def set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    """Put the session ``token`` in the HttpOnly cookie (``SameSite=Lax``, ``Path=/``,
    ``Secure`` per ``settings.secure_cookies``, max-age the session's absolute lifetime)."""
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=int(SESSION_ABSOLUTE_TTL.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )


#: What a sign-out asks the browser to forget of this site (``Clear-Site-Data``, W3C Clear
#: Site Data): its HTTP cache and its storage, which includes service-worker registrations
#: and Cache Storage, so an install card kept for offline use goes with the session
#: (docs/esim.md#offline-install-card). Not ``"cookies"``: the session cookie is deleted by
#: name anyway, and the language and currency choices (cookies too) outlive a sign-out.
CLEAR_SITE_DATA = '"cache", "storage"'


def signed_out(response: Response, settings: Settings) -> Response:
    """``response`` to a sign-out: the session cookie deleted (:func:`delete_session_cookie`)
    and :data:`CLEAR_SITE_DATA` sent."""
    delete_session_cookie(response, settings)
    response.headers["Clear-Site-Data"] = CLEAR_SITE_DATA
    return response


def delete_session_cookie(response: Response, settings: Settings) -> None:
    """Drop the session cookie (same flags as when it was set)."""
    response.delete_cookie(
        COOKIE_NAME, path="/", httponly=True, samesite="lax", secure=settings.secure_cookies
    )


async def current_user(request: Request) -> User | None:
    """The signed-in user of ``request`` (from the session cookie), or ``None``: also for
    a session that still owes its second factor (``sessions.user_for_token``). Opens and
    commits its own database session (``last_seen_at`` bump)."""
    return await user_for_token(cookie_token(request))
