"""Notification rules (``services.notification_rules`` docstring) and unsubscribe tokens
(``services.notifications``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr

from travelsim.models import Esim, EsimAddon, Notification
from travelsim.services import notification_rules as rules
from travelsim.services import notifications as n
from travelsim.settings import Settings

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
GB = 1_073_741_824


def esim(**kw: object) -> Esim:
    values: dict[str, object] = {
        "id": 1,
        "iccid": "8932075100000000012",
        "endpoint_id": "50000001",
        "state": "assigned",
        "user_id": 9,
        "assigned_at": NOW - timedelta(hours=1),
    }
    values.update(kw)
    return Esim(**values)  # type: ignore[arg-type]


def addon(
    uid: str = "7000001",
    *,
    remaining: int | None,
    status: str = "active",
    expires: datetime | None = None,
) -> EsimAddon:
    return EsimAddon(
        esim_id=1,
        unique_id=uid,
        plan_id="870101",
        plan_name="France 1 GB",
        status=status,
        initial_bytes=GB,
        remaining_bytes=remaining,
        started_at=NOW - timedelta(days=1),
        expires_at=expires or NOW + timedelta(days=6),
    )


def due(
    addons: list[EsimAddon],
    existing: set[tuple[str, str, int]] | None = None,
    e: Esim | None = None,
    profile: str | None = "enabled",
) -> list[tuple[str, str, int]]:
    out = rules.due_notices(
        e or esim(),
        addons,
        existing or set(),
        profile_status=profile,
        now=NOW,
        data_percent=[80, 100],
        validity_hours=24,
        not_installed_days=3,
    )
    return [(c.addon_unique_id, c.kind, c.threshold) for c in out]


def test_data_thresholds() -> None:
    assert due([addon(remaining=GB // 2)]) == []
    assert due([addon(remaining=GB - (GB * 80 + 99) // 100)]) == [("7000001", "data_used", 80)]
    # A jump straight to 100 % gives one notice, the highest.
    assert due([addon(remaining=0)]) == [("7000001", "data_used", 100)]
    assert due([addon(remaining=0, status="used_up")]) == [("7000001", "data_used", 100)]
    # Once each; a lower threshold never comes after a higher one.
    assert due([addon(remaining=GB // 10)], {("7000001", "data_used", 80)}) == []
    assert due([addon(remaining=GB // 10)], {("7000001", "data_used", 100)}) == []
    # Unknown figures never notify; ended add-ons neither.
    assert due([addon(remaining=None)]) == []
    assert due([addon(remaining=0, expires=NOW - timedelta(minutes=1), status="expired")]) == []


def test_validity_ending() -> None:
    soon = addon(remaining=GB, expires=NOW + timedelta(hours=23))
    assert due([soon]) == [("7000001", "validity_ending", 24)]
    assert due([soon], {("7000001", "validity_ending", 24)}) == []
    assert due([addon(remaining=GB, expires=NOW + timedelta(hours=25))]) == []
    waiting = addon(remaining=GB, status="waiting", expires=NOW + timedelta(hours=1))
    assert due([waiting]) == []


def test_not_installed_after_n_days() -> None:
    old = esim(assigned_at=NOW - timedelta(days=3))
    assert due([], e=old, profile="released") == [("", "not_installed", 3)]
    assert due([], e=old, profile="installed") == []
    assert due([], e=old, profile=None) == []  # unknown: no reminder
    assert due([], e=esim(assigned_at=NOW - timedelta(days=2)), profile="released") == []
    assert due([], {("", "not_installed", 3)}, e=old, profile="released") == []


def test_unsubscribe_tokens(tmp_path: Path) -> None:
    s = Settings(_env_file=None, data_dir=tmp_path, secret_key=SecretStr("k1"))  # type: ignore[call-arg]
    token = n.unsubscribe_token(42, s)
    assert n.verify_unsubscribe_token(token, s) == 42
    assert n.verify_unsubscribe_token(token.replace("42.", "43.", 1), s) is None
    assert n.verify_unsubscribe_token(token[:-1] + ("A" if token[-1] != "A" else "B"), s) is None
    assert n.verify_unsubscribe_token("nonsense", s) is None
    other = Settings(_env_file=None, data_dir=tmp_path, secret_key=SecretStr("k2"))  # type: ignore[call-arg]
    assert n.verify_unsubscribe_token(token, other) is None
    url = n.unsubscribe_url(42, s)
    assert url.startswith(s.public_url) and url.endswith(token)
    # Without SECRET_KEY (demo) a key is generated once and reused.
    demo = Settings(_env_file=None, data_dir=tmp_path, app_env="demo")  # type: ignore[call-arg]
    assert n.verify_unsubscribe_token(n.unsubscribe_token(7, demo), demo) == 7
    assert (tmp_path / "signing.key").exists()


def _stacked(first: str, second: str) -> list[EsimAddon]:
    """Two stacked plans, subscribed one after the other (the second draws after the first)."""
    a = addon("7000001", remaining=0, status=first)
    b = addon("7000002", remaining=0 if second == "used_up" else GB, status=second)
    a.subscribed_at = NOW - timedelta(days=2)
    b.subscribed_at = NOW - timedelta(days=1)
    return [a, b]


def test_all_data_used_once_per_esim_not_per_plan() -> None:
    # Both stacked plans used up: one "all data used" notice, about the plan that ran last.
    assert due(_stacked("used_up", "used_up")) == [("7000002", "data_used", 100)]
    assert due(_stacked("used_up", "used_up"), {("7000002", "data_used", 100)}) == []
    # The first plan used up while the second still has data: the eSIM has not run out.
    assert due(_stacked("used_up", "active")) == []
    assert due(_stacked("used_up", "waiting")) == []
    # Run out again after a top-up (a third plan, used up too): a new notice.
    again = [*_stacked("used_up", "used_up"), addon("7000003", remaining=0, status="used_up")]
    again[2].subscribed_at = NOW
    assert due(again, {("7000002", "data_used", 100)}) == [("7000003", "data_used", 100)]
    # The last plan to run expired rather than used up: not "all data used".
    ended = _stacked("used_up", "expired")
    ended[1].expires_at = NOW - timedelta(hours=1)
    assert due(ended) == []


def _note(
    nid: int, uid: str, threshold: int, at: datetime, kind: str = "data_used"
) -> Notification:
    return Notification(
        id=nid,
        user_id=9,
        esim_id=1,
        addon_unique_id=uid,
        kind=kind,
        threshold=threshold,
        title="t",
        body="b",
        created_at=at,
    )


def test_running_out_notices_hidden_once_data_is_live_again() -> None:
    out = _note(1, "7000002", 100, NOW - timedelta(hours=2))
    low = _note(2, "7000001", 80, NOW - timedelta(hours=3))
    other = _note(3, "", 3, NOW - timedelta(hours=4), kind="not_installed")
    used = _stacked("used_up", "used_up")
    shown = [x.id for x in rules.visible([out, low, other], {1: used}, NOW)]
    assert shown == [1, 3]  # the 80 % notice is about a plan that is over
    topped = [*used, addon("7000003", remaining=GB)]
    assert [x.id for x in rules.visible([out, low, other], {1: topped}, NOW)] == [3]
    # 80 % of the plan that runs: shown, until another plan is bought.
    running = [addon("7000001", remaining=GB // 10)]
    assert [x.id for x in rules.visible([low], {1: running}, NOW)] == [2]
    more = [*running, addon("7000009", remaining=GB, status="waiting")]
    assert [x.id for x in rules.visible([low], {1: more}, NOW)] == []
    # Ran out twice: only the newest "all data used" notice.
    second = _note(4, "7000003", 100, NOW - timedelta(minutes=5))
    again = [*used, addon("7000003", remaining=0, status="used_up")]
    assert [x.id for x in rules.visible([second, out], {1: again}, NOW)] == [4]
