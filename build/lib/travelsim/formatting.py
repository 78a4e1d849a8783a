"""Human formatting of money, data volumes and durations (pure functions).

Money is handled as integer minor units plus an ISO 4217 code; the number of minor units
per major unit and the locale-aware rendering come from Babel (CLDR data). Data volumes
follow the platform's counting: 1 MB = 1,048,576 bytes, 1 GB = 1,073,741,824 bytes.
"""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision

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


def format_money(amount_minor: int, currency: str, locale: str = "en_US") -> str:
    """Locale-aware price: ``format_money(990, "EUR")`` → ``"€9.90"`` (en_US)."""
    return format_currency(minor_to_decimal(amount_minor, currency), currency, locale=locale)


def format_bytes(n: int | None) -> str:
    """Human data volume in the platform's binary units: ``1073741824`` → ``"1 GB"``,
    ``1610612736`` → ``"1.5 GB"``, ``524288000`` → ``"500 MB"``. ``None`` → ``"unknown"``."""
    if n is None:
        return "unknown"
    n = max(n, 0)
    if n >= GB:
        return f"{_trim(n / GB)} GB"
    if n >= MB:
        return f"{_trim(n / MB)} MB"
    if n >= 1024:
        return f"{_trim(n / 1024)} KB"
    return f"{n} B"


def _trim(value: float) -> str:
    text = f"{value:.2f}" if value < 10 else f"{value:.1f}"
    return text.rstrip("0").rstrip(".")


def format_days(days: int) -> str:
    """``1`` → ``"1 day"``, ``30`` → ``"30 days"``."""
    return f"{days} day" if days == 1 else f"{days} days"
