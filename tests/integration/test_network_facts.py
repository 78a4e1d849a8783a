"""Network facts per plan (services/network_facts.py, docs/esim.md#network-facts): the seed
file's values after a real catalogue sync from the simulator, read per plan and destination,
the admin editor's round trip with its audit entry, and refusals. Real migrated SQLite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from checkout_support import add_plan
from sqlmodel import col, select

from travelsim import db
from travelsim.models import AuditLog, Plan, User
from travelsim.services import admin, catalogue, network_facts
from travelsim.services.admin import NetworkEdit, Staff
from travelsim.settings import Settings, get_settings
from travelsim.sft.factory import build_client
from travelsim.sft.ratelimit import LocalRateBudget
from travelsim.sft_simulator.catalogue import EUROPE, PLANS_BY_ID

SEED = json.loads(
    (Path(__file__).parents[2] / "travelsim" / "seed" / "catalogue.json").read_text("utf-8")
)
SEED_PLANS = {p["plan_id"]: p for p in SEED["plans"]}


async def _synced_and_seeded(settings: Settings) -> None:
    async with (
        build_client(settings, rate_budget=LocalRateBudget(100)) as client,
        db.session() as s,
    ):
        await catalogue.sync_plans(client, s)
        await catalogue.apply_seed(s, catalogue.read_seed(settings.catalogue_seed_file))


@pytest.fixture
def sim_settings(sqlite_db: Settings, monkeypatch, tmp_path: Path) -> Settings:
    monkeypatch.setenv("SFT_SIM_DB_PATH", str(tmp_path / "sim.db"))
    monkeypatch.setenv("SFT_SIM_RATE_LIMIT_TPS", "100")
    get_settings.cache_clear()
    return get_settings()


async def test_every_seeded_plan_has_networks_for_each_destination(sim_settings: Settings) -> None:
    await _synced_and_seeded(sim_settings)
    async with db.session() as s:
        for plan_id, raw in SEED_PLANS.items():
            facts = await network_facts.facts_for(s, plan_id)
            assert facts is not None
            destinations = raw.get("destinations") or list(PLANS_BY_ID[plan_id].countries)
            assert set(facts.networks) == set(destinations), plan_id
            for code in destinations:
                assert facts.networks_in(code), (plan_id, code)
                assert all(n.generation in ("4G", "5G") for n in facts.networks_in(code))
            assert facts.hotspot is raw["hotspot"]
            assert facts.apn == raw["apn"]
            assert facts.starts_anywhere is raw["starts_anywhere"]
    await db.async_engine().dispose()


async def test_facts_read_per_plan_and_destination(sim_settings: Settings) -> None:
    await _synced_and_seeded(sim_settings)
    shared = SEED["networks"]
    async with db.session() as s:
        europe = await network_facts.facts_for(s, "870201")
        assert europe is not None
        assert set(europe.networks) == set(EUROPE)
        assert [(n.name, n.generation) for n in europe.networks_in("fr")] == [
            (n["name"], n["generation"]) for n in shared["FR"]
        ]
        assert europe.networks_in("JP") == ()  # not covered by the Europe plan
        assert europe.starts_anywhere is True and europe.apn is None
        assert await network_facts.apn_for(s, "870201") is None
        assert await network_facts.apn_for(s, "870301") == SEED_PLANS["870301"]["apn"]
        assert await network_facts.apn_for(s, "999999") is None
        assert await network_facts.facts_for(s, "999999") is None
        france = await network_facts.facts_for(s, "870101")
        assert france is not None and list(france.networks) == ["FR"]
        assert france.starts_anywhere is False
    await db.async_engine().dispose()


async def _staff() -> Staff:
    async with db.session() as s:
        user = User(email="boss@example.com", password_hash="x", is_staff=True)
        s.add(user)
        await s.commit()
        await s.refresh(user)
    assert user.id is not None
    return Staff(user.id, user.email)


async def _edit(staff: Staff, network: NetworkEdit) -> admin.ActionResult:
    return await admin.update_plan(
        staff,
        "870101",
        display_name="France 1 GB",
        price="9.90",
        currency="EUR",
        destinations="FR BE",
        on_sale=True,
        network=network,
    )


async def test_admin_edit_round_trip_with_audit(sqlite_db: Settings) -> None:
    await add_plan(destinations=["FR", "BE"])
    staff = await _staff()
    outcome = await _edit(
        staff,
        NetworkEdit(
            networks="fr: Orange 5G,  SFR   4g ; BE: Proximus 5G",
            hotspot=False,
            apn=" bicsapn ",
            starts_anywhere=True,
        ),
    )
    assert outcome.ok, outcome.message
    async with db.session() as s:
        plan = await s.get(Plan, "870101")
        assert plan is not None
        assert plan.networks == {
            "BE": [{"name": "Proximus", "generation": "5G"}],
            "FR": [{"name": "Orange", "generation": "5G"}, {"name": "SFR", "generation": "4G"}],
        }
        assert (plan.hotspot, plan.apn, plan.starts_anywhere) == (False, "bicsapn", True)
        assert plan.updated_at is not None
    async with db.session() as s:
        listed = (await admin.list_plans(s, query_text="870101")).rows[0]
    assert listed["networks"] == "BE: Proximus 5G; FR: Orange 5G, SFR 4G"
    assert (listed["hotspot"], listed["apn"], listed["starts_anywhere"]) == ("no", "bicsapn", "yes")
    # Saving the editor's own text back changes nothing.
    again = await _edit(
        staff,
        NetworkEdit(
            networks=listed["networks"], hotspot=False, apn="bicsapn", starts_anywhere=True
        ),
    )
    assert again.ok
    async with db.session() as s:
        details = [
            r.detail
            for r in (
                await s.exec(
                    select(AuditLog)
                    .where(col(AuditLog.action) == "plan.update")
                    .order_by(col(AuditLog.id))
                )
            ).all()
        ]
    assert "networks: none -> BE: Proximus 5G; FR: Orange 5G, SFR 4G" in details[0]
    assert "hotspot: True -> False" in details[0]
    assert "apn: automatic -> bicsapn" in details[0]
    assert "starts_anywhere: False -> True" in details[0]
    assert "networks" not in details[1] and "apn" not in details[1]


@pytest.mark.parametrize(
    ("edit", "fault"),
    [
        (NetworkEdit("XX: Orange 5G", True, "", False), "unknown country code 'XX'"),
        (NetworkEdit("FR: Orange 3G", True, "", False), "generation must be one of 4G, 5G"),
        (NetworkEdit("FR Orange 5G", True, "", False), "is not like 'FR: Orange 5G, SFR 4G'"),
        (NetworkEdit("FR: 5G", True, "", False), "a network name must be 1 to 60 characters"),
        (NetworkEdit("", True, "bics apn", False), "APN 'bics apn' must be labels"),
        (NetworkEdit("", True, "-bics", False), "APN '-bics' must be labels"),
    ],
)
async def test_admin_edit_refuses_bad_facts_and_changes_nothing(
    sqlite_db: Settings, edit: NetworkEdit, fault: str
) -> None:
    await add_plan()
    staff = await _staff()
    outcome = await _edit(staff, edit)
    assert not outcome.ok
    assert fault in outcome.message
    async with db.session() as s:
        plan = await s.get(Plan, "870101")
        assert plan is not None
        assert (plan.networks, plan.hotspot, plan.apn, plan.updated_at) == ({}, True, None, None)


def test_seed_refuses_bad_network_facts(tmp_path: Path) -> None:
    bad = {
        "networks": {"FR": [{"name": "Orange", "generation": "5G"}]},
        "plans": [
            {"plan_id": "870101", "price": "4.50", "currency": "EUR", "apn": "a b"},
        ],
    }
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(ValueError, match="seed plan 870101: APN 'a b'"):
        catalogue.read_seed(path)
    bad["plans"] = [{"plan_id": "870101", "networks": {"FR": [{"name": "Orange"}]}}]
    path.write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(ValueError, match="seed plan 870101, FR: Orange: generation"):
        catalogue.read_seed(path)
    bad["plans"] = [{"plan_id": "870101", "hotspot": "yes"}]
    path.write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(ValueError, match="hotspot and starts_anywhere must be true or false"):
        catalogue.read_seed(path)
