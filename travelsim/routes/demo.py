"""``GET /demo/mailbox``: the outbox as a mailbox, for the local demo only.

With no SMTP server configured, emails stay in the outbox table. So that a person trying
the demo can click their verification link, this page lists the outbox, and only when
``APP_ENV=demo`` (it answers 404 in ``test`` and ``production``). It never shows
attachments' content beyond inline images, and it is not linked from the portal. It answers
only a ``Host`` that is a loopback name or ``PUBLIC_URL``'s host (the LAN address of
``DEMO_ALLOW_LAN``): a page on another name that rebinds its DNS to 127.0.0.1 gets 404
(DNS rebinding, docs/architecture.md#security-modes-and-start-up-checks).
"""

from __future__ import annotations

import html
from urllib.parse import urlsplit

from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from travelsim import db
from travelsim.models import OutboxEmail
from travelsim.routes.simulator import is_loopback_host
from travelsim.services import email
from travelsim.settings import get_settings


def _known_host(request: Request) -> bool:
    """The request's ``Host`` is a loopback name or the public URL's host (any port)."""
    host = request.headers.get("host", "")
    if is_loopback_host(host):
        return True
    public = urlsplit(get_settings().public_url)
    try:
        return urlsplit(f"//{host}").hostname == public.hostname
    except ValueError:
        return False


async def mailbox(request: Request) -> Response:
    if get_settings().app_env != "demo" or not _known_host(request):
        return Response("Not found", status_code=404)
    async with db.session() as s:
        rows = (
            await s.exec(select(OutboxEmail).order_by(col(OutboxEmail.id).desc()).limit(50))
        ).all()
        attachments: dict[int | None, list[dict[str, str]]] = {}
        for row in rows:
            try:  # deferred attachments (the eSIM QR) are rendered as when sending
                attachments[row.id] = await email.resolve_attachments(s, row)
            except LookupError:
                attachments[row.id] = []
    items = []
    for row in rows:
        body = row.body_html or f"<pre>{html.escape(row.body_text)}</pre>"
        for att in attachments[row.id]:
            cid = att.get("content_id", "")
            data = att.get("data_b64", "")
            ctype = att.get("content_type", "image/png")
            body = body.replace(f"cid:{cid}", f"data:{html.escape(ctype)};base64,{data}")
        items.append(
            "<article style='border:1px solid #ccc;border-radius:8px;padding:12px;margin:12px 0'>"
            f"<p><b>To:</b> {html.escape(row.to_address)} · <b>Subject:</b> "
            f"{html.escape(row.subject)} · <i>{html.escape(row.status)}</i></p>"
            f"<div>{body}</div></article>"
        )
    page = (
        "<!doctype html><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>Demo mailbox · TravelSIM</title>"
        "<body style='font-family:sans-serif;max-width:50em;margin:auto;padding:1em'>"
        "<h1>Demo mailbox</h1>"
        "<p style='border-left:4px solid #c80;padding:8px 12px;background:#fff6e0;color:#333'>"
        "<b>This page shows every traveler's email</b> (verification links, installation "
        "emails with their QR codes, receipts), not only yours: the last 50 emails the portal "
        "queued, because no SMTP server is configured. It exists only in the local demo "
        "(<code>APP_ENV=demo</code>) and does not exist in production or test mode.</p>"
        + ("".join(items) or "<p>No email yet.</p>")
        + "</body>"
    )
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})
