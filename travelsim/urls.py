"""The portal's own URLs, in one place: the paths pages, states and routes link to, and the
absolute links emails carry.

Paths are what :mod:`travelsim.travelsim` registers (``/orders/[order_ref]``, …) and what
:mod:`travelsim.routes` serves. Absolute links are built on the portal's public origin
(``settings.public_url``), never on the request's ``Host`` header, so a forged host cannot
put an attacker's origin into an email.
"""

from __future__ import annotations

from urllib.parse import urlencode

from travelsim.settings import get_settings


def absolute(path: str, base_url: str | None = None) -> str:
    """``path`` (starting with ``/``) on ``base_url`` (default ``settings.public_url``)."""
    base = base_url if base_url is not None else get_settings().public_url
    return base.rstrip("/") + path


def order(order_id: str) -> str:
    """The order page: ``/orders/{order_id}``."""
    return f"/orders/{order_id}"


def receipt(order_id: str) -> str:
    """The order's receipt: ``/orders/{order_id}/receipt``."""
    return f"{order(order_id)}/receipt"


def esim(esim_id: int | str) -> str:
    """The eSIM page: ``/esims/{esim_id}``."""
    return f"/esims/{esim_id}"


def install(esim_id: int | str) -> str:
    """The authenticated install page of an eSIM: ``/esims/{esim_id}/install``."""
    return f"{esim(esim_id)}/install"


def topup(esim_id: int | str) -> str:
    """The "buy more data" page of an eSIM: ``/esims/{esim_id}/topup``."""
    return f"{esim(esim_id)}/topup"


def buy(plan_id: str, *, to: str | None = None, checkout: str | None = None) -> str:
    """The checkout page of a plan: ``/buy/{plan_id}``, with ``?to=`` (destination country
    code) and ``&checkout=`` (an open checkout's id) when given, in that order."""
    query = {k: v for k, v in (("to", to), ("checkout", checkout)) if v}
    return f"/buy/{plan_id}" + (f"?{urlencode(query)}" if query else "")


def unsubscribe(token: str) -> str:
    """One-click unsubscribe from notices: ``/notifications/unsubscribe?token=…``."""
    return "/notifications/unsubscribe?" + urlencode({"token": token})


def verify_email(token: str) -> str:
    """The email-verification link's path: ``/auth/verify?token=…``."""
    return "/auth/verify?" + urlencode({"token": token})


def reset_password(token: str) -> str:
    """The password-reset link's path: ``/password/reset?token=…``."""
    return "/password/reset?" + urlencode({"token": token})


#: The gift claim page (docs/business-rules.md#gifts).
GIFT_CLAIM = "/gifts/claim"


def gift_claim(token: str) -> str:
    """A gift's claim link path: ``/gifts/claim?token=…``."""
    return GIFT_CLAIM + "?" + urlencode({"token": token})


SIGN_IN = "/signin"
ACCOUNT = "/account"
OIDC_CALLBACK = "/auth/oidc/callback"


#: Every traveler page's route (Reflex's ``[param]`` syntax), each also served under every
#: other language's prefix (``/fr/account``; docs/i18n.md#routes). Staff pages (``/admin``…)
#: are English only and not listed.
TRAVELER_PAGES: tuple[str, ...] = (
    "/",
    SIGN_IN,
    "/signup",
    "/buy/[buy_plan_id]",
    "/orders/[order_ref]",
    "/orders/[order_ref]/receipt",
    ACCOUNT,
    "/esims/[esim_ref]",
    "/esims/[esim_ref]/install",
    "/esims/[esim_ref]/topup",
    "/security",
    "/security/totp",
    "/password/forgot",
    "/password/reset",
    "/account/delete",
    "/status",
    GIFT_CLAIM,
    # The seller's legal pages (docs/legal.md#content-pages).
    "/terms",
    "/privacy",
    "/imprint",
    "/cookies",
)
