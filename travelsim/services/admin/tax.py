"""The tax section: the VAT rate of each EU member state and editing one
(docs/business-rules.md#vat-rates).

Rules: only the 27 member states have rates (``tax.EU_MEMBERS``); a rate is a number of
percent with at most two decimals, 0 < rate < 30 (a standard rate outside that range is a
typing error: none has ever been); every edit, refused ones too, is one audit row with the
old and new rate. A new rate applies to orders created after it; orders keep the rate they
were created with."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db
from travelsim.models import VatRate, utcnow
from travelsim.services import countries, tax
from travelsim.services.admin.base import ActionResult, Refused, Staff, _act, _when
from travelsim.settings import get_settings

__all__ = ["list_rates", "update_rate"]


async def list_rates(session: AsyncSession) -> list[dict[str, str]]:
    """One row per member state, by code: ``country``, ``name``, ``rate`` (percent, "25.5"),
    ``shipped`` (the shipped file's rate), ``edited`` (UTC, "" for the seed), ``by`` (the
    staff email, "" for the seed) and ``home`` ("yes" for ``SELLER_COUNTRY``)."""
    shipped = tax.shipped_rates().rates
    stored = {r.country: r for r in (await session.exec(select(VatRate))).all()}
    home = get_settings().seller_country
    rows = []
    for code in sorted(tax.EU_MEMBERS):
        row = stored.get(code)
        rows.append(
            {
                "country": code,
                "name": countries.label(code),
                "rate": tax.format_rate(row.rate_bp if row else shipped[code]),
                "shipped": tax.format_rate(shipped[code]),
                "edited": _when(row.updated_at) if row and row.updated_by else "",
                "by": (row.updated_by or "") if row else "",
                "home": "yes" if code == home else "no",
            }
        )
    return rows


async def update_rate(staff: Staff, country: str, rate: str) -> ActionResult:
    """Set the standard VAT rate of member state ``country`` (ISO alpha-2) to ``rate``
    percent ("21", "25.5"); refused for a country that is not a member state or a rate that
    is not 0 < rate < 30 with at most two decimals. Audited as ``tax.rate``."""
    code = country.strip().upper()[:2]

    async def body() -> str:
        if code not in tax.EU_MEMBERS:
            raise Refused(f"{code or 'that'} is not an EU member state")
        try:
            new_bp = tax.parse_rate(rate)
        except ValueError as exc:
            raise Refused(str(exc)) from None
        if not 0 < new_bp < 3000:
            raise Refused("a standard VAT rate is above 0 and below 30 %")
        async with db.session() as s:
            row = await s.get(VatRate, code)
            old_bp = row.rate_bp if row else tax.shipped_rates().rates[code]
            row = row or VatRate(country=code, rate_bp=new_bp)
            row.rate_bp, row.updated_by, row.updated_at = new_bp, staff.email, utcnow()
            s.add(row)
            await s.commit()
        return f"VAT rate of {code}: {tax.format_rate(old_bp)} % → {tax.format_rate(new_bp)} %"

    return await _act(staff, "tax.rate", "vat_rate", code, body)
