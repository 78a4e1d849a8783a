"""Sync rules that the simulator cannot produce on demand, with a scripted fake client:
an add-on the platform stops listing, a status the portal does not know, and an unexpected
error on one eSIM among several."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlmodel import col, select

from travelsim import db
from travelsim.models import Esim, EsimAddon, EsimSync, UsageDay, User
from travelsim.services import usage_sync
from travelsim.services.esim_dashboard import esim_dashboard
from travelsim.settings import Settings
from travelsim.sft import AddonDetail, AddonStatus, DailyUsage, EndpointProfile, Priority

GB = 1_073_741_824
NOW = datetime(2026, 7, 5, 12, 0, tzinfo=UTC)


def detail(uid: str, status: AddonStatus, raw: str, remaining: int = GB) -> AddonDetail:
    return AddonDetail(
        unique_id=uid,
        plan_id="870101",
        plan_name="France 1 GB 7 days",
        status=status,
        status_raw=raw,
        initial_bytes=GB,
        remaining_bytes=remaining,
        used_bytes=GB - remaining,
    )


class FakeClient:
    def __init__(self) -> None:
        self.addons: dict[str, list[AddonDetail]] = {}
        self.fail: dict[str, Exception] = {}
        self.stats: list[DailyUsage] = []

    async def addon_details(self, *, priority: Priority, endpoint_id: str) -> list[AddonDetail]:
        if endpoint_id in self.fail:
            raise self.fail[endpoint_id]
        return self.addons.get(endpoint_id, [])

    async def endpoint_profile(self, endpoint_id: str, *, priority: Priority) -> EndpointProfile:
        return EndpointProfile(status="Active", esim_profile_status="installed")

    async def addons_and_profile(
        self, endpoint_id: str, *, priority: Priority
    ) -> tuple[list[AddonDetail], EndpointProfile]:
        addons = await self.addon_details(priority=priority, endpoint_id=endpoint_id)
        return addons, await self.endpoint_profile(endpoint_id, priority=priority)

    async def statistics(self, endpoint_id: str, *a: Any, priority: Priority) -> list[DailyUsage]:
        return self.stats


@pytest.fixture
async def esims(sqlite_db: Settings) -> AsyncIterator[list[int]]:
    async with db.session() as s:
        user = User(email="ana@example.com", password_hash="x")
        s.add(user)
        await s.flush()
        rows = [
            Esim(iccid=f"893207000000000000{n}", endpoint_id=f"5000000{n}", state="assigned")
            for n in (1, 2)
        ]
        for r in rows:
            r.user_id = user.id
        s.add_all(rows)
        await s.commit()
        ids = [r.id for r in rows if r.id is not None]
    yield ids
    await db.async_engine().dispose()


async def test_vanished_and_unknown_statuses(esims: list[int]) -> None:
    fake = FakeClient()
    fake.addons["50000001"] = [
        detail("1", AddonStatus.ACTIVE, "Active"),
        detail("2", AddonStatus.UNKNOWN, "Paused"),
    ]
    fake.stats = [
        DailyUsage(date=date(2026, 7, 4), bytes=5),
        DailyUsage(date=date(2026, 7, 4), bytes=7),
    ]
    r = await usage_sync.sync_esims(fake, [esims[0]], priority=Priority.SYNC, clock=lambda: NOW)  # type: ignore[arg-type]
    assert r.outcomes[0].addons_inserted == 2
    fake.addons["50000001"] = [detail("2", AddonStatus.UNKNOWN, "Paused")]
    r = await usage_sync.sync_esims(fake, [esims[0]], priority=Priority.SYNC, clock=lambda: NOW)  # type: ignore[arg-type]
    # "1" vanished while live: the platform removed it, so it ended. Not past any expiry,
    # so it was used up after the last figures (usage_sync.ended_status).
    assert r.outcomes[0].addons_updated == 1
    async with db.session() as s:
        rows = (await s.exec(select(EsimAddon).order_by(col(EsimAddon.unique_id)))).all()
        days = (await s.exec(select(UsageDay))).all()
    assert [(a.unique_id, a.status, a.remaining_bytes) for a in rows] == [
        ("1", "used_up", GB),
        ("2", "unknown", GB),
    ]
    assert [(d.day, d.bytes) for d in days] == [(date(2026, 7, 4), 12)]  # same day adds up
    # ended and unknown add-ons are neither live figures nor zero on the dashboard
    async with db.session() as s:
        user_id = (await s.get(Esim, esims[0])).user_id  # type: ignore[union-attr]
        assert user_id is not None
        d = await esim_dashboard(s, user_id=user_id, esim_id=esims[0], now=NOW)
    assert d is not None and {a.state for a in d.addons} == {"used_up", "unknown"}
    assert not d.has_live_addons


async def test_unexpected_error_on_one_esim_is_recorded(esims: list[int]) -> None:
    fake = FakeClient()
    fake.fail["50000001"] = RuntimeError("boom")
    fake.addons["50000002"] = [detail("9", AddonStatus.WAITING, "Subscribed")]
    r = await usage_sync.sync_esims(fake, esims, priority=Priority.SYNC, clock=lambda: NOW)  # type: ignore[arg-type]
    assert [o.ok for o in r.outcomes] == [False, True]
    assert r.outcomes[0].error == "RuntimeError: boom"
    async with db.session() as s:
        failed = await s.get(EsimSync, esims[0])
        ok = await s.get(EsimSync, esims[1])
    assert failed is not None and failed.last_error == "RuntimeError: boom"
    assert failed.attempted_at == NOW and failed.synced_at is None
    assert ok is not None and ok.synced_at == NOW and ok.last_error is None
