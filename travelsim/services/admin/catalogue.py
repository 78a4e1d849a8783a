"""The catalogue section: the plans list and editing a plan's seller fields (price,
currency, the prices in other currencies, display name, destinations, on sale, and the
display name and description in each other language: docs/i18n.md#plan-texts).

A plan's prices in other currencies are rows of ``plan_price``, set by staff here or by the
seed file, never converted (docs/i18n.md#currencies)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db
from travelsim.formatting import decimal_to_minor, format_bytes, minor_to_decimal
from travelsim.models import JobRun, Plan, PlanPrice, PlanText, utcnow
from travelsim.services import catalogue, countries, network_facts, plan_texts
from travelsim.services.admin.base import (
    DEFAULT_PER_PAGE,
    ActionResult,
    PageResult,
    Refused,
    Staff,
    _act,
    _like,
    _money,
    _paged,
    _sort,
    _when,
)

_PLAN_SORTS: dict[str, Any] = {
    "plan_id": col(Plan.plan_id),
    "name": col(Plan.sft_name),
    "price": col(Plan.price_minor),
    "on_sale": col(Plan.on_sale),
}


async def list_plans(
    session: AsyncSession,
    *,
    query_text: str | None = None,
    on_sale: bool | None = None,
    sort: str = "plan_id",
    desc: bool = False,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> PageResult:
    """Catalogue plans whose id, platform name or display name contain ``query_text``. Each
    row also has ``price_<CUR>`` (major units, e.g. ``"4.90"``) for each of the plan's prices
    in another currency, and ``prices_text`` every price as money text ("€4.50 · $4.90")."""
    query: Any = select(Plan)
    if query_text:
        pattern = _like(query_text)
        query = query.where(
            or_(
                func.lower(col(Plan.plan_id)).like(pattern, escape="\\"),
                func.lower(col(Plan.sft_name)).like(pattern, escape="\\"),
                func.lower(col(Plan.display_name)).like(pattern, escape="\\"),
            )
        )
    if on_sale is not None:
        query = query.where(col(Plan.on_sale).is_(on_sale))
    rows, total, page, per_page = await _paged(
        session, query, _sort(_PLAN_SORTS, sort, desc, "plan_id", col(Plan.plan_id)), page, per_page
    )
    extra = await catalogue.plan_prices(session, [plan.plan_id for (plan,) in rows])
    out = []
    for (plan,) in rows:
        prices = extra.get(plan.plan_id, {})
        texts = [_money(plan.price_minor, plan.currency)] + [
            _money(prices[cur], cur) for cur in sorted(prices)
        ]
        out.append(
            {
                **{f"price_{cur}": str(minor_to_decimal(m, cur)) for cur, m in prices.items()},
                "prices_text": " · ".join(t for t in texts if t),
                "plan_id": plan.plan_id,
                "sft_name": plan.sft_name,
                "display_name": plan.display_name or "",
                "volume": format_bytes(plan.volume_bytes),
                "validity": f"{plan.validity_days} d",
                "price": (
                    str(minor_to_decimal(plan.price_minor, plan.currency))
                    if plan.price_minor is not None and plan.currency
                    else ""
                ),
                "price_text": _money(plan.price_minor, plan.currency),
                "currency": plan.currency or "",
                "destinations": " ".join(plan.destinations),
                "on_sale": "yes" if plan.on_sale else "no",
                "networks": network_facts.networks_text(plan.networks),
                "hotspot": "yes" if plan.hotspot else "no",
                "apn": plan.apn or "",
                "starts_anywhere": "yes" if plan.starts_anywhere else "no",
                "platform": plan.sft_status if plan.present_on_platform else "missing",
                "edited": _when(plan.updated_at),
            }
        )
    await _add_texts(session, out)
    return PageResult(out, total, page, per_page)


def text_key(locale: str, name: str) -> str:
    """The row key (and editor field name) of one plan text: ``text_fr_display_name``."""
    return f"text_{locale}_{name}"


async def _add_texts(session: AsyncSession, rows: list[dict[str, str]]) -> None:
    """Add to each plan row its texts in every language but English (``text_key``; ``""``
    when the language has none), read in one query (docs/i18n.md#plan-texts)."""
    ids = [r["plan_id"] for r in rows]
    stored = (await session.exec(select(PlanText).where(col(PlanText.plan_id).in_(ids)))).all()
    found = {(t.plan_id, t.locale): t for t in stored}
    for row in rows:
        for code in plan_texts.TEXT_LOCALES:
            text = found.get((row["plan_id"], code))
            for name in plan_texts.TEXT_FIELDS:
                row[text_key(code, name)] = (getattr(text, name) if text else None) or ""


def _parse_texts(texts: Mapping[str, Mapping[str, str]] | None) -> dict[str, Any]:
    """The editor's plan texts checked (``plan_texts.clean_texts``); :class:`Refused` says
    what is wrong (an unknown language, a text too long)."""
    try:
        return plan_texts.clean_texts(
            {code: dict(fields) for code, fields in (texts or {}).items()}, where="texts"
        )
    except ValueError as exc:
        raise Refused(str(exc)) from None


#: ``JobRun.job`` of the catalogue sync (``services/jobs``).
CATALOGUE_JOB = "catalogue"


async def last_sync_skips(session: AsyncSession) -> tuple[str, list[dict[str, str]]]:
    """When the last catalogue sync ran (text, ``""`` if never) and the QueryRatePlan rows it
    skipped, each ``{"plan_id", "reason"}`` (docs/sft-platform.md#queryrateplan)."""
    run = (
        await session.exec(
            select(JobRun)
            .where(col(JobRun.job) == CATALOGUE_JOB)
            .order_by(col(JobRun.started_at).desc(), col(JobRun.id).desc())
            .limit(1)
        )
    ).first()
    if run is None:
        return "", []
    raw = run.detail.get("skipped_plans") or []
    skips = [
        {"plan_id": str(s.get("plan_id") or "?"), "reason": str(s.get("reason") or "")}
        for s in raw
        if isinstance(s, dict)
    ]
    return _when(run.started_at), skips


def _parse_destinations(raw: str | list[str]) -> list[str]:
    """Country codes from a list or a text separated by spaces, commas or semicolons:
    upper-cased, deduplicated, sorted. :class:`Refused` names the first unknown code."""
    items = raw if isinstance(raw, list) else re.split(r"[\s,;]+", raw)
    codes: list[str] = []
    for item in items:
        code = item.strip().upper()
        if not code:
            continue
        try:
            countries.country(code)
        except KeyError:
            raise Refused(f"unknown country code {code!r}") from None
        codes.append(code)
    return sorted(set(codes))


def _parse_price(price: str, currency: str) -> tuple[int | None, str | None]:
    """``(price in minor units, currency)`` from the form's texts; ``(None, None)`` for an
    empty price. :class:`Refused` for a missing or malformed currency, a bad or negative
    price."""
    cur = currency.strip().upper() or None
    price_text = price.strip().replace(",", ".")
    if not price_text:
        return None, None
    if cur is None or not re.fullmatch(r"[A-Z]{3}", cur):
        raise Refused("a price needs an ISO 4217 currency code (e.g. EUR)")
    try:
        price_minor = decimal_to_minor(price_text, cur)
    except Exception:
        raise Refused(f"invalid price {price_text!r} for {cur}") from None
    if price_minor < 0:
        raise Refused("the price cannot be negative")
    return price_minor, cur


def _parse_prices(prices: Mapping[str, str], base: str | None) -> dict[str, int | None]:
    """``{currency: minor units, or None to remove}`` from the editor's extra price fields
    (``{"USD": "4.90", "GBP": ""}``: empty = no price in that currency). :class:`Refused`
    for a malformed code, a price in the base currency, a price without a base price, or a
    bad or negative price (:func:`_parse_price`)."""
    out: dict[str, int | None] = {}
    for code, text in prices.items():
        cur = code.strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", cur):
            raise Refused(f"{code!r} is not an ISO 4217 currency code")
        if not text.strip():
            out[cur] = None
            continue
        if base is None:
            raise Refused(f"a {cur} price needs a base price first")
        if cur == base:
            raise Refused(f"{cur} is the base currency: set its price in the Price field")
        out[cur] = _parse_price(text, cur)[0]
    return out


async def update_plan(
    staff: Staff,
    plan_id: str,
    *,
    display_name: str,
    price: str,
    currency: str,
    destinations: str | list[str],
    on_sale: bool,
    texts: Mapping[str, Mapping[str, str]] | None = None,
    prices: Mapping[str, str] | None = None,
    network: NetworkEdit | None = None,
) -> ActionResult:
    """Edit a plan's seller fields: ``price`` in major units (``"4.50"``; empty = no
    price), ISO 4217 ``currency``, display name (empty = the platform name), destinations
    (ISO alpha-2 codes), on-sale flag, and ``prices`` in other currencies (``{"USD":
    "4.90"}`` in their major units; empty = none in that currency; a currency not named is
    left as it is; a stored price in the new base currency is removed). A plan without price
    cannot be on sale. ``texts``: the display name and description per language, ``{"fr":
    {"display_name": ..., "description": ...}}`` (an empty text = the English one is shown; a
    language left out is not changed; docs/i18n.md#plan-texts). Sets ``Plan.updated_at``, so
    the seed never overwrites staff edits. Every change, prices in other currencies and texts
    too, is in the audit entry. ``network``: the network facts (:class:`NetworkEdit`,
    docs/esim.md#network-facts; ``None`` leaves them as they are)."""

    async def body() -> str:
        name = " ".join(display_name.split())[:200] or None
        price_minor, cur = _parse_price(price, currency)
        extra = _parse_prices(prices or {}, cur)
        if on_sale and price_minor is None:
            raise Refused("a plan without a price cannot be on sale")
        codes = _parse_destinations(destinations)
        cleaned_texts = _parse_texts(texts)
        facts = _parse_network(network) if network is not None else None
        async with db.session() as s:
            plan = await s.get(Plan, plan_id)
            if plan is None:
                raise Refused("unknown plan")
            stored = (await catalogue.plan_prices(s, [plan_id])).get(plan_id, {})
            wanted = {c: m for c, m in {**stored, **extra}.items() if m is not None and c != cur}
            before = {
                "display_name": plan.display_name,
                "price": _money(plan.price_minor, plan.currency) or "none",
                **_price_texts(stored, set(stored) | set(wanted)),
                "destinations": " ".join(plan.destinations),
                "on_sale": plan.on_sale,
                **_network_audit(plan),
            }
            plan.display_name = name
            plan.price_minor = price_minor
            plan.currency = cur
            plan.destinations = codes
            plan.on_sale = on_sale
            if facts is not None:
                for key, value in facts.items():
                    setattr(plan, key, value)
            plan.updated_at = utcnow()
            s.add(plan)
            text_changes = await plan_texts.save_texts(s, plan_id, cleaned_texts)
            await s.execute(delete(PlanPrice).where(col(PlanPrice.plan_id) == plan_id))
            for code, minor in sorted(wanted.items()):
                s.add(PlanPrice(plan_id=plan_id, currency=code, price_minor=minor))
            await s.commit()
            after = {
                "display_name": name,
                "price": _money(price_minor, cur) or "none",
                **_price_texts(wanted, set(stored) | set(wanted)),
                "destinations": " ".join(codes),
                "on_sale": on_sale,
                **_network_audit(plan),
            }
        changes = [f"{k}: {before[k]!s} -> {after[k]!s}" for k in before if before[k] != after[k]]
        changes += text_changes
        return "; ".join(changes) or "no change"

    return await _act(staff, "plan.update", "plan", plan_id, body)


@dataclass(frozen=True)
class NetworkEdit:
    """The editor's network facts of a plan (docs/esim.md#network-facts): ``networks`` as
    text (``"FR: Orange 5G, SFR 4G; ES: Movistar 5G"``), ``apn`` (empty = set
    automatically), ``hotspot`` allowed, ``starts_anywhere``."""

    networks: str
    hotspot: bool
    apn: str
    starts_anywhere: bool


def _parse_network(edit: NetworkEdit) -> dict[str, Any]:
    """The plan fields of ``edit``; :class:`Refused` says what cannot be read."""
    try:
        return {
            "networks": network_facts.parse_networks_text(edit.networks),
            "apn": network_facts.clean_apn(edit.apn, where="apn"),
            "hotspot": edit.hotspot,
            "starts_anywhere": edit.starts_anywhere,
        }
    except ValueError as exc:
        raise Refused(str(exc)) from None


def _network_audit(plan: Plan) -> dict[str, Any]:
    """The audit's words for a plan's network facts."""
    return {
        "networks": network_facts.networks_text(plan.networks) or "none",
        "hotspot": plan.hotspot,
        "apn": plan.apn or "automatic",
        "starts_anywhere": plan.starts_anywhere,
    }


def _price_texts(prices: Mapping[str, int], currencies: set[str]) -> dict[str, str]:
    """``{"price USD": "$4.90" or "none"}`` for each of ``currencies`` (the audit's words)."""
    return {
        f"price {cur}": _money(prices[cur], cur) if cur in prices else "none"
        for cur in sorted(currencies)
    }
