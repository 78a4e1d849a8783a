"""Notification rules (``services.notifications`` docstring) and unsubscribe tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr

from travelsim.models import Esim, EsimAddon
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
    out = n.due_notices(
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
