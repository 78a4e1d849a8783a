"""The traveler's language over HTTP: the first visit's choice, the switcher, ``<html lang>``.

* :class:`LocaleMiddleware` sends a browser opening an English page (a plain path such as
  ``/`` or ``/account``) to the same page in the language it chose before (the
  :data:`LANG_COOKIE` cookie) or, on a first visit, the one its ``Accept-Language``
  prefers (``/fr/account``); a page under a language prefix is never redirected (a shared
  ``/de/…`` link opens in German). It also makes a prefixed page's document say its
  language (``<html lang="fr">``): Reflex writes one ``lang`` into every page it builds.
* ``GET /lang/{locale}`` (:func:`switch_language`) is what the switcher's links open: it
  remembers the choice (the cookie, and the signed-in traveler's account) and returns to the
  page the traveler was on (``?next=``, else the ``Referer``), in that language.

docs/i18n.md#choosing-the-language
"""

from __future__ import annotations

import asyncio
import gzip
import re
from collections.abc import Awaitable, Callable
from functools import wraps
from pathlib import Path
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from travelsim import db, i18n, urls
from travelsim.models import User
from travelsim.routes.http import current_user
from travelsim.services.auth.signin import safe_next
from travelsim.settings import get_settings

#: The remembered choice (a language of :data:`travelsim.i18n.LOCALES`), for a year.
LANG_COOKIE = "travelsim_lang"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600

_PARAM = re.compile(r"\[[^/\]]+\]")


def _pattern(route: str) -> re.Pattern[str]:
    parts = [re.escape(p) for p in _PARAM.split(route)]
    return re.compile("[^/]+".join(parts) + "/?")


_TRAVELER_PAGES = [_pattern(r) for r in urls.TRAVELER_PAGES]


def is_traveler_page(path: str) -> bool:
    """Whether the plain ``path`` (no prefix, no query) is one of
    :data:`travelsim.urls.TRAVELER_PAGES` (``/esims/3`` matches ``/esims/[esim_ref]``)."""
    return any(p.fullmatch(path) for p in _TRAVELER_PAGES)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _cookie(scope: Scope, name: str) -> str:
    for part in _header(scope, b"cookie").split(";"):
        key, _eq, value = part.strip().partition("=")
        if key == name:
            return value
    return ""


def _is_navigation(scope: Scope) -> bool:
    return (
        scope["type"] == "http"
        and scope["method"] in ("GET", "HEAD")
        and (
            "text/html" in _header(scope, b"accept")
            or _header(scope, b"sec-fetch-dest") == "document"
        )
    )


class LocaleMiddleware:
    """ASGI middleware: the first-visit redirect and ``<html lang>`` (module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _is_navigation(scope):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        locale, rest = i18n.split_path(path)
        if not is_traveler_page(rest):
            await self.app(scope, receive, send)
            return
        if locale == i18n.DEFAULT:
            wanted = _cookie(scope, LANG_COOKIE)
            if wanted not in i18n.LOCALES:
                wanted = i18n.negotiate(_header(scope, b"accept-language"))
            if wanted != i18n.DEFAULT:
                query = scope.get("query_string", b"").decode("latin-1")
                target = i18n.localized(path, wanted) + (f"?{query}" if query else "")
                response = RedirectResponse(target, status_code=307)
                response.headers["Vary"] = "Accept-Language, Cookie"
                response.headers["Cache-Control"] = "no-store"
                await response(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        await self._with_lang(locale, scope, receive, send)

    async def _with_lang(self, locale: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the page with its document's ``lang`` set to ``locale``: the HTML body (small)
        is held, its ``<html lang="en"`` replaced, and sent as one chunk, gzip kept."""
        accepts_gzip = "gzip" in _header(scope, b"accept-encoding")
        headers = [(k, v) for k, v in scope["headers"] if k != b"accept-encoding"]
        if accepts_gzip:
            headers.append((b"accept-encoding", b"gzip"))
        scope = dict(scope, headers=headers)
        start: Message | None = None
        body = bytearray()

        async def held_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                content_type = dict(message.get("headers", [])).get(b"content-type", b"")
                if b"text/html" in content_type:
                    start = message
                    return
                await send(message)
                return
            if start is not None and message["type"] == "http.response.pathsend":
                # A file sent by path (the ASGI pathsend extension, which granian serves):
                # read it here instead, to change it.
                body.extend(await asyncio.to_thread(Path(message["path"]).read_bytes))
                message = {"type": "http.response.body", "body": b""}
            if start is not None and message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
                if message.get("more_body", False):
                    return
                page = _set_lang(start, bytes(body), locale)  # may change its length
                await send(start)
                await send({"type": "http.response.body", "body": page})
                return
            await send(message)

        await self.app(scope, receive, held_send)


def _set_lang(start: Message, body: bytes, locale: str) -> bytes:
    """``body`` with its first ``<html lang="…"`` naming ``locale`` (gzip-encoded bodies are
    re-encoded; the length is unchanged: every language code has two letters)."""
    encoding = dict(start.get("headers", [])).get(b"content-encoding", b"")
    old, new = b'<html lang="en"', f'<html lang="{locale}"'.encode()
    if encoding == b"gzip":
        plain = gzip.decompress(body).replace(old, new, 1)
        packed = gzip.compress(plain, compresslevel=9, mtime=0)
        start["headers"] = [
            (k, str(len(packed)).encode() if k == b"content-length" else v)
            for k, v in start["headers"]
        ]
        return packed
    if encoding:
        return body  # an encoding this middleware does not read: left as built
    return body.replace(old, new, 1)


def _return_path(request: Request) -> str:
    """Where the switcher returns: ``?next=`` (a safe relative path), else the path of a
    same-origin ``Referer``, else the home page."""
    wanted = safe_next(request.query_params.get("next"))
    if "next" in request.query_params:
        return wanted
    referer = request.headers.get("referer", "")
    parts = urlsplit(referer)
    public = urlsplit(get_settings().public_url)
    if parts.netloc and parts.netloc in (public.netloc, request.url.netloc):
        return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))
    return "/"


def request_locale(request: Request) -> str:
    """The language of the page a request came from, for what a route writes (an email to
    an address without a language, a new account's language; docs/i18n.md#emails): the
    prefix of a same-origin ``Referer``'s path (a plain path is English), else the
    :data:`LANG_COOKIE` choice, else the language ``Accept-Language`` prefers, as
    :class:`LocaleMiddleware` chooses a page's."""
    parts = urlsplit(request.headers.get("referer", ""))
    public = urlsplit(get_settings().public_url)
    if parts.netloc and parts.netloc in (public.netloc, request.url.netloc):
        return i18n.split_path(parts.path or "/")[0]
    chosen = request.cookies.get(LANG_COOKIE, "")
    if chosen in i18n.LOCALES:
        return chosen
    return i18n.negotiate(request.headers.get("accept-language"))


def in_request_language(
    endpoint: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """``endpoint`` run with :func:`request_locale` active (``i18n.using``), so what it
    writes for the traveler (an email, a new account's language) is in the language of the
    page they were on."""

    @wraps(endpoint)
    async def in_language(request: Request) -> Response:
        with i18n.using(request_locale(request)):
            return await endpoint(request)

    return in_language


async def switch_language(request: Request) -> Response:
    """``GET /lang/{locale}``: remember ``locale`` (cookie; the account when signed in) and
    go back to the page the traveler was on, in that language (303). An unknown language:
    404. Only :data:`LANG_COOKIE` and ``User.locale`` change."""
    locale = request.path_params["locale"]
    if locale not in i18n.LOCALES:
        return Response("Unknown language.", status_code=404, media_type="text/plain")
    back = _return_path(request)
    _, rest = i18n.split_path(back)
    target = i18n.localized(back, locale) if is_traveler_page(rest.split("?")[0]) else back
    await remember_on_account(request, "locale", locale)
    response = RedirectResponse(target, status_code=303)
    set_lang_cookie(response, locale)
    response.headers["Cache-Control"] = "no-store"
    return response


async def remember_on_account(request: Request, field: str, value: str) -> None:
    """Store a traveler's choice (``field`` of ``User``: ``locale`` or ``currency``) in the
    signed-in account of ``request``; nothing when signed out or already stored. Commits."""
    user = await current_user(request)
    if user is None or user.id is None or getattr(user, field) == value:
        return
    async with db.session() as s:
        row = await s.get(User, user.id)
        if row is not None:
            setattr(row, field, value)
            s.add(row)
            await s.commit()


def set_lang_cookie(response: Response, locale: str) -> None:
    """Remember ``locale`` in the browser (:data:`LANG_COOKIE`, a year, ``SameSite=Lax``)."""
    response.set_cookie(
        LANG_COOKIE,
        locale,
        max_age=LANG_COOKIE_MAX_AGE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=get_settings().secure_cookies,
    )


def remember_account_language(response: Response, user: User) -> None:
    """At sign-in: the language stored in ``user``'s account, if any, becomes this browser's
    choice too (:data:`LANG_COOKIE`), so the pages that follow open in it."""
    if user.locale in i18n.LOCALES:
        set_lang_cookie(response, user.locale)


def locale_routes() -> list[Route]:
    """``GET /lang/{locale}`` (the switcher)."""
    return [Route("/lang/{locale}", switch_language, methods=["GET"])]
