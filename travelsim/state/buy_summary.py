"""What the checkout page shows of its plan: the summary, priced in the traveler's currency,
and the destinations to choose from (``state/buy.py``).

An open checkout keeps the amount and currency it was opened with
(docs/i18n.md#currencies): a traveler who switches currency meanwhile sees and pays the
checkout's amount, with a note naming both currencies; choosing the plan again opens a
checkout in the new currency (``checkout.start_checkout`` cancels the unpaid one).
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.formatting import format_money
from travelsim.i18n import _
from travelsim.models import Plan
from travelsim.services import catalogue, countries, plan_texts


async def plan_summary(session: AsyncSession, plan: Plan, currency: str | None) -> dict[str, str]:
    """The offer of a sellable ``plan`` (``catalogue.to_offer``) in ``currency`` with its
    seller prices and its texts in the active language read now, as texts (every field but
    ``destinations``)."""
    prices = await catalogue.plan_prices(session, [plan.plan_id])
    texts = await plan_texts.texts_for(session, [plan.plan_id])
    offer = catalogue.to_offer(plan, currency, prices.get(plan.plan_id), texts=texts)
    return {k: str(v) for k, v in offer.as_dict().items() if k != "destinations"}


def destination_choices(plan: Plan) -> list[dict[str, str]]:
    """The plan's destinations by name in the active language: ``code``, ``label``
    ("🇫🇷 France")."""
    found = sorted((countries.country(code) for code in plan.destinations), key=lambda c: c.name)
    return [{"code": c.code, "label": f"{c.flag} {c.name}"} for c in found]


def charged_summary(
    summary: dict[str, str], amount_minor: int, currency: str, chosen: str
) -> dict[str, str]:
    """``summary`` showing what an open checkout charges (``amount_minor`` in ``currency``).
    When ``currency`` is neither the traveler's ``chosen`` one nor the one the plan is shown
    in for it, the note says the checkout stays in the currency it was opened in."""
    out = dict(summary, price_minor=str(amount_minor), currency=currency)
    out["price"] = format_money(amount_minor, currency)
    if currency not in (chosen, summary.get("currency")):
        out["price_note"] = _(
            "This checkout was opened in {opened} and is charged in {opened}. To pay in "
            "{chosen}, choose the plan again."
        ).format(opened=currency, chosen=chosen)
    return out
