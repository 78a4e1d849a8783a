"""Catalogue sync from the simulator (in process) into a real portal database."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from travelsim import db
from travelsim.models import Plan
from travelsim.services import catalogue
from travelsim.settings import Settings, get_settings
from travelsim.sft.factory import build_client
from travelsim.sft.ratelimit import LocalRateBudget

GB = 1_073_741_824


async def _sync(settings: Settings) -> catalogue.SyncReport:
    async with (
        build_client(settings, rate_budget=LocalRateBudget(100)) as client,
        db.session() as s,
    ):
        return await catalogue.sync_plans(client, s)


async def test_sync_then_seed_then_offers(sqlite_db: Settings, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SFT_SIM_DB_PATH", str(tmp_path / "sim.db"))
    monkeypatch.setenv("SFT_SIM_RATE_LIMIT_TPS", "100")
    get_settings.cache_clear()
    settings = get_settings()
    report = await _sync(settings)
    assert len(report.created) == 16  # the simulator's documented catalogue
    async with db.session() as s:
        rows = catalogue.read_seed(settings.catalogue_seed_file)
        await catalogue.apply_seed(s, rows)
        jp = await s.get(Plan, "870141")
        assert jp is not None
        assert (jp.volume_bytes, jp.validity_days, jp.activated_by) == (3 * GB, 15, "on_usage")
        assert (jp.price_minor, jp.currency, jp.destinations) == (1150, "EUR", ["JP"])
        test_plan = await s.get(Plan, "870401")
        assert test_plan is not None and not test_plan.on_sale  # no price, never on sale
        plans = await catalogue.sellable_plans(s)
        assert "870401" not in {p.plan_id for p in plans}
        offers = catalogue.offers_for_country(plans, "JP")
        assert offers[0].plan_id == "870141"  # single-country first
        assert {o.plan_id for o in offers} == {"870141", "870211", "870301", "870302"}
        assert offers[0].price == "€11.50" and offers[0].volume == "3 GB"
        # "Best value": lowest price per GB first whatever the coverage, computed here from
        # the seed's prices and the platform's volumes.
        per_gb = {o.plan_id: o.price_minor / o.volume_bytes for o in offers}
        by_value = [o.plan_id for o in catalogue.sort_offers(offers, "value")]
        assert by_value == sorted(per_gb, key=lambda p: (per_gb[p], p))
        assert [o.price_minor for o in catalogue.sort_offers(offers, "price")] == sorted(
            o.price_minor for o in offers
        )

        # A staff edit (updated_at set) survives a re-seed; the sync keeps seller fields.
        jp.price_minor = 999
        jp.updated_at = jp.synced_at
        s.add(jp)
        await s.commit()
        await catalogue.apply_seed(s, rows)
    again = await _sync(settings)
    assert again.created == [] and again.updated == []
    async with db.session() as s:
        jp2 = await s.get(Plan, "870141")
        assert jp2 is not None and jp2.price_minor == 999
    await db.async_engine().dispose()


async def test_plan_gone_from_platform_leaves_sale(
    sqlite_db: Settings, monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("SFT_SIM_DB_PATH", str(tmp_path / "sim.db"))
    get_settings.cache_clear()
    settings = get_settings()
    async with db.session() as s:
        s.add(
            Plan(
                plan_id="999999",
                sft_name="Old",
                volume_bytes=GB,
                validity_days=7,
                activated_by="on_usage",
                price_minor=100,
                currency="EUR",
                destinations=["FR"],
                on_sale=True,
            )
        )
        await s.commit()
    report = await _sync(settings)
    assert report.missing == ["999999"]
    async with db.session() as s:
        old = (await s.exec(select(Plan).where(Plan.plan_id == "999999"))).one()
        assert not old.sellable
    await db.async_engine().dispose()
