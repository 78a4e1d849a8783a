"""Top-up rules (travelsim.services.topup) with values computed by hand from the documented
add-on life model (docs/simulator.md#add-on-life-model; docs/business-rules.md#add-on-life,
docs/business-rules.md#top-up-rules, docs/esim.md#f11-add-on-queue,
docs/esim.md#f12-top-up-arithmetic): 1 GB = 1,073,741,824 B, expiry = start + N days exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from travelsim.esim.addons import LIVE_ADDON_LIMIT, effective_status
from travelsim.models import EsimAddon, Plan
from travelsim.services.topup import check_topup_allowed, preview, preview_totals

GB = 1_073_741_824
MB = 1_048_576
NOW = datetime(2026, 7, 3, 9, 0, tzinfo=UTC)


def addon(
    uid: str,
    status: str,
    *,
    activated_by: str = "on_usage",
    priority: int | None = 1,
    subscribed: datetime = datetime(2026, 7, 1, 8, 0, tzinfo=UTC),
    started: datetime | None = None,
    days: int = 7,
    total: int | None = GB,
    remaining: int | None = GB,
    plan_id: str = "870101",
) -> EsimAddon:
    return EsimAddon(
        esim_id=1,
        unique_id=uid,
        plan_id=plan_id,
        plan_name=f"plan {plan_id}",
        status=status,
        activated_by=activated_by,
        priority=priority,
        validity_days=days,
        subscribed_at=subscribed,
        started_at=started,
        expires_at=started + timedelta(days=days) if started else None,
        initial_bytes=total,
        remaining_bytes=remaining,
        used_bytes=None if total is None or remaining is None else total - remaining,
    )


def plan(
    plan_id: str = "870102",
    *,
    gb: int = 5,
    days: int = 30,
    activated_by: str = "on_usage",
    priority: int = 1,
) -> Plan:
    return Plan(
        plan_id=plan_id,
        sft_name=f"plan {plan_id}",
        volume_bytes=gb * GB,
        validity_days=days,
        activated_by=activated_by,
        priority=priority,
    )


# A: France 1 GB / 7 days, On Usage, started 1 July 10:00 -> expires 8 July 10:00; 600 MB left.
A_START = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
A = addon("7000001", "active", started=A_START, remaining=600 * MB)


def by_ref(previews: list) -> dict:  # type: ignore[type-arg]
    return {p.unique_id or "new": p for p in previews}


def test_on_usage_topup_waits_behind_the_active_addon() -> None:
    out = preview([A], plan(), NOW)
    assert [p.unique_id for p in out] == ["7000001", None]
    a, new = out
    assert (a.state, a.order, a.starts) == ("active", 1, "started")
    assert a.expires_at == datetime(2026, 7, 8, 10, 0, tzinfo=UTC)  # unchanged
    assert a.remaining_bytes == 600 * MB
    assert new.is_new and new.state == "waiting" and new.order == 2
    assert new.starts == "after_previous" and new.waits_for == ("7000001",)
    assert new.started_at is None and new.expires_at is None and new.validity_days == 30
    assert new.remaining_bytes == new.total_bytes == 5 * GB
    # totals after: 600 MB + 5 GB left of 1 GB + 5 GB
    assert preview_totals(out) == (600 * MB + 5 * GB, 6 * GB)


def test_immediate_topup_starts_now_but_is_drawn_second() -> None:
    out = by_ref(preview([A], plan("870301", gb=3, days=30, activated_by="immediate"), NOW))
    new = out["new"]
    assert (new.state, new.starts, new.order) == ("active", "now", 2)
    assert new.started_at == NOW
    # 3 July 09:00 + 30 days = 2 August 09:00 UTC
    assert new.expires_at == datetime(2026, 8, 2, 9, 0, tzinfo=UTC)
    assert new.clock_runs_before_use is True  # its clock runs while A is drawn first
    assert out["7000001"].order == 1 and out["7000001"].clock_runs_before_use is False


def test_better_priority_immediate_is_drawn_first() -> None:
    out = by_ref(preview([A], plan("x", gb=1, days=1, activated_by="immediate", priority=0), NOW))
    assert out["new"].order == 1
    assert out["new"].expires_at == datetime(2026, 7, 4, 9, 0, tzinfo=UTC)
    assert out["7000001"].order == 2 and out["7000001"].clock_runs_before_use is True


def test_waiting_queue_by_priority_then_age() -> None:
    b = addon("7000002", "waiting", subscribed=datetime(2026, 7, 2, 8, 0, tzinfo=UTC))
    c = addon("7000003", "waiting", priority=0, subscribed=datetime(2026, 7, 2, 9, 0, tzinfo=UTC))
    # new (priority 0, youngest) goes after C (priority 0, older) but before B (priority 1).
    out = by_ref(preview([b, A, c], plan(priority=0), NOW))
    assert out["7000001"].order == 1
    assert out["7000003"].order == 2 and out["7000003"].waits_for == ("7000001",)
    assert out["new"].order == 3 and out["new"].waits_for == ("7000001", "7000003")
    assert out["7000002"].order == 4 and out["7000002"].waits_for == (
        "7000001",
        "7000003",
        "new",
    )
    # equal priority: the new one is the youngest, so it queues last
    out = by_ref(preview([b, A], plan(priority=1), NOW))
    assert out["7000002"].order == 2 and out["new"].order == 3


def test_ended_addons_are_not_shown_and_nothing_running_means_first_use() -> None:
    expired_by_clock = addon("1", "active", started=datetime(2026, 6, 1, tzinfo=UTC))  # 8 June
    used_up = addon("2", "used_up", started=A_START, remaining=0)
    removed = addon("3", "deactivated")
    out = preview([expired_by_clock, used_up, removed], plan(), NOW)
    assert len(out) == 1
    assert (out[0].is_new, out[0].starts, out[0].order, out[0].waits_for) == (
        True,
        "first_use",
        1,
        (),
    )


def test_immediate_on_pre_active_endpoint_starts_at_activation() -> None:
    out = preview([], plan(activated_by="immediate"), NOW, endpoint_status="Pre-Active")
    assert (out[0].state, out[0].starts, out[0].expires_at) == ("waiting", "at_activation", None)


def test_effective_status_used_up_wins_over_expired() -> None:
    a = addon("1", "active", started=datetime(2026, 6, 1, tzinfo=UTC), remaining=0)
    assert effective_status(a, NOW) == "used_up"
    a = addon("1", "active", started=A_START)
    assert effective_status(a, datetime(2026, 7, 8, 10, 0, tzinfo=UTC)) == "expired"
    assert effective_status(a, datetime(2026, 7, 8, 9, 59, 59, tzinfo=UTC)) == "active"


def _live(n: int) -> list[EsimAddon]:
    return [addon(str(7000100 + i), "waiting") for i in range(n)]


def test_fifteen_live_addons_refused_before_payment() -> None:
    d = check_topup_allowed(_live(LIVE_ADDON_LIMIT), "Active", None, now=NOW)
    assert (d.allowed, d.refusal, d.live_addons) == (False, "addon_limit", 15)
    ended = [addon("9", "expired"), addon("8", "used_up"), addon("7", "deactivated")]
    d = check_topup_allowed(_live(14) + ended, "Active", None, now=NOW)
    assert (d.allowed, d.live_addons) == (True, 14)
    # an "active" row whose expiry has passed no longer counts
    stale = addon("6", "active", started=datetime(2026, 6, 1, tzinfo=UTC))
    d = check_topup_allowed([*_live(14), stale], "Active", None, now=NOW)
    assert (d.allowed, d.live_addons) == (True, 14)


@pytest.mark.parametrize(
    ("status", "reason", "allowed", "resume", "refusal"),
    [
        ("Active", None, True, False, None),
        ("Active", "3", True, False, None),  # the reason of an old suspension is ignored
        ("Pre-Active", None, True, False, None),
        (None, None, True, False, None),
        ("Suspended", "1", True, True, None),  # System
        ("Suspended", "2", True, True, None),  # Dunning
        ("Suspended", "3", False, False, "suspended_by_staff"),  # CSR
        ("Suspended", None, False, False, "suspended_unknown"),
        ("Hold", None, False, False, "no_sim"),
    ],
)
def test_suspension_rules(
    status: str | None, reason: str | None, allowed: bool, resume: bool, refusal: str | None
) -> None:
    d = check_topup_allowed([A], status, reason, now=NOW)
    assert (d.allowed, d.resume_first, d.refusal) == (allowed, resume, refusal)
    if refusal in ("suspended_by_staff", "suspended_unknown", "no_sim"):
        assert d.message is not None and "contact support" in d.message.lower()


def test_staff_suspension_reported_before_the_limit() -> None:
    d = check_topup_allowed(_live(15), "Suspended", "3", now=NOW)
    assert d.refusal == "suspended_by_staff"
    d = check_topup_allowed(_live(15), "Suspended", "1", now=NOW)
    assert d.refusal == "addon_limit" and not d.allowed
