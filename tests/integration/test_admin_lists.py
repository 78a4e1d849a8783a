"""Admin lists page on the server (LIMIT/OFFSET plus a count, never every row), filter and
sort, and the overview figures, against a real database (SQLite; PostgreSQL for orders).

Expected counts and orders come from the rows the tests insert themselves."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event
from sqlmodel import select

from travelsim import db
from travelsim.models import (
    AuditLog,
    Checkout,
    Esim,
    JobRun,
    Order,
    OutboxEmail,
    Payment,
    Plan,
    ReplacementRequest,
    User,
)
from travelsim.services import admin
from travelsim.services.admin.base import MAX_PER_PAGE
from travelsim.settings import Settings


class Statements:
    """Collects the SQL sent to the database while active."""

    def __init__(self) -> None:
        self.sql: list[str] = []

    def __enter__(self) -> Statements:
        event.listen(db.async_engine().sync_engine, "before_cursor_execute", self._on)
        return self

    def __exit__(self, *exc: Any) -> None:
        event.remove(db.async_engine().sync_engine, "before_cursor_execute", self._on)

    def _on(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.sql.append(statement)


async def seed_orders(n: int, *, start: datetime) -> list[str]:
    """``n`` orders, one per user and eSIM, created one hour apart from ``start``; every
    third one needs attention. Returns the references in creation order."""
    refs: list[str] = []
    async with db.session() as s:
        s.add(
            Plan(
                plan_id="870101",
                sft_name="France 1 GB 7 days",
                volume_bytes=1 << 30,
                validity_days=7,
                activated_by="on_usage",
            )
        )
        await s.flush()
        for i in range(n):
            user = User(email=f"t{i:02d}@example.com", password_hash="x")
            s.add(user)
            await s.flush()
            assert user.id is not None
            esim = Esim(
                iccid=f"89320751000000{i:05d}",
                endpoint_id=f"5{i:07d}",
                state="assigned",
                user_id=user.id,
            )
            s.add(esim)
            await s.flush()
            assert esim.id is not None
            checkout = Checkout(
                id=str(uuid.uuid4()),
                user_id=user.id,
                plan_id="870101",
                amount_minor=450,
                currency="EUR",
                status="paid",
            )
            s.add(checkout)
            await s.flush()
            payment = Payment(
                checkout_id=checkout.id,
                idempotency_key=checkout.id,
                provider="demo",
                amount_minor=450 + i,
                currency="EUR",
                status="succeeded",
            )
            s.add(payment)
            await s.flush()
            assert payment.id is not None
            ref = f"TS-{i:06d}"
            refs.append(ref)
            s.add(
                Order(
                    id=str(uuid.uuid4()),
                    reference=ref,
                    checkout_id=checkout.id,
                    user_id=user.id,
                    plan_id="870101",
                    esim_id=esim.id,
                    payment_id=payment.id,
                    status="needs_attention" if i % 3 == 0 else "delivered",
                    amount_minor=450 + i,
                    currency="EUR",
                    created_at=start + timedelta(hours=i),
                    updated_at=start + timedelta(hours=i),
                )
            )
        await s.commit()
    return refs


async def test_orders_page_filter_and_sort(any_db: Settings, dispose_engines: None) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    refs = await seed_orders(25, start=start)
    async with db.session() as s:
        with Statements() as seen:
            first = await admin.list_orders(s, per_page=10)
        page3 = await admin.list_orders(s, per_page=10, page=3)
        attention = await admin.list_orders(s, status="needs_attention", per_page=100)
        by_amount = await admin.list_orders(s, sort="amount", desc=False, per_page=3)
        by_email = await admin.list_orders(s, traveler="T07@", per_page=5)
        by_iccid = await admin.list_orders(s, iccid="00012", per_page=5)
        one_day = await admin.list_orders(
            s, date_from=start.date(), date_to=start.date(), per_page=50
        )
    assert (first.total, first.pages, len(first.rows)) == (25, 3, 10)
    assert [r["reference"] for r in first.rows] == list(reversed(refs))[:10]  # newest first
    assert [r["reference"] for r in page3.rows] == list(reversed(refs))[20:]
    assert attention.total == len(range(0, 25, 3))
    assert [r["reference"] for r in by_amount.rows] == refs[:3]
    assert [r["reference"] for r in by_email.rows] == ["TS-000007"]
    assert [r["reference"] for r in by_iccid.rows] == ["TS-000012"]
    assert one_day.total == 24  # hours 0..23 of March 1st
    selects = [q for q in seen.sql if q.lstrip().upper().startswith("SELECT")]
    assert any("count(" in q.lower() for q in selects)
    assert all("LIMIT" in q.upper() for q in selects if "count(" not in q.lower())


async def test_audit_outbox_travelers_esims_plans_page(sqlite_db: Settings) -> None:
    await seed_orders(12, start=datetime(2026, 3, 1, tzinfo=UTC))
    async with db.session() as s:
        for i in range(23):
            s.add(
                AuditLog(
                    actor="cli" if i % 2 else "boss@example.com",
                    action="staff.grant" if i < 20 else "plan.update",
                    target_type="user",
                    target_id=str(i),
                    result="ok",
                    detail=f"row {i}",
                    at=datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=i),
                )
            )
            s.add(
                OutboxEmail(
                    kind="verify" if i % 2 else "installation",
                    to_address=f"t{i:02d}@example.com",
                    subject="s",
                    body_text="b",
                    status="sent" if i < 5 else "queued",
                )
            )
        await s.commit()
    async with db.session() as s:
        audit = await admin.list_audit(s, page=2, per_page=10)
        plan_updates = await admin.list_audit(s, action="plan.")
        by_actor = await admin.list_audit(s, actor="boss")
        sent = await admin.list_outbox(s, status="sent")
        installs = await admin.list_outbox(s, kind="installation", per_page=5)
        travelers = await admin.list_travelers(s, email_query="t1", sort="email", desc=False)
        esims = await admin.list_esims(s, query_text="00000005")
        esims_by_endpoint = await admin.list_esims(s, query_text="50000011")
        plans = await admin.list_plans(s)
        huge = await admin.list_audit(s, per_page=10_000)
    assert (audit.total, [r["detail"] for r in audit.rows][:2]) == (23, ["row 12", "row 11"])
    assert plan_updates.total == 3
    assert by_actor.total == 12
    assert sent.total == 5
    assert (installs.total, len(installs.rows)) == (12, 5)
    assert [r["email"] for r in travelers.rows] == ["t10@example.com", "t11@example.com"]
    assert [r["iccid"] for r in esims.rows] == ["8932075100000000005"]
    assert [r["endpoint_id"] for r in esims_by_endpoint.rows] == ["50000011"]
    assert [r["plan_id"] for r in plans.rows] == ["870101"]
    assert len(huge.rows) == 23 and huge.per_page == MAX_PER_PAGE


async def test_overview_figures(sqlite_db: Settings) -> None:
    now = datetime.now(UTC)
    refs = await seed_orders(4, start=now - timedelta(hours=30))  # 2 yesterday-ish, 2 recent
    del refs
    async with db.session() as s:
        s.add(Esim(iccid="8932075100000099999", endpoint_id="59999999", state="free"))
        esim_id = (await s.exec(select(Esim.id))).first()
        user_id = (await s.exec(select(User.id))).first()
        assert esim_id is not None and user_id is not None
        s.add(ReplacementRequest(esim_id=esim_id, user_id=user_id, reason="deleted"))
        s.add(
            JobRun(
                job="usage_sync",
                started_at=now - timedelta(seconds=30),
                finished_at=now - timedelta(seconds=29),
                duration_ms=900,
                calls=12,
                rate_limited=1,
                oldest_figure_age_seconds=600,
            )
        )
        s.add(
            JobRun(
                job="inventory",
                started_at=now - timedelta(seconds=20),
                finished_at=now - timedelta(seconds=19),
                ok=False,
                error="RuntimeError: boom",
            )
        )
        await s.commit()
    async with db.session() as s:
        view = await admin.overview(s, now=now)
    created = [now - timedelta(hours=30) + timedelta(hours=i) for i in range(4)]
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    in_today = [i for i, c in enumerate(created) if c >= today]
    assert view.orders_today == len(in_today)
    assert view.free_esims == 1
    assert view.needs_attention == 2  # orders 0 and 3
    assert view.open_replacements == 1
    assert view.revenue_30d == ["€18.06"]  # 450 + 451 + 452 + 453 cents
    jobs = {j["job"]: j for j in view.jobs}
    assert jobs["usage_sync"]["health"] == "degraded"  # one 429
    assert jobs["usage_sync"]["staleness"] == "10 min"
    assert jobs["inventory"]["health"] == "failing"
