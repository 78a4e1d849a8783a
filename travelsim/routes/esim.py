"""The owner's installation data over HTTP, never through Reflex state
(docs/esim.md#qr-code, docs/esim.md#security-installation-data-never-in-page-state).

- ``GET /esims/{esim_id}/qr.png``: the installation QR image (``?download=1``: as a file).
- ``GET /esims/{esim_id}/install.json``: what the install page's browser-side component
  (:mod:`travelsim.components.install_details`) shows: ``{"activation_code": "LPA:1$…",
  "smdp_address": "…", "matching_id": "…", "ios_link": "https://…", "android_link":
  "https://…"}``.

Both are secrets: served only to the signed-in owner (:func:`travelsim.routes.http.current_user`,
which refuses a session that still owes its second factor), ``Cache-Control: private,
no-store``; anyone else gets the same bodiless 404 as for an unknown id. The JSON route answers
401 (no body) without a session and 403 to a request another site made
(``Sec-Fetch-Site`` other than ``same-origin``/``none``, or a foreign ``Origin``/``Referer``:
:func:`travelsim.routes.http.same_origin`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from travelsim import db
from travelsim.routes.http import current_user, same_origin
from travelsim.services import installation
from travelsim.settings import get_settings

#: Headers of every answer carrying (or refusing) installation data.
PRIVATE = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}


async def qr_png(request: Request) -> Response:
    raw = request.path_params.get("esim_id", "")
    user = await current_user(request)
    if user is None or not str(raw).isdigit():
        return Response("Not found", status_code=404)
    async with db.session() as s:
        png = await installation.qr_png_for(s, user=user, esim_id=int(raw))
    if png is None:
        return Response("Not found", status_code=404)
    headers = dict(PRIVATE)
    if request.query_params.get("download"):
        headers["Content-Disposition"] = f'attachment; filename="travelsim-esim-{raw}.png"'
    return Response(png, media_type="image/png", headers=headers)


def _from_this_site(request: Request) -> bool:
    """True for the portal's own pages (``Sec-Fetch-Site: same-origin``), an address typed
    by the traveler (``none``) and clients that send neither fetch metadata nor a foreign
    ``Origin``/``Referer``."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    return same_origin(request, get_settings())


async def install_json(request: Request) -> Response:
    """``GET /esims/{esim_id}/install.json``: the owner's activation data (module docstring)."""
    if not _from_this_site(request):
        return Response(status_code=403, headers=PRIVATE)
    raw = str(request.path_params.get("esim_id", ""))
    user = await current_user(request)
    if user is None:
        return Response(status_code=401, headers=PRIVATE)
    view = None
    if raw.isdigit():
        async with db.session() as s:
            view = await installation.install_view(s, user=user, esim_id=int(raw))
    if view is None or view.lpa is None:
        return Response(status_code=404, headers=PRIVATE)
    return JSONResponse(
        {
            "activation_code": view.lpa,
            "smdp_address": view.smdp_address,
            "matching_id": view.matching_id,
            "ios_link": view.ios_link,
            "android_link": view.android_link,
        },
        headers=PRIVATE,
    )
