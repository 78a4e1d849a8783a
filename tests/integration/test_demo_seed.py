"""The demo accounts the README names can actually sign in."""

from __future__ import annotations

import pytest

from travelsim import cli, db
from travelsim.services.auth import signin
from travelsim.settings import Settings, get_settings


async def test_demo_traveler_and_staff_can_sign_in(
    sqlite_db: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_ENV", "demo")
    get_settings.cache_clear()
    await cli._demo_traveler()
    await cli._demo_staff()
    async with db.session() as s:
        traveler = await signin.authenticate(s, cli.DEMO_EMAIL, cli.DEMO_PASSWORD)
        staff = await signin.authenticate(s, cli.DEMO_STAFF_EMAIL, cli.DEMO_STAFF_PASSWORD)
        await s.commit()
    await db.async_engine().dispose()
    assert traveler.email == cli.DEMO_EMAIL and not traveler.is_staff
    assert staff.email == cli.DEMO_STAFF_EMAIL and staff.is_staff
