"""Invoice numbers: ``<year>-<6 digits>`` (``2026-000001``), one gap-free sequence per
calendar year (UTC) for the seller (docs/business-rules.md#invoice-numbers).

:func:`next_invoice_number` increments the year's ``invoice_counter`` row in the CALLER's
transaction, the one that writes the order: the row stays locked (PostgreSQL row lock; SQLite
locks the whole database for a writing transaction) until that transaction ends, so two
concurrent orders never get the same number, and an order rolled back gives its number back
with it, so none is skipped.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.models import InvoiceCounter

__all__ = ["format_invoice_number", "next_invoice_number"]


def format_invoice_number(year: int, number: int) -> str:
    """``format_invoice_number(2026, 1)`` → ``"2026-000001"`` (at least 6 digits)."""
    return f"{year}-{number:06d}"


async def next_invoice_number(session: AsyncSession, year: int) -> str:
    """The next invoice number of ``year``, taken in the session's open transaction (the
    caller commits it with the order, or rolls both back). Creates the year's counter row on
    first use (``INSERT … ON CONFLICT DO NOTHING``, so two first orders of a year do not
    collide), then ``UPDATE … SET last_number = last_number + 1 RETURNING``."""
    postgres = session.get_bind().dialect.name == "postgresql"
    insert = pg_insert if postgres else sqlite_insert
    await session.execute(
        insert(InvoiceCounter)
        .values(year=year, last_number=0)
        .on_conflict_do_nothing(index_elements=["year"])
    )
    number = (
        await session.execute(
            update(InvoiceCounter)
            .where(col(InvoiceCounter.year) == year)
            .values(last_number=col(InvoiceCounter.last_number) + 1)
            .returning(col(InvoiceCounter.last_number))
        )
    ).scalar_one()
    return format_invoice_number(year, int(number))
