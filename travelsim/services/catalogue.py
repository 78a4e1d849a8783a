"""The add-on catalogue: SFT plans synced into the portal database, plus seller fields.

Platform fields come from ``QueryRatePlan`` (docs/sft-platform.md#queryrateplan) and are overwritten
by each sync; seller-owned fields (price, currency, display name, destinations, region, activation
policy text, on-sale flag) live beside them and are never touched by the sync. Until the admin page
exists they come from the seed file (``CATALOGUE_SEED_FILE``), which only fills plans whose seller
fields no staff member has edited (``Plan.updated_at`` is unset). A plan without a price is never on
sale (also a database check constraint).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db
from travelsim.formatting import decimal_to_minor, format_bytes, format_days, format_money
from travelsim.i18n import _, ngettext
from travelsim.models import Plan, PlanPrice, utcnow
from travelsim.services import countries, network_facts, plan_texts
from travelsim.settings import Settings
from travelsim.sft.client import SFTClient
from travelsim.sft.models import ActivatedBy, SkippedPlan
from travelsim.sft.ratelimit import Priority

log = logging.getLogger(__name__)


@dataclass
class SyncReport:
    """What one catalogue sync did: plan ids ``created``/``updated``, ``missing`` (on sale here,
    gone from the platform) and ``skipped`` (QueryRatePlan rows the portal cannot sell, each
    with its reason: docs/sft-platform.md#queryrateplan)."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    skipped: list[SkippedPlan] = field(default_factory=list)

    def skipped_summary(self) -> list[dict[str, str | None]]:
        """``[{"plan_id", "reason"}]`` of the skipped rows (JSON-ready, for job run details)."""
        return [{"plan_id": s.plan_id, "reason": s.reason} for s in self.skipped]


async def sync_plans(client: SFTClient, session: AsyncSession) -> SyncReport:
    """Upsert every add-on plan from SFT into ``plan`` and commit.

    Plans no longer returned by the platform are kept (orders reference them) but marked
    ``present_on_platform=False``, which takes them off sale. Rows the portal cannot sell (not
    an add-on, no data volume, validity not in days, unreadable) are skipped with their reason
    (``report.skipped``, logged); a stored plan skipped this way is treated as missing (off
    sale) until the platform answers it usably again. Raises the client's ``SFTError``
    subclasses; nothing is written when the platform call fails.
    """
    remote = await client.rate_plan_catalogue(priority=Priority.SYNC)
    report = SyncReport(skipped=list(remote.skipped))
    now = utcnow()
    existing = {p.plan_id: p for p in (await session.exec(select(Plan))).all()}
    seen: set[str] = set()
    for rp in remote.plans:
        if rp.volume_bytes is None or rp.validity_days is None:  # never, after the client
            report.skipped.append(SkippedPlan(plan_id=rp.plan_id, reason="no volume or days"))
            continue
        seen.add(rp.plan_id)
        plan = existing.get(rp.plan_id)
        values: dict[str, Any] = {
            "sft_name": rp.name or rp.plan_id,
            "sft_status": rp.status or "Active",
            "volume_bytes": rp.volume_bytes,
            "validity_days": rp.validity_days,
            "activated_by": "immediate" if rp.activated_by == ActivatedBy.IMMEDIATE else "on_usage",
            "priority": rp.priority if rp.priority is not None else 1,
            "rate_zone": (rp.rate_zone.name or rp.rate_zone.id) if rp.rate_zone else None,
            "sft_countries": sorted(set(rp.countries)),
            "present_on_platform": True,
            "synced_at": now,
        }
        if plan is None:
            session.add(Plan(plan_id=rp.plan_id, **values))
            report.created.append(rp.plan_id)
        else:
            changed = any(getattr(plan, k) != v for k, v in values.items() if k != "synced_at")
            for k, v in values.items():
                setattr(plan, k, v)
            session.add(plan)
            if changed:
                report.updated.append(rp.plan_id)
    for plan_id, plan in existing.items():
        if plan_id not in seen and plan.present_on_platform:
            plan.present_on_platform = False
            session.add(plan)
            report.missing.append(plan_id)
    await session.commit()
    log.info(
        "catalogue sync: %d created, %d updated, %d missing, %d skipped",
        len(report.created),
        len(report.updated),
        len(report.missing),
        len(report.skipped),
    )
    for skip in report.skipped:
        log.warning("catalogue sync: plan %s skipped: %s", skip.plan_id or "?", skip.reason)
    return report


def read_seed(path: Path) -> list[dict[str, Any]]:
    """Parse the seller seed file: ``{"networks": {...}, "plans": [{plan_id, display_name,
    texts, price, currency, prices, destinations, region, activation_policy, on_sale,
    networks, hotspot, apn, starts_anywhere}]}``.

    The network facts (:func:`_seed_network_facts`, docs/esim.md#network-facts): a plan
    without its own ``networks`` gets the file's shared ones for its destinations.

    ``price`` is a decimal string in major units ("9.90") in the plan's base ``currency``;
    ``prices`` (optional) the seller's prices in other currencies, ``{"USD": "4.90"}``, each a
    decimal string in that currency's major units (docs/i18n.md#currencies); ``destinations``
    ISO alpha-2 codes; ``texts`` the plan's display name and description per language
    (``{"fr": {"display_name": "France 1 Go"}}``, docs/i18n.md#plan-texts). Each row has
    ``prices`` as ``{currency: price in minor units}``. Raises ``ValueError`` (naming the
    plan) on unknown country codes, prices finer than the currency's minor unit, a ``prices``
    code that is not three letters, a ``prices`` entry in the base currency, ``prices`` on a
    plan without a base price, or texts ``plan_texts.clean_texts`` refuses (an unknown
    language code)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    shared = network_facts.clean_networks(data.get("networks", {}), where="seed networks")
    rows: list[dict[str, Any]] = []
    for raw in data["plans"]:
        currency = raw.get("currency")
        price = raw.get("price")
        for code in raw.get("destinations", []):
            countries.country(code)  # KeyError → unknown code
        rows.append(
            {
                "plan_id": str(raw["plan_id"]),
                "display_name": raw.get("display_name"),
                "texts": plan_texts.clean_texts(
                    raw.get("texts"), where=f"seed plan {raw['plan_id']}"
                ),
                "price_minor": decimal_to_minor(price, currency) if price and currency else None,
                "currency": currency if price else None,
                "prices": _seed_prices(
                    str(raw["plan_id"]), raw.get("prices") or {}, price and currency
                ),
                "destinations": sorted({c.upper() for c in raw.get("destinations", [])}),
                "region": raw.get("region"),
                "activation_policy": raw.get("activation_policy"),
                "on_sale": bool(raw.get("on_sale", True)) and bool(price and currency),
                **_seed_network_facts(str(raw["plan_id"]), raw, shared),
            }
        )
    return rows


def _seed_network_facts(
    plan_id: str, raw: Mapping[str, Any], shared: dict[str, list[dict[str, str]]]
) -> dict[str, Any]:
    """The network facts of one seed plan (docs/esim.md#network-facts): its own
    ``networks`` or else the file's shared ``networks`` (kept for the plan's destinations by
    :func:`apply_seed`), ``hotspot`` (default true), ``apn`` (default none),
    ``starts_anywhere`` (default false). Raises ``ValueError`` naming the plan."""
    where = f"seed plan {plan_id}"
    own = raw.get("networks")
    hotspot, anywhere = raw.get("hotspot", True), raw.get("starts_anywhere", False)
    if not isinstance(hotspot, bool) or not isinstance(anywhere, bool):
        raise ValueError(f"{where}: hotspot and starts_anywhere must be true or false")
    return {
        "networks": network_facts.clean_networks(own, where=where) if own is not None else shared,
        "hotspot": hotspot,
        "apn": network_facts.clean_apn(raw.get("apn"), where=where),
        "starts_anywhere": anywhere,
    }


def _seed_prices(plan_id: str, raw: Any, base: str | None) -> dict[str, int]:
    """The ``prices`` of one seed plan as ``{currency: minor units}`` (``read_seed``'s rules;
    ``base``: the plan's base currency, ``None`` when it has no base price)."""
    if not isinstance(raw, dict):
        raise ValueError(f'seed plan {plan_id}: prices must be an object like {{"USD": "4.90"}}')
    if raw and not base:
        raise ValueError(f"seed plan {plan_id}: prices need a base price and currency")
    out: dict[str, int] = {}
    for code, text in raw.items():
        cur = str(code).upper()
        if len(cur) != 3 or not cur.isalpha():
            raise ValueError(f"seed plan {plan_id}: {code!r} is not an ISO 4217 currency code")
        if cur == base:
            raise ValueError(f"seed plan {plan_id}: {cur} is the base currency; set it in price")
        try:
            out[cur] = decimal_to_minor(str(text), cur)
        except (ValueError, ArithmeticError) as exc:
            raise ValueError(f"seed plan {plan_id}: bad {cur} price {text!r}: {exc}") from None
        if out[cur] < 0:
            raise ValueError(f"seed plan {plan_id}: the {cur} price cannot be negative")
    return out


async def apply_seed(session: AsyncSession, rows: list[dict[str, Any]]) -> list[str]:
    """Fill seller fields of synced plans that staff never edited, and replace their prices
    in other currencies (``plan_price``) by the row's ``prices``; returns the plan ids
    filled. A row's ``texts`` (:func:`read_seed`) become the plan's ``plan_text`` rows, and
    a language the row has no texts for loses its row. Rows for plans unknown to the
    platform are skipped with a warning."""
    filled: list[str] = []
    for row in rows:
        plan = await session.get(Plan, row["plan_id"])
        if plan is None:
            log.warning("seed: plan %s is not on the platform; skipped", row["plan_id"])
            continue
        if plan.updated_at is not None:
            continue
        for key, value in row.items():
            if key != "plan_id" and key in Plan.model_fields:
                setattr(plan, key, value)
        if "texts" in row:
            await _seed_texts(session, plan.plan_id, row["texts"])
        if not row["destinations"]:
            plan.destinations = list(plan.sft_countries)
        plan.networks = {c: n for c, n in row["networks"].items() if c in plan.destinations}
        session.add(plan)
        await session.execute(delete(PlanPrice).where(col(PlanPrice.plan_id) == plan.plan_id))
        for cur, minor in row.get("prices", {}).items():
            session.add(PlanPrice(plan_id=plan.plan_id, currency=cur, price_minor=minor))
        filled.append(plan.plan_id)
    await session.commit()
    return filled


async def _seed_texts(
    session: AsyncSession, plan_id: str, texts: dict[str, dict[str, str | None]]
) -> None:
    """The seed's texts of one plan (docs/i18n.md#plan-texts): every language the seed has
    no texts for is emptied, so the plan's texts are exactly the seed's."""
    blank = dict.fromkeys(plan_texts.TEXT_FIELDS)
    wanted = {code: texts.get(code, blank) for code in plan_texts.TEXT_LOCALES}
    await plan_texts.save_texts(session, plan_id, wanted)


async def seed_and_sync(settings: Settings) -> SyncReport:
    """Sync plans from SFT (the simulator in the demo) and apply the seed file."""
    from travelsim.sft.factory import build_client

    async with build_client(settings) as client, db.session() as session:
        report = await sync_plans(client, session)
        if settings.catalogue_seed_file.exists():
            await apply_seed(session, read_seed(settings.catalogue_seed_file))
    return report


# --- what travelers see ---------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    """A sellable plan as shown to travelers (all strings pre-formatted for the page)."""

    plan_id: str
    title: str
    volume_bytes: int
    volume: str
    validity_days: int
    validity: str
    price_minor: int
    currency: str
    price: str
    #: Why the price is not in the currency asked for ("" when it is): the plan has no
    #: seller price in it, so its base price is shown (docs/i18n.md#currencies).
    price_note: str
    starts_on: str  # what starts the validity clock
    activation_policy: str
    region: str
    destinations: list[str]
    coverage: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def price_in(
    plan: Plan, currency: str | None, prices: Mapping[str, int] | None = None
) -> tuple[int, str]:
    """``(price in minor units, ISO 4217 code)`` of a priced ``plan`` for a traveler paying in
    ``currency``: the seller's price in it (``prices``: the plan's ``plan_price`` rows as
    ``{currency: minor units}``), else the base price (``Plan.price_minor`` /
    ``Plan.currency``; also for ``currency=None``). Never converted (docs/i18n.md#currencies).
    Raises ``ValueError`` for a plan without a base price."""
    if plan.price_minor is None or plan.currency is None:
        raise ValueError(f"plan {plan.plan_id} has no price")
    if currency and currency != plan.currency and prices and currency in prices:
        return prices[currency], currency
    return plan.price_minor, plan.currency


async def plan_prices(
    session: AsyncSession, plan_ids: list[str] | None = None
) -> dict[str, dict[str, int]]:
    """The seller's prices in other currencies (``plan_price``) as ``{plan_id: {currency:
    minor units}}``, of ``plan_ids`` only when given (plans without any are absent)."""
    query = select(PlanPrice)
    if plan_ids is not None:
        query = query.where(col(PlanPrice.plan_id).in_(plan_ids))
    out: dict[str, dict[str, int]] = {}
    for row in (await session.exec(query)).all():
        out.setdefault(row.plan_id, {})[row.currency] = row.price_minor
    return out


async def price_for(session: AsyncSession, plan: Plan, currency: str | None) -> tuple[int, str]:
    """:func:`price_in` with the plan's ``plan_price`` rows read from the database now (no
    query when ``currency`` is the plan's base currency or ``None``: the base price)."""
    if currency is None or currency == plan.currency:
        return price_in(plan, None)
    prices = await plan_prices(session, [plan.plan_id])
    return price_in(plan, currency, prices.get(plan.plan_id))


def to_offer(
    plan: Plan,
    currency: str | None = None,
    prices: Mapping[str, int] | None = None,
    *,
    texts: plan_texts.Texts | None = None,
) -> Offer:
    """View model of a sellable plan, its texts in the active language
    (``travelsim.i18n.current``; ``texts``: the seller's texts of that language,
    ``plan_texts.texts_for``, without them the English ones), its price in ``currency``
    (:func:`price_in` with the plan's ``prices``; the base price and a ``price_note`` saying
    so when the plan has no price in it; ``None``: the base price). Raises ``ValueError`` for
    a plan that is not sellable."""
    if not plan.sellable or plan.price_minor is None or plan.currency is None:
        raise ValueError(f"plan {plan.plan_id} is not on sale")
    amount, shown = price_in(plan, currency, prices)
    note = (
        _("Shown in {shown}: this plan has no {wanted} price.").format(shown=shown, wanted=currency)
        if currency and shown != currency
        else ""
    )
    on_usage = plan.activated_by == "on_usage"
    starts = _("first use") if on_usage else _("purchase")
    days = format_days(plan.validity_days)
    default_policy = (
        _("Validity starts at your first data use at the destination and lasts {days}.")
        if on_usage
        else _("Validity starts at purchase and lasts {days}.")
    ).format(days=days)
    if plan.region:
        count = len(plan.destinations)
        coverage = f"{plan.region} · " + ngettext("{n} country", "{n} countries", count).format(
            n=count
        )
    else:
        coverage = ", ".join(countries.country(c).name for c in plan.destinations)
    return Offer(
        plan_id=plan.plan_id,
        title=plan_texts.plan_title(plan, texts),
        volume_bytes=plan.volume_bytes,
        volume=format_bytes(plan.volume_bytes),
        validity_days=plan.validity_days,
        validity=format_days(plan.validity_days),
        price_minor=amount,
        currency=shown,
        price=format_money(amount, shown),
        price_note=note,
        starts_on=starts,
        activation_policy=plan_texts.plan_description(plan, texts) or default_policy,
        region=plan.region or "",
        destinations=list(plan.destinations),
        coverage=coverage,
    )


async def sellable_plans(session: AsyncSession) -> list[Plan]:
    """Every plan on sale right now (priced, active and present on the platform)."""
    rows = (await session.exec(select(Plan).where(Plan.on_sale == True))).all()  # noqa: E712
    return [p for p in rows if p.sellable]


def offers_for_country(
    plans: list[Plan],
    code: str,
    currency: str | None = None,
    prices: Mapping[str, Mapping[str, int]] | None = None,
    *,
    texts: plan_texts.Texts | None = None,
) -> list[Offer]:
    """Offers covering country ``code``, priced in ``currency`` (:func:`to_offer`; ``prices``:
    :func:`plan_prices`; ``texts``: the seller's texts in the active language, as
    :func:`to_offer`): single-country plans first, then regional and global ones; within
    each group by price per GB, then price (as shown)."""
    matching = [p for p in plans if code.upper() in p.destinations]
    offers = [to_offer(p, currency, (prices or {}).get(p.plan_id), texts=texts) for p in matching]
    ranked = sorted(
        zip(matching, offers, strict=True),
        key=lambda po: (
            1 if po[0].region else 0,
            po[1].price_minor / max(po[1].volume_bytes, 1),
            po[1].price_minor,
        ),
    )
    return [offer for _plan, offer in ranked]


def sort_offers(offers: list[Offer], key: str) -> list[Offer]:
    """The offers in the order a traveler asked for (a new list; ties keep the order of
    :func:`offers_for_country`): ``value`` lowest price per GB first (whatever the plan's
    coverage), then lowest price; ``price`` lowest price; ``volume`` most data, then lowest
    price; ``days`` longest validity, then lowest price. Raises ``ValueError`` for another
    key."""
    if key == "value":
        return sorted(offers, key=lambda o: (o.price_minor / max(o.volume_bytes, 1), o.price_minor))
    if key == "price":
        return sorted(offers, key=lambda o: o.price_minor)
    if key == "volume":
        return sorted(offers, key=lambda o: (-o.volume_bytes, o.price_minor))
    if key == "days":
        return sorted(offers, key=lambda o: (-o.validity_days, o.price_minor))
    raise ValueError(f"unknown sort {key!r}")


def covered_countries(plans: list[Plan]) -> set[str]:
    """ISO codes of every destination some sellable plan covers."""
    return {c for p in plans for c in p.destinations}
