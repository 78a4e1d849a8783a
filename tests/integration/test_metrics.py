# ruff: noqa: F811  (pytest fixtures imported from other test modules)
"""GET /metrics (travelsim.routes.metrics, services.monitoring, travelsim.metrics): the
figures after a real purchase against the simulator and localstripe match the database and
the purchase's four steps; webhook lag and sync staleness from known times; who may read it;
request ids and JSON logs (travelsim.logs)."""

from __future__ import annotations

import io
import json
import logging
import time
from datetime import timedelta

import httpx
import pytest
from checkout_support import add_user, buy, sft_clients, sim_factory  # noqa: F401 - fixtures
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlmodel import func, select
from test_stripe_webhooks import WEBHOOK, World, world  # noqa: F401 - fixture

from tests.stripe_support import event_payload, signed_event_headers
from travelsim import db, logs
from travelsim.models import Esim, EsimSync, InventoryState, JobRun, Order, utcnow
from travelsim.routes.app import build_routes_app
from travelsim.services import provisioning
from travelsim.settings import Settings, get_settings

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
TOKEN = "m" * 40


async def scrape(http: httpx.AsyncClient, **headers: str) -> Samples:
    response = await http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.status_code
    assert response.headers["cache-control"] == "no-store"
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def delta(after: Samples, before: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def test_a_purchase_shows_in_the_metrics(sqlite_db: Settings, world: World) -> None:
    before = await scrape(world.http)
    outcome = await buy(await add_user(), world.client)
    assert outcome.order_id
    order = await provisioning.run_order(outcome.order_id, client=world.client)
    assert order.status == "delivered"
    created = int(time.time()) - 90  # an event Stripe made 90 s ago, about an unknown PI
    body = event_payload(
        "payment_intent.canceled", {"id": "pi_unknown", "object": "payment_intent"}, created=created
    )
    sent = await world.http.post(
        WEBHOOK, content=body, headers=signed_event_headers(body, world.secret)
    )
    assert sent.status_code == 200
    after = await scrape(world.http)

    async with db.session() as s:
        delivered = (
            await s.exec(select(func.count()).select_from(Order).where(Order.status == "delivered"))
        ).one()
        free = (
            await s.exec(
                select(func.count()).select_from(Esim).where(Esim.state == InventoryState.FREE)
            )
        ).one()
    assert value(after, "travelsim_orders", status="delivered") == delivered == 1
    assert value(after, "travelsim_free_esims") == free
    for step in ("activate", "subscribe", "fetch_code", "deliver"):  # docs/architecture.md
        assert (
            delta(
                after,
                before,
                "travelsim_provisioning_step_seconds_count",
                step=step,
                outcome="done",
            )
            == 1
        )
    assert delta(after, before, "travelsim_sft_calls_total", operation="fetchSIM", result="0") >= 1
    assert delta(after, before, "travelsim_sft_rate_budget_wait_seconds_count") >= 4
    assert delta(after, before, "travelsim_stripe_webhook_lag_seconds_count") == 1
    lag = delta(after, before, "travelsim_stripe_webhook_lag_seconds_sum")
    assert 90 <= lag < 150
    assert delta(after, before, "travelsim_stripe_webhook_lag_seconds_bucket", le="60.0") == 0
    assert delta(after, before, "travelsim_stripe_webhook_lag_seconds_bucket", le="300.0") == 1


async def test_staleness_and_job_runs_come_from_the_database(
    sqlite_db: Settings, world: World
) -> None:
    outcome = await buy(await add_user(), world.client)
    assert outcome.order_id
    await provisioning.run_order(outcome.order_id, client=world.client)
    now = utcnow()
    async with db.session() as s:
        esim_id = (await s.exec(select(Order.esim_id).where(Order.id == outcome.order_id))).one()
        s.add(EsimSync(esim_id=esim_id, synced_at=now - timedelta(hours=1)))
        s.add(
            JobRun(
                job="usage_sync",
                started_at=now - timedelta(minutes=2),
                finished_at=now,
                duration_ms=1500,
                ok=True,
            )
        )
        s.add(
            JobRun(
                job="usage_sync",
                started_at=now - timedelta(minutes=20),
                finished_at=now,
                ok=False,
                error="x",
            )
        )
        await s.commit()
    samples = await scrape(world.http)
    assert 3600 <= value(samples, "travelsim_usage_oldest_figure_age_seconds") < 3660
    assert value(samples, "travelsim_job_runs_total", job="usage_sync", ok="true") == 1
    assert value(samples, "travelsim_job_runs_total", job="usage_sync", ok="false") == 1
    assert value(samples, "travelsim_job_last_run_duration_seconds", job="usage_sync") == 1.5
    assert value(samples, "travelsim_job_last_run_ok", job="usage_sync") == 1
    started = value(samples, "travelsim_job_last_run_timestamp_seconds", job="usage_sync")
    assert started == pytest.approx((now - timedelta(minutes=2)).timestamp(), abs=1)


def _app(client: tuple[str, int] = ("127.0.0.1", 5000)) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=build_routes_app(), client=client)
    return httpx.AsyncClient(transport=transport, base_url="http://portal")


async def test_probe_metrics_are_not_public(
    sqlite_db: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without METRICS_TOKEN: 404 to a non-loopback client (and in production to anyone);
    with it: 401 without the exact bearer token."""
    async with _app(("203.0.113.7", 4000)) as http:
        assert (await http.get("/metrics")).status_code == 404
    monkeypatch.setattr(get_settings(), "metrics_token", SecretStr(TOKEN))
    async with _app() as http:
        refused = await http.get("/metrics")
        assert refused.status_code == 401 and refused.content == b""
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert (
            await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"})
        ).status_code == 401
        assert (await http.get("/metrics", headers={"Authorization": TOKEN})).status_code == 401
        await scrape(http, Authorization=f"Bearer {TOKEN}")
    monkeypatch.setattr(get_settings(), "metrics_token", None)
    monkeypatch.setattr(get_settings(), "app_env", "production")
    async with _app() as http:
        assert (await http.get("/metrics")).status_code == 404
    await db.async_engine().dispose()


async def test_request_id_is_kept_or_made_and_reaches_json_logs(sqlite_db: Settings) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.json_formatter())
    handler.addFilter(logs.ContextFilter())
    health = logging.getLogger("travelsim.routes.health")
    health.addHandler(handler)
    try:
        async with _app() as http:
            kept = await http.get("/healthz", headers={"X-Request-ID": "req-42.a"})
            made = await http.get("/healthz", headers={"X-Request-ID": "bad id\\n" + "x" * 80})
    finally:
        health.removeHandler(handler)
    await db.async_engine().dispose()
    assert kept.headers["x-request-id"] == "req-42.a"
    assert len(made.headers["x-request-id"]) == 32 and made.headers["x-request-id"] != "bad id"

    stream.truncate(0)
    stream.seek(0)
    health.addHandler(handler)
    token = logs.REQUEST_ID.set("req-7")
    order = logs.ORDER_ID.set("ord-9")
    try:
        health.warning("probe %s", "line", extra={"sft_operation": "fetchSIM"})
    finally:
        logs.ORDER_ID.reset(order)
        logs.REQUEST_ID.reset(token)
        health.removeHandler(handler)
    record = json.loads(stream.getvalue().splitlines()[-1])
    assert record["message"] == "probe line" and record["level"] == "WARNING"
    assert record["logger"] == "travelsim.routes.health" and isinstance(record["pid"], int)
    assert (record["request_id"], record["order_id"], record["sft_operation"]) == (
        "req-7",
        "ord-9",
        "fetchSIM",
    )
    assert record["time"].endswith("+0000")


async def test_order_id_is_in_the_context_of_a_provisioning_run() -> None:
    seen: list[str | None] = []

    @logs.with_order_id
    async def run(order_id: str) -> None:
        seen.append(logs.ORDER_ID.get())

    await run("ord-1")
    assert seen == ["ord-1"] and logs.ORDER_ID.get() is None
