"""The traveler's currency: the cookie that remembers the choice and the default rule.

Used by the currency route (``travelsim.routes.currency``, which sets the cookie) and by the
page states (``travelsim.state.currency``, which read it). Prices are seller-set per currency
and never converted (docs/i18n.md#currencies).
"""

from __future__ import annotations

from travelsim.settings import get_settings

#: The remembered choice (one of ``Settings.currencies``), for a year.
CURRENCY_COOKIE = "travelsim_currency"
CURRENCY_COOKIE_MAX_AGE = 365 * 24 * 3600

#: Regions whose travelers default to a currency other than EUR.
_REGION_CURRENCY = {"US": "USD", "GB": "GBP"}


def _ranked_tags(accept_language: str) -> list[str]:
    """The language tags of an ``Accept-Language`` value, most preferred first (``q``
    weights honoured, ties in header order; malformed weights count as 0)."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")):
        tag, _sep, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*":
            continue
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        if q > 0:
            ranked.append((-q, index, tag))
    return [tag for _q, _i, tag in sorted(ranked)]


def default_currency(accept_language: str | None, allowed: list[str] | None = None) -> str:
    """The currency of a traveler who never chose one (ISO 4217 code).

    The rule (docs/i18n.md#currencies): the browser's most preferred ``Accept-Language`` tag
    decides by its region: ``en-US`` (any ``-US``) → ``USD``, ``en-GB`` (any ``-GB``) →
    ``GBP``; everything else (``fr``, ``de``, ``es``, ``en`` without a region, no header) →
    ``EUR``. ``allowed`` (default ``Settings.currencies``) limits the answer: a rule currency
    not offered falls back to ``EUR`` if offered, else to the first allowed one.
    """
    offered = allowed if allowed is not None else get_settings().currencies
    wanted = "EUR"
    tags = _ranked_tags(accept_language or "")
    if tags:
        subtags = tags[0].replace("_", "-").split("-")
        region = next((s.upper() for s in subtags[1:] if len(s) == 2 and s.isalpha()), "")
        wanted = _REGION_CURRENCY.get(region, "EUR")
    if wanted in offered:
        return wanted
    return "EUR" if "EUR" in offered or not offered else offered[0]


def chosen_currency(cookie: str | None, accept_language: str | None) -> str:
    """The traveler's currency: the cookie's choice when it names an offered currency,
    else :func:`default_currency`."""
    code = (cookie or "").upper()
    if code in get_settings().currencies:
        return code
    return default_currency(accept_language)
