"""The traveler's currency over HTTP: the currency menu's links and the default.

* ``GET /currency/{code}`` (:func:`switch_currency`) is what the header's currency menu opens:
  it remembers the choice (the :data:`CURRENCY_COOKIE` cookie, and the signed-in traveler's
  account, ``User.currency``) and returns to the page the traveler was on (``?next=``, else
  the ``Referer``), like ``/lang/{locale}``.
* :func:`default_currency` is the currency of a traveler who never chose one, from the
  browser's ``Accept-Language`` (``travelsim.services.currencies``, with the cookie's name).
* :func:`remember_account_currency`: at sign-in, the account's choice becomes the browser's.

Prices are seller-set per currency and never converted (docs/i18n.md#currencies).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from travelsim.models import User
from travelsim.routes.locale import _return_path, remember_on_account
from travelsim.services.currencies import (
    CURRENCY_COOKIE,
    CURRENCY_COOKIE_MAX_AGE,
    chosen_currency,
    default_currency,
)
from travelsim.settings import get_settings

__all__ = [
    "CURRENCY_COOKIE",
    "chosen_currency",
    "currency_routes",
    "default_currency",
    "remember_account_currency",
    "set_currency_cookie",
    "switch_currency",
]


async def switch_currency(request: Request) -> Response:
    """``GET /currency/{code}``: remember ``code`` (cookie; the account when signed in) and go
    back to the page the traveler was on (303). A currency not in ``Settings.currencies``:
    404. Only :data:`CURRENCY_COOKIE` and ``User.currency`` change."""
    code = request.path_params["code"].upper()
    if code not in get_settings().currencies:
        return Response("Unknown currency.", status_code=404, media_type="text/plain")
    back = _return_path(request)
    await remember_on_account(request, "currency", code)
    response = RedirectResponse(back, status_code=303)
    set_currency_cookie(response, code)
    response.headers["Cache-Control"] = "no-store"
    return response


def set_currency_cookie(response: Response, code: str) -> None:
    """Remember ``code`` in the browser (:data:`CURRENCY_COOKIE`, a year, ``SameSite=Lax``).
    Not ``HttpOnly``: page states read it (``rx.Cookie``) to show prices in it."""
    response.set_cookie(
        CURRENCY_COOKIE,
        code,
        max_age=CURRENCY_COOKIE_MAX_AGE,
        path="/",
        samesite="lax",
        secure=get_settings().secure_cookies,
    )


def remember_account_currency(response: Response, user: User) -> None:
    """At sign-in: the currency stored in ``user``'s account, if offered, becomes this
    browser's choice too (:data:`CURRENCY_COOKIE`), so the pages that follow price in it."""
    if user.currency in get_settings().currencies:
        set_currency_cookie(response, str(user.currency))


def currency_routes() -> list[Route]:
    """``GET /currency/{code}`` (the currency menu)."""
    return [Route("/currency/{code}", switch_currency, methods=["GET"])]
