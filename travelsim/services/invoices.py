"""Invoice and credit-note numbers (docs/business-rules.md#invoice-numbers): invoices
``<year>-<6 digits>`` (``2026-000001``), credit notes ``CN-<year>-<6 digits>``, each one
gap-free sequence per calendar year (UTC) for the seller.

:func:`next_invoice_number` increments the series' ``invoice_counter`` row in the CALLER's
transaction, the one that writes the order (or its refund): the row stays locked (PostgreSQL
row lock; SQLite locks the whole database for a writing transaction) until that transaction
ends, so two concurrent orders never get the same number, and one rolled back gives its
number back with it, so none is skipped.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.models import InvoiceCounter, Order, utcnow

__all__ = [
    "CREDIT_NOTE",
    "INVOICE",
    "format_invoice_number",
    "issue_credit_note",
    "next_invoice_number",
]

INVOICE = "invoice"
CREDIT_NOTE = "credit_note"
_PREFIX = {INVOICE: "", CREDIT_NOTE: "CN-"}


def format_invoice_number(year: int, number: int, series: str = INVOICE) -> str:
    """``format_invoice_number(2026, 1)`` → ``"2026-000001"``; a credit note
    ``"CN-2026-000001"`` (at least 6 digits)."""
    return f"{_PREFIX[series]}{year}-{number:06d}"


async def next_invoice_number(session: AsyncSession, year: int, series: str = INVOICE) -> str:
    """The next number of ``series`` (:data:`INVOICE` or :data:`CREDIT_NOTE`) in ``year``,
    taken in the session's open transaction (the caller commits it with what it numbers, or
    rolls both back): ``UPDATE … SET last_number = last_number + 1 RETURNING``; on the
    year's first use, when no row answers, the counter row is created (``INSERT … ON
    CONFLICT DO NOTHING``, so two first numbers of a year do not collide) and the update
    runs again. Raises ``KeyError`` for another series."""
    if series not in _PREFIX:
        raise KeyError(series)
    number = await _increment(session, series, year)
    if number is None:  # the year's first number
        postgres = session.get_bind().dialect.name == "postgresql"
        insert = pg_insert if postgres else sqlite_insert
        await session.execute(
            insert(InvoiceCounter)
            .values(series=series, year=year, last_number=0)
            .on_conflict_do_nothing(index_elements=["series", "year"])
        )
        number = await _increment(session, series, year)
    assert number is not None  # the row exists now
    return format_invoice_number(year, number, series)


async def _increment(session: AsyncSession, series: str, year: int) -> int | None:
    """``last_number + 1`` of the series' row, in the session's transaction (the row stays
    locked until it ends); ``None`` when the row does not exist yet."""
    number = (
        await session.execute(
            update(InvoiceCounter)
            .where(col(InvoiceCounter.series) == series, col(InvoiceCounter.year) == year)
            .values(last_number=col(InvoiceCounter.last_number) + 1)
            .returning(col(InvoiceCounter.last_number))
        )
    ).scalar_one_or_none()
    return None if number is None else int(number)


async def issue_credit_note(session: AsyncSession, order_id: str) -> str | None:
    """Give the invoiced order ``order_id`` the credit note that cancels its invoice (its
    payment was refunded in full), in the caller's transaction (flushed, not committed).
    Returns the number; ``None`` for an order without an invoice. Already issued: the same
    number again (a repeated refund notice issues nothing new)."""
    order = await session.get(Order, order_id, populate_existing=True, with_for_update=True)
    if order is None or not order.invoice_number:
        return None
    if order.credit_note_number:
        return order.credit_note_number
    order.credit_note_number = await next_invoice_number(session, utcnow().year, CREDIT_NOTE)
    session.add(order)
    await session.flush()
    return order.credit_note_number
