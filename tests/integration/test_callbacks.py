"""Platform callbacks end to end: the simulator's emitter POSTs data-stream batches (documented
shapes, docs/sft-platform.md#data-stream-events) or CallBackNotification envelopes (legacy
shapes, docs/sft-platform.md#callbacks) to the portal's ``POST /callbacks/sft`` served by
uvicorn on loopback; fast acknowledgement, idempotent processing, duplicates and out-of-order
arrival (newest figures win), batch size and no retries. Authentication and what the portal
does not understand: ``test_callbacks_unrecognised.py``.

Expected figures are the simulator's add-on details read with the tests' wire client."""

# ruff: noqa: F811  (pytest fixtures imported from the support module)

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jobs_support import (  # noqa: F401
    FR_1GB_7D,
    GB,
    MB,
    Receiver,
    api,
    client,
    engines,
    receiver,
    setup_esim,
    sim,
)
from sim_fixtures import SimApi, SimServer
from sqlmodel import col, select

from travelsim import db
from travelsim.models import CallbackEvent, Esim, EsimAddon, EsimSync
from travelsim.services import callbacks
from travelsim.services.jobs import metering, runs
from travelsim.settings import Settings, get_settings
from travelsim.sft import SFTClient

TOKEN = "cb-token-for-tests-at-least-32-characters"  # travelsim.startup minimum


@pytest.fixture
def token_db(monkeypatch: pytest.MonkeyPatch, any_db: Settings) -> Iterator[Settings]:
    monkeypatch.setenv("SFT_CALLBACK_TOKEN", TOKEN)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


async def ctl(api: SimApi, method: str, path: str, body: Any = None) -> Any:
    r = await asyncio.to_thread(api.ctl, method, path, body)
    assert r.status_code == 200, r.text
    return r.json()


async def settle() -> None:
    """Let the receiver's after-response processing finish (it runs on this loop)."""
    for _ in range(200):
        async with db.session() as s:
            pending = (
                await s.exec(select(CallbackEvent).where(col(CallbackEvent.status) == "pending"))
            ).all()
        if not pending:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("events still pending")


async def addon_row(unique_id: str) -> EsimAddon:
    async with db.session() as s:
        row = (await s.exec(select(EsimAddon).where(col(EsimAddon.unique_id) == unique_id))).one()
    return row


@pytest.mark.parametrize("shapes", ["documented", "legacy"])
async def test_simulator_events_update_the_portal_and_replays_change_nothing(
    shapes: str,
    token_db: Settings,
    sim: SimServer,
    client: SFTClient,
    api: SimApi,
    receiver: Receiver,
    engines: None,
) -> None:
    st = await setup_esim(client, [FR_1GB_7D])
    uid = st.unique_ids[0]
    await ctl(api, "POST", "settings", {"shapes": shapes})
    await ctl(
        api,
        "POST",
        "callbacks",
        {"url": f"{receiver.url}/callbacks/sft", "token": TOKEN, "interval_seconds": 3600},
    )
    api.consume(st.endpoint_id, 300 * MB)  # starts the add-on and uses 300 MB
    api.ctl("POST", "profile-status", {"endPointId": st.endpoint_id, "status": "installed"})
    flushed = await ctl(api, "POST", "callbacks/flush")
    assert flushed["batches"][0]["status"] == 200
    sent = (await ctl(api, "GET", "callbacks"))["history"][0]["body"]
    if shapes == "documented":  # a data-stream delivery: a JSON array of flat events
        assert isinstance(sent, list)
        profiles = [e for e in sent if e["eventType"] == "eSIM Profile Status"]
        assert profiles[-1]["eSimProfileStatus"] == "installed"  # the last recorded step
    else:  # the 10011 envelope, the fields as JSON text in message
        assert sent["Request"]["apiCallback"]["callbackProcessId"] == "10011"
        messages = [json.loads(n["message"]) for n in sent["Request"]["notification"]]
        assert any(m.get("esimProfileStatus") == "installed" for m in messages)
    await settle()

    platform = api.addons(endPointId=st.endpoint_id)[0]
    row = await addon_row(uid)
    assert row.status == "active"
    assert row.remaining_bytes == int(platform["remainingVolume"]) == GB - 300 * MB
    assert row.used_bytes == int(platform["usedVolume"])
    assert row.started_at is not None and row.expires_at is not None
    async with db.session() as s:
        esim = await s.get(Esim, st.esim_id)
        sync = await s.get(EsimSync, st.esim_id)
    assert esim is not None and esim.profile_status == "installed"
    assert sync is not None and sync.profile_status == "installed"

    # The platform's batches replayed twice and in reverse: nothing new is stored or changed.
    history = (await ctl(api, "GET", "callbacks"))["history"]
    before = (row.remaining_bytes, row.updated_at)
    async with httpx.AsyncClient(base_url=receiver.url) as http:
        for _ in range(2):
            for batch in reversed(history):
                r = await http.post(
                    "/callbacks/sft",
                    json=batch["body"],
                    headers={"X-Authorization": f"Bearer {TOKEN}"},
                )
                assert r.status_code == 200 and r.json()["stored"] == 0
    await settle()
    row = await addon_row(uid)
    assert (row.remaining_bytes, row.updated_at) == before

    # The usage sync now sees this eSIM as covered by events (it goes last with callbacks on).
    async with db.session() as s:
        times = await callbacks.last_event_times(s)
    assert st.esim_id in times


async def test_late_and_out_of_order_events_keep_the_newest_figures(
    token_db: Settings,
    sim: SimServer,
    client: SFTClient,
    api: SimApi,
    receiver: Receiver,
    engines: None,
) -> None:
    st = await setup_esim(client, [FR_1GB_7D])
    uid = st.unique_ids[0]
    # Collect two batches without delivering them (a receiver that is not the portal).
    await ctl(
        api, "POST", "callbacks", {"url": "http://127.0.0.1:9/unused", "interval_seconds": 3600}
    )
    api.consume(st.endpoint_id, 100 * MB)
    await ctl(api, "POST", "callbacks/flush")
    api.consume(st.endpoint_id, 400 * MB)
    api.ctl("POST", "profile-status", {"endPointId": st.endpoint_id, "status": "installed"})
    await ctl(api, "POST", "callbacks/flush")
    api.ctl("POST", "profile-status", {"endPointId": st.endpoint_id, "status": "enabled"})
    await ctl(api, "POST", "callbacks/flush")
    status = await ctl(api, "GET", "callbacks")
    assert status["failed_batches"] == 3 and status["sent_batches"] == 0  # no retries
    first, second, third = (b["body"] for b in status["history"])
    assert all(isinstance(b, list) for b in (first, second, third))  # documented: data stream
    # Nothing is re-sent by a later flush (no retries, no history).
    assert (await ctl(api, "POST", "callbacks/flush"))["events"] == 0

    headers = {"X-Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=receiver.url) as http:
        for body in (third, second, first, second):  # newest first, then late and twice
            assert (
                await http.post("/callbacks/sft", json=body, headers=headers)
            ).status_code == 200
    await settle()
    row = await addon_row(uid)
    assert row.used_bytes == 500 * MB and row.remaining_bytes == GB - 500 * MB
    assert row.status == "active"
    async with db.session() as s:
        esim = await s.get(Esim, st.esim_id)
        kinds = {(e.event_type, e.status) for e in (await s.exec(select(CallbackEvent))).all()}
    assert esim is not None and esim.profile_status == "enabled"  # the newest profile event
    assert ("counter_change", "processed") in kinds
    # Each distinct event was stored once.
    async with db.session() as s:
        stored = len((await s.exec(select(CallbackEvent))).all())
    assert (
        stored
        == sum(b["events"] for b in status["history"])
        == sum(len(b) for b in (first, second, third))
    )

    # A sync after the events does not lose them, and the sweep finds nothing left.
    stats = metering.RunStats()
    await runs.run_callback_sweep(stats)
    assert stats.items == 0


async def test_batches_hold_at_most_max_events(
    token_db: Settings,
    sim: SimServer,
    client: SFTClient,
    api: SimApi,
    receiver: Receiver,
    engines: None,
) -> None:
    setups = [await setup_esim(client, [FR_1GB_7D]) for _ in range(3)]
    for st in setups:  # installed already: the data used below adds no profile events
        await ctl(
            api, "POST", "profile-status", {"endPointId": st.endpoint_id, "status": "enabled"}
        )
    await ctl(
        api,
        "POST",
        "callbacks",
        {
            "url": f"{receiver.url}/callbacks/sft",
            "token": TOKEN,
            "max_events": 2,
            "interval_seconds": 3600,
        },
    )
    for st in setups:
        api.consume(st.endpoint_id, MB)  # activation + counter change each: 6 events
    out = await ctl(api, "POST", "callbacks/flush")
    assert out["events"] == 6
    assert [b["events"] for b in out["batches"]] == [2, 2, 2]
    assert all(b["status"] == 200 for b in out["batches"])
    body = (await ctl(api, "GET", "callbacks"))["history"][0]["body"]
    assert [e["eventType"] for e in body] == ["Addon Activation", "Counter Changes"]
    assert body[1]["description"].startswith(f"{body[1]['planName']} Counter threshold updated")
    await settle()
    for st in setups:
        assert (await addon_row(st.unique_ids[0])).used_bytes == MB


async def test_emitter_runs_on_its_own_interval(
    token_db: Settings,
    sim: SimServer,
    client: SFTClient,
    api: SimApi,
    receiver: Receiver,
    engines: None,
) -> None:
    st = await setup_esim(client, [FR_1GB_7D])
    await ctl(
        api,
        "POST",
        "callbacks",
        {"url": f"{receiver.url}/callbacks/sft", "token": TOKEN, "interval_seconds": 0.1},
    )
    api.consume(st.endpoint_id, 7 * MB)
    for _ in range(200):
        if (await ctl(api, "GET", "callbacks"))["sent_events"] >= 2:
            break
        await asyncio.sleep(0.05)
    await settle()
    assert (await addon_row(st.unique_ids[0])).used_bytes == 7 * MB
    await ctl(api, "POST", "callbacks", {"url": None})
