"""The "My eSIMs" read models and the traveler's changes (travelsim.services.my_esims,
esim_dashboard, esim_actions) on a SQLite file,
with stored figures written by hand and expected values computed by hand
(1 MB = 1,048,576 B, 1 GB = 1,073,741,824 B; docs/esim.md#balance-and-validity,
docs/esim.md#f1-code-already-used, docs/esim.md#f9-usage-lag, docs/esim.md#f11-add-on-queue,
docs/business-rules.md#figures-shown-to-travelers, docs/business-rules.md#data-states)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest

from travelsim import db
from travelsim.esim.lifecycle import install_state
from travelsim.models import Esim, EsimAddon, EsimSync, ReplacementRequest, UsageDay, User
from travelsim.services.esim_actions import NicknameError, rename_esim, request_replacement
from travelsim.services.esim_dashboard import Dashboard, esim_dashboard
from travelsim.services.my_esims import EsimSummary, esims_of
from travelsim.settings import Settings

GB = 1_073_741_824
MB = 1_048_576
NOW = datetime(2026, 7, 5, 12, 0, tzinfo=UTC)


@pytest.fixture
async def world(sqlite_db: Settings) -> AsyncIterator[dict[str, int]]:
    async with db.session() as s:
        ana = User(email="ana@example.com", password_hash="x")
        bob = User(email="bob@example.com", password_hash="x")
        s.add_all([ana, bob])
        await s.flush()
        assert ana.id and bob.id

        def esim(n: int, owner: int, assigned: datetime, **kw: object) -> Esim:
            return Esim(
                iccid=f"89320700000000000{n:02d}",
                endpoint_id=str(50000000 + n),
                state="assigned",
                user_id=owner,
                assigned_at=assigned,
                **kw,  # type: ignore[arg-type]
            )

        e1 = esim(1, ana.id, datetime(2026, 7, 1, tzinfo=UTC), destination="FR")
        e2 = esim(2, ana.id, datetime(2026, 7, 2, tzinfo=UTC), nickname="Spare")
        e3 = esim(3, ana.id, datetime(2026, 6, 1, tzinfo=UTC))
        e4 = esim(4, bob.id, datetime(2026, 7, 1, tzinfo=UTC))
        s.add_all([e1, e2, e3, e4])
        await s.flush()
        assert e1.id and e2.id and e3.id and e4.id
        a_start = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
        s.add_all(
            [
                EsimAddon(
                    esim_id=e1.id,
                    unique_id="7000001",
                    plan_id="870101",
                    plan_name="France 1 GB 7 days",
                    status="active",
                    activated_by="on_usage",
                    priority=1,
                    validity_days=7,
                    subscribed_at=datetime(2026, 6, 30, tzinfo=UTC),
                    started_at=a_start,
                    expires_at=a_start + timedelta(days=7),
                    initial_bytes=GB,
                    remaining_bytes=300 * MB,
                    used_bytes=724 * MB,
                    figures_at=datetime(2026, 7, 5, 11, 30, tzinfo=UTC),
                ),
                EsimAddon(
                    esim_id=e1.id,
                    unique_id="7000002",
                    plan_id="870102",
                    plan_name="France 5 GB 30 days",
                    status="waiting",
                    activated_by="on_usage",
                    priority=1,
                    validity_days=30,
                    subscribed_at=datetime(2026, 7, 2, tzinfo=UTC),
                    initial_bytes=5 * GB,
                    remaining_bytes=5 * GB,
                    used_bytes=0,
                ),
                EsimAddon(
                    esim_id=e1.id,
                    unique_id="7000000",
                    plan_id="870101",
                    status="expired",
                    activated_by="on_usage",
                    subscribed_at=datetime(2026, 6, 1, tzinfo=UTC),
                    started_at=datetime(2026, 6, 1, tzinfo=UTC),
                    expires_at=datetime(2026, 6, 8, tzinfo=UTC),
                    initial_bytes=GB,
                    remaining_bytes=200 * MB,
                    used_bytes=824 * MB,
                ),
                UsageDay(esim_id=e1.id, day=date(2026, 7, 2), bytes=100 * MB),
                UsageDay(esim_id=e1.id, day=date(2026, 7, 3), bytes=300 * MB),
                UsageDay(esim_id=e1.id, day=date(2026, 7, 4), bytes=324 * MB),
                EsimSync(
                    esim_id=e1.id,
                    synced_at=datetime(2026, 7, 5, 11, 30, tzinfo=UTC),
                    endpoint_status="Active",
                    profile_status="installed",
                ),
                EsimSync(
                    esim_id=e3.id,
                    synced_at=datetime(2026, 7, 5, 6, 0, tzinfo=UTC),
                    endpoint_status="Suspended",
                    lifecycle_reason="1",
                    profile_status="released",
                ),
            ]
        )
        await s.commit()
        ids = {"ana": ana.id, "bob": bob.id, "e1": e1.id, "e2": e2.id, "e3": e3.id, "e4": e4.id}
    yield ids
    await db.async_engine().dispose()


async def test_dashboard_totals_validity_and_addons(world: dict[str, int]) -> None:
    async with db.session() as s:
        d = await esim_dashboard(s, user_id=world["ana"], esim_id=world["e1"], now=NOW)
    assert d is not None
    # live: 300 MB + 5 GB left of 1 GB + 5 GB; the expired add-on does not count.
    assert d.remaining_bytes == 300 * MB + 5 * GB
    assert d.total_bytes == 6 * GB
    assert d.used_bytes == 724 * MB
    assert d.percent_remaining == 88.2  # 5420 / 6144 = 88.216...%
    assert d.current is not None and d.current.unique_id == "7000001"
    assert d.expires_at == datetime(2026, 7, 8, 10, 0, tzinfo=UTC)  # 1 July 10:00 + 7 days
    assert d.time_left_seconds == 70 * 3600  # 5 July 12:00 -> 8 July 10:00
    assert (d.clock_starts, d.clock_started) == ("first_use", True)
    assert d.updated_at == datetime(2026, 7, 5, 11, 30, tzinfo=UTC)
    assert d.figures_age_seconds == 1800 and d.figures_stale is False
    assert [(a.unique_id, a.state, a.queue_position) for a in d.addons] == [
        ("7000001", "active", None),
        ("7000002", "waiting", 1),
        ("7000000", "expired", None),
    ]
    waiting = d.addons[1]
    assert waiting.started_at is None and waiting.expires_at is None
    assert waiting.time_left_seconds is None and waiting.clock_starts == "first_use"
    assert d.addons[0].percent_remaining == 29.2  # 300 / 1024 = 29.296...%, rounded down
    assert (d.install, d.qr_used, d.can_request_replacement) == ("installed", True, True)
    assert d.title == "eSIM ··0001" and d.destination == "FR"


async def test_daily_usage_series_and_projection(world: dict[str, int]) -> None:
    async with db.session() as s:
        d = await esim_dashboard(s, user_id=world["ana"], esim_id=world["e1"], now=NOW)
    assert d is not None
    # 30 UTC days, 6 June .. 5 July (the day of the last sync); no row = reported no usage.
    assert len(d.daily_usage) == 30
    assert d.daily_usage[0].day == date(2026, 6, 6) and d.daily_usage[-1].day == date(2026, 7, 5)
    assert sum(p.bytes for p in d.daily_usage) == 724 * MB
    assert d.daily_usage[-2].bytes == 324 * MB
    # pace = (100 + 300 + 324) / 3 MB/day; 300 MB left -> 900/724 days, before 8 July.
    assert d.projection is not None
    assert d.projection.days_left == pytest.approx(900 / 724)
    assert d.projection.before_expiry is True


async def test_unknown_is_not_zero(world: dict[str, int]) -> None:
    async with db.session() as s:
        never = await esim_dashboard(s, user_id=world["ana"], esim_id=world["e2"], now=NOW)
        synced_empty = await esim_dashboard(s, user_id=world["ana"], esim_id=world["e3"], now=NOW)
    assert never is not None and synced_empty is not None
    assert (never.remaining_bytes, never.total_bytes, never.percent_remaining) == (None,) * 3
    assert never.updated_at is None and never.figures_stale and never.daily_usage == []
    assert never.install == "unknown" and never.title == "Spare"
    assert never.data_state == "unknown"
    # synced, no add-on at all: genuinely nothing left (0 %), and said so
    assert (synced_empty.remaining_bytes, synced_empty.total_bytes) == (0, 0)
    assert synced_empty.percent_remaining == 0.0 and synced_empty.data_state == "no_plan"
    assert synced_empty.figures_stale is True  # 6 h old > 3 h
    assert synced_empty.endpoint_status == "Suspended" and synced_empty.lifecycle_reason == "1"
    assert synced_empty.install == "ready" and not synced_empty.can_request_replacement


async def test_unknown_figure_of_a_live_addon_makes_the_total_unknown(
    world: dict[str, int],
) -> None:
    async with db.session() as s:
        s.add(
            EsimAddon(
                esim_id=world["e1"],
                unique_id="7000003",
                plan_id="870102",
                status="waiting",
                initial_bytes=None,
                remaining_bytes=None,
            )
        )
        await s.commit()
        d = await esim_dashboard(s, user_id=world["ana"], esim_id=world["e1"], now=NOW)
    assert d is not None
    assert d.remaining_bytes is None and d.total_bytes is None and d.percent_remaining is None


async def test_expiry_by_clock(world: dict[str, int]) -> None:
    later = datetime(2026, 7, 8, 10, 0, tzinfo=UTC)  # the active add-on's expiry
    async with db.session() as s:
        d = await esim_dashboard(s, user_id=world["ana"], esim_id=world["e1"], now=later)
    assert d is not None
    states = {a.unique_id: a.state for a in d.addons}
    assert states["7000001"] == "expired"
    assert d.current is not None and d.current.unique_id == "7000002"
    assert d.remaining_bytes == 5 * GB and d.clock_started is False and d.expires_at is None
    assert d.projection is None


async def test_other_users_see_nothing(world: dict[str, int]) -> None:
    async with db.session() as s:
        assert await esim_dashboard(s, user_id=world["bob"], esim_id=world["e1"], now=NOW) is None
        assert await esim_dashboard(s, user_id=world["ana"], esim_id=world["e4"], now=NOW) is None
        assert await esim_dashboard(s, user_id=world["ana"], esim_id=999, now=NOW) is None
        assert await rename_esim(s, user_id=world["bob"], esim_id=world["e1"], nickname="x") is None
        assert (
            await request_replacement(s, user_id=world["bob"], esim_id=world["e1"], reason="x")
            is None
        )


async def test_list_view(world: dict[str, int]) -> None:
    async with db.session() as s:
        rows = await esims_of(s, world["ana"], now=NOW)
    assert [r.esim_id for r in rows] == [world["e2"], world["e1"], world["e3"]]  # newest first
    by_id = {r.esim_id: r for r in rows}
    e1 = by_id[world["e1"]]
    assert (e1.state, e1.remaining_bytes, e1.total_bytes, e1.percent_remaining) == (
        "active",
        300 * MB + 5 * GB,
        6 * GB,
        88.2,
    )
    assert e1.expires_at == datetime(2026, 7, 8, 10, 0, tzinfo=UTC) and e1.install == "installed"
    assert by_id[world["e2"]].state == "unknown" and by_id[world["e2"]].remaining_bytes is None
    assert by_id[world["e3"]].state == "suspended"
    async with db.session() as s:
        assert await esims_of(s, world["bob"], now=NOW) != []
        assert all(r.esim_id == world["e4"] for r in await esims_of(s, world["bob"], now=NOW))


async def test_rename(world: dict[str, int]) -> None:
    async with db.session() as s:
        name = await rename_esim(
            s, user_id=world["ana"], esim_id=world["e1"], nickname="  Trip   to  Lyon "
        )
        assert name == "Trip to Lyon"
        assert await rename_esim(s, user_id=world["ana"], esim_id=world["e1"], nickname="x" * 40)
        for bad in ("", "   ", "x" * 41, "tab\u0000stop"):
            with pytest.raises(NicknameError):
                await rename_esim(s, user_id=world["ana"], esim_id=world["e1"], nickname=bad)
    async with db.session() as s:
        esim = await s.get(Esim, world["e1"])
        assert esim is not None and esim.nickname == "x" * 40


async def test_replacement_request_is_idempotent(world: dict[str, int]) -> None:
    async with db.session() as s:
        first = await request_replacement(
            s, user_id=world["ana"], esim_id=world["e1"], reason="QR does not work any more"
        )
        again = await request_replacement(
            s, user_id=world["ana"], esim_id=world["e1"], reason="still broken"
        )
        assert first is not None and again is not None and first.id == again.id
        d = await esim_dashboard(s, user_id=world["ana"], esim_id=world["e1"], now=NOW)
        assert d is not None and d.replacement_open and not d.can_request_replacement
        row = await s.get(ReplacementRequest, first.id)
        assert row is not None and row.status == "open" and row.user_id == world["ana"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("released", "ready"),
        ("downloaded", "downloaded"),
        ("Installed", "installed"),
        ("enabled", "installed"),
        ("disabled", "installed"),
        ("deleted", "deleted"),
        ("error", "error"),
        (None, "unknown"),
        ("-", "unknown"),
    ],
)
def test_install_state(raw: str | None, expected: str) -> None:
    assert install_state(raw) == expected


# ---------------------------------------------------------------- data state at every edge
async def _esim_with(
    world: dict[str, int],
    n: int,
    addons: list[dict[str, object]],
    *,
    synced: bool = True,
    profile_status: str | None = None,
) -> int:
    """A new eSIM of ana's with ``addons`` (EsimAddon fields) stored, synced at 11:30 or never."""
    async with db.session() as s:
        esim = Esim(
            iccid=f"89320700000000001{n:02d}",
            endpoint_id=str(50000100 + n),
            state="assigned",
            user_id=world["ana"],
            assigned_at=datetime(2026, 7, 3, tzinfo=UTC),
        )
        s.add(esim)
        await s.flush()
        assert esim.id is not None
        for i, fields in enumerate(addons):
            values: dict[str, object] = {
                "unique_id": f"8{n:02d}{i:04d}",
                "plan_id": "870101",
                "plan_name": "France 1 GB 7 days",
                "activated_by": "on_usage",
                "validity_days": 7,
                "priority": 1,
                "subscribed_at": datetime(2026, 6, 20, tzinfo=UTC) + timedelta(days=i),
                "initial_bytes": GB,
            }
            values.update(fields)
            s.add(EsimAddon(esim_id=esim.id, **values))  # type: ignore[arg-type]
        if synced:
            s.add(
                EsimSync(
                    esim_id=esim.id,
                    synced_at=datetime(2026, 7, 5, 11, 30, tzinfo=UTC),
                    endpoint_status="Active",
                    profile_status=profile_status,
                )
            )
        await s.commit()
        return esim.id


async def _both(world: dict[str, int], esim_id: int) -> tuple[Dashboard, EsimSummary]:
    async with db.session() as s:
        d = await esim_dashboard(s, user_id=world["ana"], esim_id=esim_id, now=NOW)
        rows = await esims_of(s, world["ana"], now=NOW)
    assert d is not None
    (summary,) = [r for r in rows if r.esim_id == esim_id]
    return d, summary


START = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
RUNNING = {
    "status": "active",
    "started_at": START,
    "expires_at": START + timedelta(days=7),  # 8 July 10:00, after NOW
}


async def test_never_reported_is_unknown_everywhere(world: dict[str, int]) -> None:
    eid = await _esim_with(world, 1, [], synced=False)
    d, summary = await _both(world, eid)
    assert d.data_state == summary.data_state == "unknown"
    assert (d.remaining_bytes, d.total_bytes, d.percent_remaining) == (None, None, None)
    assert d.last_plan is None and d.current is None
    assert summary.percent_remaining is None


async def test_live_figures(world: dict[str, int]) -> None:
    eid = await _esim_with(world, 2, [{**RUNNING, "remaining_bytes": 300 * MB}])
    d, summary = await _both(world, eid)
    assert d.data_state == summary.data_state == "live"
    assert (d.remaining_bytes, d.total_bytes) == (300 * MB, GB)
    assert d.percent_remaining == 29.2  # 300 / 1024 = 29.296 %, rounded down


async def test_a_live_plan_with_an_unknown_figure_is_unknown(world: dict[str, int]) -> None:
    eid = await _esim_with(world, 3, [{**RUNNING, "remaining_bytes": None}])
    d, summary = await _both(world, eid)
    assert d.data_state == summary.data_state == "unknown"
    assert d.percent_remaining is None


async def test_nothing_left_is_used_up_not_zero_of_zero(world: dict[str, int]) -> None:
    # The stored status is still "active" but 0 bytes are left: used up (platform precedence).
    eid = await _esim_with(world, 4, [{**RUNNING, "remaining_bytes": 0, "used_bytes": GB}])
    d, summary = await _both(world, eid)
    assert d.data_state == summary.data_state == "used_up"
    assert d.remaining_bytes == 0 and d.percent_remaining == 0.0  # known: nothing left
    assert d.last_plan is not None and d.last_plan.state == "used_up"
    assert d.current is None and not d.has_live_addons
    assert summary.percent_remaining == 0.0 and summary.ended_at is None


async def test_more_used_than_the_plan_held_is_used_up(world: dict[str, int]) -> None:
    eid = await _esim_with(
        world,
        5,
        [{**RUNNING, "status": "used_up", "remaining_bytes": 0, "used_bytes": GB + 200 * MB}],
    )
    d, summary = await _both(world, eid)
    assert d.data_state == summary.data_state == "used_up"
    assert d.remaining_bytes == 0 and d.percent_remaining == 0.0
    assert d.last_plan is not None and d.last_plan.used_bytes == GB + 200 * MB


async def test_expired_by_the_clock(world: dict[str, int]) -> None:
    expiry = datetime(2026, 7, 5, 9, 0, tzinfo=UTC)  # before NOW (12:00)
    eid = await _esim_with(
        world,
        6,
        [{**RUNNING, "expires_at": expiry, "remaining_bytes": 400 * MB, "used_bytes": 624 * MB}],
    )
    d, summary = await _both(world, eid)
    assert d.data_state == summary.data_state == "expired"
    assert d.remaining_bytes == 0 and d.percent_remaining == 0.0  # unused data is gone
    assert d.last_plan is not None and d.last_plan.expires_at == expiry
    assert summary.ended_at == expiry and summary.expires_at is None
    assert d.expires_at is None and d.time_left_seconds is None


async def test_the_plan_that_ran_last_names_the_ending(world: dict[str, int]) -> None:
    # First plan expired on 28 June, the second (subscribed a day later) was used up after.
    eid = await _esim_with(
        world,
        7,
        [
            {
                "status": "expired",
                "started_at": datetime(2026, 6, 21, tzinfo=UTC),
                "expires_at": datetime(2026, 6, 28, tzinfo=UTC),
                "remaining_bytes": 10 * MB,
            },
            {
                "status": "used_up",
                "started_at": datetime(2026, 6, 28, tzinfo=UTC),
                "expires_at": datetime(2026, 7, 5, tzinfo=UTC),
                "remaining_bytes": 0,
                "used_bytes": GB,
            },
        ],
    )
    d, summary = await _both(world, eid)
    assert d.data_state == summary.data_state == "used_up"
    assert d.last_plan is not None and d.last_plan.unique_id == "8070001"


async def test_removed_plans_or_none_at_all_mean_no_plan(world: dict[str, int]) -> None:
    removed = await _esim_with(world, 8, [{"status": "deactivated", "remaining_bytes": GB}])
    nothing = await _esim_with(world, 9, [])
    for eid in (removed, nothing):
        d, summary = await _both(world, eid)
        assert d.data_state == summary.data_state == "no_plan"
        assert d.percent_remaining == 0.0 and d.remaining_bytes == 0


async def test_a_plan_the_platform_stopped_listing_is_unknown(world: dict[str, int]) -> None:
    eid = await _esim_with(world, 10, [{"status": "unknown", "remaining_bytes": 500 * MB}])
    d, summary = await _both(world, eid)
    assert d.data_state == summary.data_state == "unknown"
    assert d.percent_remaining is None


async def test_a_waiting_plan_keeps_the_esim_live(world: dict[str, int]) -> None:
    eid = await _esim_with(
        world,
        11,
        [
            {**RUNNING, "status": "used_up", "remaining_bytes": 0, "used_bytes": GB},
            {"status": "waiting", "remaining_bytes": 5 * GB, "initial_bytes": 5 * GB},
        ],
    )
    d, summary = await _both(world, eid)
    assert d.data_state == summary.data_state == "live"
    assert (d.remaining_bytes, d.total_bytes, d.percent_remaining) == (5 * GB, 5 * GB, 100.0)


@pytest.mark.parametrize(
    ("profile_status", "problem", "offered"),
    [
        ("released", False, False),
        ("downloaded", False, True),
        ("installed", False, True),
        ("enabled", False, True),
        ("deleted", True, True),
        ("error", True, True),
    ],
)
async def test_only_a_deleted_or_failed_profile_is_a_problem(
    world: dict[str, int], profile_status: str, problem: bool, offered: bool
) -> None:
    eid = await _esim_with(world, 12, [], profile_status=profile_status)
    d, _ = await _both(world, eid)
    assert d.install_problem is problem
    assert d.can_request_replacement is offered
