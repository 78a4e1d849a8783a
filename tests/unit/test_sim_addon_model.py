"""Pure add-on life model (travelsim.sft_simulator.addons.replay), values computed by hand."""

from __future__ import annotations

from travelsim.sft_simulator.addons import (
    ACTIVE,
    DEACTIVATED,
    EXHAUSTED,
    EXPIRED,
    SUBSCRIBED,
    Instance,
    UsageEvent,
    replay,
)

GB = 1_073_741_824
MB = 1_048_576
DAY = 86_400.0
T0 = 1_700_000_000.0


def inst(
    uid: int,
    volume: int,
    days: int,
    by: str = "0",
    prio: int = 1,
    sub: float = T0,
    removed: float | None = None,
) -> Instance:
    return Instance(uid, f"p{uid}", f"plan {uid}", volume, days, by, prio, sub, removed)


def by_uid(result):  # type: ignore[no-untyped-def]
    return {s.instance.unique_id: s for s in result.states}


def test_on_usage_waits_then_starts_at_first_byte() -> None:
    r = replay([inst(1, GB, 7)], [], activated_at=T0, now=T0 + 100)
    s = by_uid(r)[1]
    assert (s.status, s.started_at, s.expires_at, s.remaining) == (SUBSCRIBED, None, None, GB)
    r = replay([inst(1, GB, 7)], [UsageEvent(T0 + 50, 100 * MB)], T0, T0 + 100)
    s = by_uid(r)[1]
    assert s.status == ACTIVE and s.started_at == T0 + 50
    assert s.expires_at == T0 + 50 + 7 * 86_400
    assert s.remaining == 1_073_741_824 - 104_857_600 == 968_884_224
    assert r.billed == [104_857_600]


def test_immediate_starts_at_subscription_or_first_activation() -> None:
    s = by_uid(replay([inst(1, 100 * MB, 1, by="1")], [], T0 - 10, T0 + 1))[1]
    assert s.status == ACTIVE and s.started_at == T0 and s.expires_at == T0 + DAY
    # subscribed while Pre-Active (never activated): waits
    s = by_uid(replay([inst(1, 100 * MB, 1, by="1")], [], None, T0 + 1))[1]
    assert s.status == SUBSCRIBED
    # activated an hour after subscription: starts then
    s = by_uid(replay([inst(1, 100 * MB, 1, by="1")], [], T0 + 3600, T0 + 4000))[1]
    assert s.started_at == T0 + 3600 and s.expires_at == T0 + 3600 + DAY


def test_priority_beats_age_and_age_breaks_ties() -> None:
    old_low = inst(1, GB, 30, by="1", prio=2, sub=T0)
    new_high = inst(2, GB, 30, by="1", prio=1, sub=T0 + 10)
    old_same = inst(3, GB, 30, by="1", prio=1, sub=T0 + 5)
    r = replay([old_low, new_high, old_same], [UsageEvent(T0 + 20, GB + 10 * MB)], T0, T0 + 30)
    s = by_uid(r)
    # priority 1 first, oldest of those (uid 3, subscribed T0+5) before uid 2.
    assert s[3].remaining == 0 and s[3].status == EXHAUSTED
    assert s[2].remaining == GB - 10 * MB
    assert s[1].remaining == GB


def test_started_addons_drain_before_waiting_on_usage_starts() -> None:
    waiting = inst(1, GB, 7, by="0", sub=T0)  # older, On Usage
    immediate = inst(2, 3 * GB, 30, by="1", sub=T0 + 1)
    r = replay([waiting, immediate], [UsageEvent(T0 + 2, MB)], T0, T0 + 3)
    s = by_uid(r)
    assert s[1].status == SUBSCRIBED and s[2].remaining == 3 * GB - MB


def test_waiting_starts_after_exhaustion_within_one_event() -> None:
    a = inst(1, GB, 7, sub=T0)
    b = inst(2, 3 * GB, 15, sub=T0 + 1)
    r = replay([a, b], [UsageEvent(T0 + 10, GB + GB // 2)], T0, T0 + 20)
    s = by_uid(r)
    assert s[1].status == EXHAUSTED and s[1].used == GB
    assert s[2].status == ACTIVE and s[2].started_at == T0 + 10
    assert s[2].remaining == 3 * GB - 536_870_912 == 2_684_354_560


def test_waiting_starts_after_expiry() -> None:
    a = inst(1, 100 * MB, 1, by="1", sub=T0)
    b = inst(2, GB, 7, sub=T0)
    events = [UsageEvent(T0 + 5, 10 * MB), UsageEvent(T0 + DAY + 60, 5 * MB)]
    s = by_uid(replay([a, b], events, T0, T0 + DAY + 120))
    assert s[1].status == EXPIRED and s[1].remaining == 94_371_840
    assert s[2].status == ACTIVE and s[2].started_at == T0 + DAY + 60
    assert s[2].remaining == GB - 5 * MB


def test_expiry_boundary_is_exact() -> None:
    a = inst(1, GB, 7, by="1")
    assert by_uid(replay([a], [], T0, T0 + 7 * DAY - 0.001))[1].status == ACTIVE
    assert by_uid(replay([a], [], T0, T0 + 7 * DAY))[1].status == EXPIRED


def test_unbilled_when_nothing_left_and_removed_addons_ignored() -> None:
    a = inst(1, 100 * MB, 1, by="1", removed=T0 + 10)
    b = inst(2, 100 * MB, 1, by="1")
    r = replay([a, b], [UsageEvent(T0 + 20, 150 * MB)], T0, T0 + 30)
    s = by_uid(r)
    assert s[1].status == DEACTIVATED and s[1].remaining == 100 * MB
    assert s[2].status == EXHAUSTED
    assert r.billed == [100 * MB]
    assert r.live_count() == 0


def test_addon_subscribed_after_traffic_is_not_used_by_it() -> None:
    late = inst(1, GB, 7, sub=T0 + 100)
    r = replay([late], [UsageEvent(T0 + 50, MB)], T0, T0 + 200)
    assert r.billed == [0] and by_uid(r)[1].status == SUBSCRIBED
