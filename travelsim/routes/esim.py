"""``GET /esims/{esim_id}/qr.png``: the owner's installation QR (docs/esim.md#qr-code).

The QR is a secret: served only to the signed-in owner, ``Cache-Control: private,
no-store``; anyone else gets the same 404 as for an unknown id.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from travelsim import db
from travelsim.routes.http import current_user
from travelsim.services import installation


async def qr_png(request: Request) -> Response:
    raw = request.path_params.get("esim_id", "")
    user = await current_user(request)
    if user is None or not str(raw).isdigit():
        return Response("Not found", status_code=404)
    async with db.session() as s:
        png = await installation.qr_png_for(s, user=user, esim_id=int(raw))
    if png is None:
        return Response("Not found", status_code=404)
    headers = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
    if request.query_params.get("download"):
        headers["Content-Disposition"] = f'attachment; filename="travelsim-esim-{raw}.png"'
    return Response(png, media_type="image/png", headers=headers)
