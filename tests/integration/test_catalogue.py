"""Catalogue sync from the simulator (in process) into a real portal database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from travelsim import db
from travelsim.models import JobRun, Plan, utcnow
from travelsim.services import admin, catalogue
from travelsim.services.jobs.metering import RunStats
from travelsim.services.jobs.runs import run_catalogue
from travelsim.settings import Settings, get_settings
from travelsim.sft import parsing
from travelsim.sft.factory import build_client
from travelsim.sft.models import Priority, RatePlanCatalogue
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


def _plan_values(p: Plan) -> tuple[Any, ...]:
    return (
        p.plan_id,
        p.sft_name,
        p.volume_bytes,
        p.validity_days,
        p.activated_by,
        p.priority,
        tuple(p.sft_countries),
    )


@pytest.mark.parametrize("shapes", ["documented", "legacy"])
async def test_both_answer_shapes_give_the_same_catalogue(
    sqlite_db: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, shapes: str
) -> None:
    """The simulator's nested 4.13 rows (documented) and its flat rows (legacy) sync into the
    same plans: volume from ``benefit[].value`` or ``volume``, activation from
    ``subscription.activatedBy`` or ``activatedBy`` (docs/sft-platform.md#queryrateplan)."""
    from travelsim.sft_simulator.catalogue import PLANS

    monkeypatch.setenv("SFT_SIM_DB_PATH", str(tmp_path / f"sim-{shapes}.db"))
    monkeypatch.setenv("SFT_SIM_SHAPES", shapes)
    get_settings.cache_clear()
    report = await _sync(get_settings())
    assert report.skipped == [] and len(report.created) == len(PLANS)
    async with db.session() as s:
        stored = {p.plan_id: _plan_values(p) for p in (await s.exec(select(Plan))).all()}
    expected = {
        p.plan_id: (
            p.plan_id,
            p.name,
            p.volume_bytes,
            p.validity_days,
            "immediate" if p.activated_by == "1" else "on_usage",
            p.priority,
            tuple(sorted(set(p.countries))),
        )
        for p in PLANS
    }
    assert stored == expected
    await db.async_engine().dispose()


#: The 4.13 FAQ's NEW add-on plan (https://docs.sft.bics.com/sft/release-4-13-0-may-07-2024,
#: "Addon plan API with validity and subscription"), as QueryRatePlan rows: one sellable, one
#: whose validity is in months ("validityType":"2"), one without any benefit.
_NEW = {
    "basicInfo": {
        "planId": "870497",
        "planName": "ADDONNEW",
        "planCategory": "ADDON",
        "planStatus": "Active",
        "addOnPriority": "2",
    },
    "benefit": [{"benefitId": "1", "value": "1073741824", "rateZone": "5093"}],
    "subscription": {
        "reSubscription": "true",
        "reSubscriptionRule": "2",
        "occurrences": "10000",
        "activatedBy": "1",
    },
    "validity": {"validityType": "1", "validityFactor": "44"},
}
_MONTHS = {
    **_NEW,
    "basicInfo": {**_NEW["basicInfo"], "planId": "870498"},
    "validity": {"validityType": "2", "validityFactor": "1"},
}
_NO_BENEFIT = {
    "basicInfo": {"planId": "870499", "planCategory": "ADDON"},
    "validity": {"validityType": "1", "validityFactor": "7"},
}


class _PlatformAnswer:
    """A client whose QueryRatePlan answer is the published sample above."""

    async def rate_plan_catalogue(self, *, priority: Priority) -> RatePlanCatalogue:
        body = {
            "Response": {
                "resultCode": "0",
                "resultParam": {"resultCode": "0"},
                "responseParam": {"rows": [_NEW, _MONTHS, _NO_BENEFIT]},
            }
        }
        return parsing.parse_rate_plan_catalogue(parsing.parse_envelope("QueryRatePlan", 200, body))


async def test_skipped_plans_are_reported_with_their_reason(sqlite_db: Settings) -> None:
    stats = RunStats()
    await run_catalogue(_PlatformAnswer(), stats)  # type: ignore[arg-type]
    assert stats.detail["created"] == 1 and stats.detail["skipped"] == 2
    skipped = [
        {"plan_id": "870498", "reason": "validity is not in days (validityType 2)"},
        {"plan_id": "870499", "reason": "no data volume (neither benefit[].value nor volume)"},
    ]
    assert stats.detail["skipped_plans"] == skipped
    async with db.session() as s:
        plan = await s.get(Plan, "870497")
        assert plan is not None
        assert (plan.volume_bytes, plan.validity_days, plan.activated_by, plan.priority) == (
            1_073_741_824,
            44,
            "immediate",
            2,
        )
        assert plan.rate_zone == "5093"  # the id: no zone name in the published shape
        # What /admin/catalogue shows: the last catalogue run's skipped plans.
        assert await admin.last_sync_skips(s) == ("", [])
        s.add(JobRun(job="catalogue", started_at=utcnow(), detail=stats.detail))
        await s.commit()
        when, rows = await admin.last_sync_skips(s)
    assert when and rows == skipped
    await db.async_engine().dispose()
