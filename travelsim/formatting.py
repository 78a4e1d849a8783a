"""Human formatting of money, data volumes and durations (pure functions).

Money is handled as integer minor units plus an ISO 4217 code; the number of minor units
per major unit and the locale-aware rendering come from Babel (CLDR data). Data volumes
follow the platform's counting: 1 MB = 1,048,576 bytes, 1 GB = 1,073,741,824 bytes. Every
text is in the active language (``travelsim.i18n``): English as the rules below show, other
languages with CLDR's decimal separator and short unit names (French ``1,5 Go``),
docs/i18n.md#formats.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from babel import Locale
from babel.numbers import format_currency, get_currency_precision
from babel.units import format_unit

from travelsim import i18n

MB = 1024 * 1024
GB = 1024 * MB


def minor_to_decimal(amount_minor: int, currency: str) -> Decimal:
    """``990, "EUR"`` → ``Decimal("9.90")``; ``500, "JPY"`` → ``Decimal("500")``."""
    digits = get_currency_precision(currency)
    return Decimal(amount_minor).scaleb(-digits)


def decimal_to_minor(amount: Decimal | str, currency: str) -> int:
    """``"9.90", "EUR"`` → ``990``. Raises ``ValueError`` for sub-minor-unit precision."""
    digits = get_currency_precision(currency)
    value = Decimal(amount).scaleb(digits)
    if value != value.to_integral_value():
        raise ValueError(f"{amount} has more than {digits} decimals for {currency}")
    return int(value)


def format_money(amount_minor: int, currency: str, locale: str | None = None) -> str:
    """Locale-aware price (CLDR ``locale``, default: the active language's,
    ``travelsim.i18n.format_locale``): ``format_money(990, "EUR")`` → ``"€9.90"`` in English,
    ``"9,90\u00a0€"`` in French (a no-break space before the sign)."""
    return format_currency(
        minor_to_decimal(amount_minor, currency), currency, locale=locale or i18n.format_locale()
    )


def format_bytes(n: int | None) -> str:
    """Human data volume in the platform's binary units, in the active language:
    ``1073741824`` → ``"1 GB"``, ``1610612736`` → ``"1.5 GB"`` (French ``"1,5\u202fGo"``),
    ``524288000`` → ``"500 MB"``. ``None`` → ``"unknown"`` (translated)."""
    if n is None:
        return i18n._("unknown")
    return _localized(_english_bytes(n))


def _english_bytes(n: int) -> str:
    n = max(n, 0)
    if n >= GB:
        return f"{_trim(n / GB)} GB"
    if n >= MB:
        return f"{_trim(n / MB)} MB"
    if n >= 1024:
        return f"{_trim(n / 1024)} KB"
    return f"{n} B"


_UNITS = ((GB, "GB"), (MB, "MB"), (1024, "KB"), (1, "B"))
#: CLDR's unit of each English unit name above (its short name per language comes from CLDR:
#: French "Go", "Mo", "ko", "o"). CLDR's digital units are decimal by definition, the
#: platform's binary: the names are what travelers read on their phones for the same figures.
_CLDR_UNITS = {
    "GB": "digital-gigabyte",
    "MB": "digital-megabyte",
    "KB": "digital-kilobyte",
    "B": "digital-byte",
}


def _localized(text: str) -> str:
    """An English volume text ("18.98 GB") in the active language, the digits unchanged."""
    locale = i18n.format_locale()
    if i18n.current() == i18n.DEFAULT:
        return text
    number, unit = text.split()
    return format_unit(
        Decimal(number), _CLDR_UNITS[unit], length="short", locale=locale, format="0.############"
    )


def _unit_of(n: int) -> tuple[int, str]:
    return next(((size, name) for size, name in _UNITS if n >= size), (1, "B"))


def _shown(text: str) -> Decimal:
    """The byte count a :func:`format_bytes`-style text stands for ("1.5 GB" → 1.5 * 2**30)."""
    number, unit = text.split()
    return Decimal(number) * dict((name, size) for size, name in _UNITS)[unit]


def _in_unit(n: int, size: int, name: str, decimals: int, rounding: str) -> str:
    quantum = Decimal(1).scaleb(-decimals)
    value = (Decimal(max(n, 0)) / size).quantize(quantum, rounding=rounding)
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} {name}"


def data_left(remaining: int, total: int) -> tuple[str, str]:
    """``(remaining_text, total_text)`` for "X of Y left", never contradicting each other.

    Both are :func:`format_bytes` texts (active language), except when that would show a
    remainder below the total as equal to it (or more): then both are shown in the total's
    unit with more decimals, the remainder rounded down and the total to nearest, until the
    shown remainder is below the shown total. ``(19 GB - 20 MB, 19 GB)`` →
    ``("18.98 GB", "19 GB")``, never "19 GB of 19 GB" unless nothing was used. Bytes in,
    negative remainders count as 0.
    Rule: docs/business-rules.md#figures-shown-to-travelers.
    """
    left, of = _english_left(remaining, total)
    return _localized(left), _localized(of)


def left_count(remaining: int, total: int) -> int:
    """``ngettext``'s ``n`` for a sentence about the remainder :func:`data_left` shows: a whole
    number in the same CLDR plural category, in the active language, as the shown figure
    (French ``1,5 Go`` is "one", like 1, so "1,5 Go restant"; English ``1.5 GB`` is "other").
    gettext's plural rules take whole numbers only, so a figure with decimals is mapped to a
    whole number of its category (https://cldr.unicode.org/index/cldr-spec/plural-rules)."""
    return plural_n(Decimal(_english_left(remaining, total)[0].split()[0]))


def plural_n(figure: Decimal) -> int:
    """The smallest of a few whole numbers (0, 1, 2, ..., 1,000,000) in ``figure``'s CLDR
    plural category in :func:`travelsim.i18n.format_locale`; ``figure`` itself when whole."""
    if figure == figure.to_integral_value():
        return int(figure)
    rule = Locale.parse(i18n.format_locale()).plural_form
    category = rule(figure)
    return next((n for n in _PLURAL_PROBES if rule(n) == category), int(figure))


_PLURAL_PROBES = (0, 1, 2, 3, 5, 11, 21, 100, 1_000_000)


def _english_left(remaining: int, total: int) -> tuple[str, str]:
    """:func:`data_left`'s two figures as English volume texts (``"18.98 GB"``)."""
    left, of = _english_bytes(remaining), _english_bytes(total)
    if remaining >= total or _shown(left) < _shown(of):
        return left, of
    size, name = _unit_of(max(total, 1))
    for decimals in range(2, 13):
        left = _in_unit(remaining, size, name, decimals, ROUND_FLOOR)
        of = _in_unit(total, size, name, decimals, ROUND_HALF_EVEN)
        if _shown(left) < _shown(of):
            break
    return left, of


def percent_left(remaining: int, total: int) -> float:
    """Share of ``total`` bytes left, in % rounded DOWN to one decimal, so that the shown
    percentage never contradicts the shown volumes: ``100.0`` only when nothing was used
    (``remaining >= total``), ``0.0`` only when nothing is left (``remaining <= 0``); any
    positive remainder shows at least ``0.1``. ``total <= 0`` (no data plan) → ``0.0``.
    Rule: docs/business-rules.md#figures-shown-to-travelers."""
    if total <= 0 or remaining <= 0:
        return 0.0
    if remaining >= total:
        return 100.0
    tenths = remaining * 1000 // total  # integer arithmetic: no float rounding up
    return max(1, tenths) / 10


def _trim(value: float) -> str:
    text = f"{value:.2f}" if value < 10 else f"{value:.1f}"
    return text.rstrip("0").rstrip(".")


def format_days(days: int) -> str:
    """``1`` → ``"1 day"``, ``30`` → ``"30 days"``, in the active language (its catalog's
    plural rule: French ``"1 jour"``, ``"30 jours"``)."""
    return i18n.ngettext("{n} day", "{n} days", days).format(n=days)
