"""HTTP routes of the background work: platform callbacks and the notification unsubscribe.

``POST /callbacks/sft`` (docs/sft-platform.md#callbacks; docs/esim.md#f17-callback-trouble)
    The platform's pushes: plan notifications (process 10011 "CallBackNotification") and
    data-stream deliveries (docs/sft-platform.md#data-stream-events). Authentication: the
    configured ``SFT_CALLBACK_TOKEN`` in ``X-Authorization`` or ``Authorization`` (with or
    without a ``Bearer`` prefix), compared in constant time. Answers:

    * ``404`` when ``SFT_CALLBACK_TOKEN`` is unset, or shorter than
      ``startup.MIN_CALLBACK_TOKEN_CHARS`` (32) characters: callbacks off, nothing revealed.
      Start-up refuses such a token (``travelsim.startup``); this check keeps an empty one
      from ever authenticating an empty header (``compare_digest(b"", b"")`` is true);
    * ``401`` for a missing or wrong token and ``413`` above 8 MiB (nothing stored);
    * ``200 {"received": n, "stored": m, "unrecognised": u}`` once the raw events are
      committed (duplicates are not stored again). An authenticated body the portal does not
      understand (not JSON, no event in it, an event of unknown type) is **not** refused: the
      platform never retries, so it is stored as ``unrecognised`` for staff
      (``services.callbacks.receive_raw``) and answered ``200`` too. The events are applied
      *after* the response has been sent (Starlette background task:
      ``callbacks.apply_pending``, which also wakes the pages and evaluates the notifications
      of the eSIMs that changed), so the platform's POST is answered in the time of one insert
      batch. Events left pending by a crash are applied by the scheduler's sweep.

``GET /notifications/unsubscribe?token=…`` (and ``POST``, for one-click clients)
    The link in every notification email (``services.notifications``): a valid token turns
    notification emails off for its user and answers a small HTML page (``200``); an invalid
    one answers ``400``. Idempotent.

Mount with :func:`callback_routes` (``travelsim.routes.app``).
"""

from __future__ import annotations

import hmac
import html
import logging

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from travelsim import db
from travelsim.services import auto_topup_fire, callbacks, figures_hooks, notifications
from travelsim.settings import get_settings
from travelsim.startup import callback_token_problem

__all__ = ["MAX_BODY_BYTES", "callback_routes", "sft_callbacks", "unsubscribe"]

log = logging.getLogger(__name__)

#: Applying callbacks fires automatic top-ups (docs/business-rules.md#automatic-top-up).
figures_hooks.register(auto_topup_fire.on_figures)

#: Largest accepted callback body (800 events of a few hundred bytes fit many times over).
MAX_BODY_BYTES = 8 * 1024 * 1024


def _presented_token(request: Request) -> str:
    for name in ("x-authorization", "authorization"):
        value = request.headers.get(name)
        if value:
            value = value.strip()
            if value[:7].lower() == "bearer ":
                value = value[7:].strip()
            return value
    return ""


async def _process_after_response() -> None:
    """Apply the pending events, wake pages, evaluate notifications (never raises)."""
    try:
        await callbacks.apply_pending()
    except Exception:  # the scheduler's sweep retries whatever is still pending
        log.exception("processing platform callbacks failed")


async def sft_callbacks(request: Request) -> Response:
    """``POST /callbacks/sft`` (module docstring)."""
    settings = get_settings()
    token = settings.sft_callback_token
    if token is None:
        return JSONResponse({"error": "not found"}, status_code=404)
    if callback_token_problem(token):  # start-up refuses it; never authenticate with it
        log.error("platform callback refused: SFT_CALLBACK_TOKEN is too short, receiver off")
        return JSONResponse({"error": "not found"}, status_code=404)
    presented = _presented_token(request)
    if not hmac.compare_digest(presented.encode(), token.get_secret_value().encode()):
        log.warning("platform callback refused: bad token")
        return JSONResponse({"error": "unauthorized"}, status_code=401)
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
        return JSONResponse({"error": "body too large"}, status_code=413)
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return JSONResponse({"error": "body too large"}, status_code=413)
    result = await callbacks.receive_raw(body)  # stores even what it cannot read
    return JSONResponse(
        {"received": result.received, "stored": result.stored, "unrecognised": result.unrecognised},
        background=BackgroundTask(_process_after_response),
    )


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 3rem auto;
padding: 0 1rem"><h1>{title}</h1><p>{text}</p><p><a href="{home}">Back to TravelSIM</a></p>
</body></html>"""


def _page(title: str, text: str, status: int) -> HTMLResponse:
    home = html.escape(get_settings().public_url, quote=True)
    return HTMLResponse(
        _PAGE.format(title=html.escape(title), text=html.escape(text), home=home),
        status_code=status,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


async def unsubscribe(request: Request) -> Response:
    """``GET``/``POST /notifications/unsubscribe?token=…`` (module docstring)."""
    token = request.query_params.get("token", "")
    user_id = notifications.verify_unsubscribe_token(token) if token else None
    if user_id is not None:
        async with db.session() as s:
            ok = await notifications.unsubscribe(s, user_id)
        if ok:
            return _page(
                "You are unsubscribed",
                "You will no longer get data alerts and reminders by email. They still "
                "appear in your account.",
                200,
            )
    return _page("This link is not valid", "Open your account to manage your emails.", 400)


def callback_routes() -> list[Route]:
    """``POST /callbacks/sft`` and ``GET|POST /notifications/unsubscribe``."""
    return [
        Route("/callbacks/sft", sft_callbacks, methods=["POST"]),
        Route("/notifications/unsubscribe", unsubscribe, methods=["GET", "POST"]),
    ]
