"""The owner's printable install card over HTTP (docs/esim.md#offline-install-card).

- ``GET /esims/{esim_id}/card``: the card as one self-contained HTML page (QR inline), made to
  print and to be kept offline by the install page's "Keep for offline use".
- ``GET /esims/{esim_id}/card.pdf``: the same card as an A4 PDF (``?download=1``: as a file).

``?lang=<fr|de|es|en>`` chooses the card's language (the install page links with its own);
without it, the language of the page the request came from, else the traveler's choice
(:func:`travelsim.routes.locale.request_locale`).

Both carry the installation secrets: only the signed-in owner gets them
(:func:`travelsim.routes.http.current_user` refuses a session that still owes its second
factor); anyone else, and any other site's page fetching or embedding them (``Sec-Fetch-Site:
cross-site`` outside a navigation), gets the same bodiless 404 as an unknown id. Every answer is
``Cache-Control: private, no-store``, the kept copy included: the browser's Cache Storage,
where the traveler's explicit "Keep for offline use" puts it, ignores HTTP caching headers,
so ``no-store`` costs the offline copy nothing and keeps the card out of the HTTP cache and
of every shared cache. The HTML page sends its own Content-Security-Policy
(:data:`travelsim.services.install_card_html.CSP`: no inline script, no frame).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from travelsim import db, i18n
from travelsim.models import utcnow
from travelsim.routes.esim import PRIVATE
from travelsim.routes.http import current_user
from travelsim.routes.locale import request_locale
from travelsim.services.install_card import InstallCard, install_card
from travelsim.services.install_card_html import CSP, card_html
from travelsim.services.install_card_pdf import card_pdf

__all__ = ["card_page", "card_pdf_file", "install_card_routes"]

#: Headers of the HTML card besides :data:`PRIVATE`.
PAGE_HEADERS = {"Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer"}


def card_locale(request: Request) -> str:
    """``?lang=`` when it names one of :data:`travelsim.i18n.LOCALES`, else
    :func:`travelsim.routes.locale.request_locale`."""
    wanted = request.query_params.get("lang", "")
    return wanted if wanted in i18n.LOCALES else request_locale(request)


def _embedded_by_another_site(request: Request) -> bool:
    """A request another site's page made for a resource (``Sec-Fetch-Site: cross-site``,
    any ``Sec-Fetch-Mode`` but ``navigate``): never the traveler opening the card."""
    return (
        request.headers.get("sec-fetch-site") == "cross-site"
        and request.headers.get("sec-fetch-mode", "navigate") != "navigate"
    )


async def _card(request: Request) -> InstallCard | None:
    if _embedded_by_another_site(request):
        return None
    raw = str(request.path_params.get("esim_id", ""))
    user = await current_user(request)
    if user is None or not raw.isdigit():
        return None
    async with db.session() as s:
        return await install_card(
            s, user=user, esim_id=int(raw), locale=card_locale(request), now=utcnow()
        )


def _not_found() -> Response:
    """The bodiless 404. Typed ``text/plain``: a navigation to an untyped answer sent with
    ``nosniff`` is a download in Chromium (an empty file, not a blank page)."""
    return Response(status_code=404, headers=PRIVATE, media_type="text/plain")


async def card_page(request: Request) -> Response:
    """``GET /esims/{esim_id}/card``: the HTML card (module docstring)."""
    card = await _card(request)
    if card is None:
        return _not_found()
    return Response(
        card_html(card), media_type="text/html; charset=utf-8", headers=PRIVATE | PAGE_HEADERS
    )


async def card_pdf_file(request: Request) -> Response:
    """``GET /esims/{esim_id}/card.pdf``: the PDF card (module docstring)."""
    card = await _card(request)
    if card is None:
        return _not_found()
    disposition = "attachment" if request.query_params.get("download") else "inline"
    name = f"travelsim-esim-{card.esim_id}-card.pdf"
    headers = PRIVATE | {"Content-Disposition": f'{disposition}; filename="{name}"'}
    pdf = await run_in_threadpool(card_pdf, card, utcnow())  # font subsetting: CPU
    return Response(pdf, media_type="application/pdf", headers=headers)


def install_card_routes() -> list[Route]:
    """The two routes above, to mount in :func:`travelsim.routes.app.build_routes_app`."""
    return [
        Route("/esims/{esim_id}/card", card_page, methods=["GET"]),
        Route("/esims/{esim_id}/card.pdf", card_pdf_file, methods=["GET"]),
    ]
