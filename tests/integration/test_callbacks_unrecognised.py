"""What ``POST /callbacks/sft`` does with bodies it does not fully understand
(docs/sft-platform.md#callbacks "Unrecognised", docs/business-rules.md#platform-callbacks):
a wrong token is refused and nothing is stored; anything from an authenticated sender is stored
and answered 200 (the platform never retries), the unrecognised part kept raw for staff and shown
on the admin home page. Real receiver (uvicorn on loopback), real databases."""

# ruff: noqa: F811  (pytest fixtures imported from the support module)

from __future__ import annotations

import asyncio
import copy
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from jobs_support import FR_1GB_7D, Receiver, client, engines, receiver, setup_esim, sim  # noqa: F401
from sim_fixtures import SimServer
from sqlmodel import col, select

from tests.sft_samples import PUBLISHED_10011_SAMPLE
from travelsim import db
from travelsim.models import CallbackEvent, CallbackStatus, EsimAddon
from travelsim.routes.callbacks import MAX_BODY_BYTES
from travelsim.services import admin
from travelsim.services.admin.overview import RAW_SHOWN_CHARS
from travelsim.services.callbacks import RAW_KEEP_CHARS
from travelsim.settings import Settings, get_settings
from travelsim.sft import SFTClient

TOKEN = "cb-token-for-tests-at-least-32-characters"  # travelsim.startup minimum
GOOD = {"X-Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def token_db(monkeypatch: pytest.MonkeyPatch, any_db: Settings) -> Iterator[Settings]:
    monkeypatch.setenv("SFT_CALLBACK_TOKEN", TOKEN)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


async def rows() -> list[CallbackEvent]:
    async with db.session() as s:
        return list((await s.exec(select(CallbackEvent).order_by(col(CallbackEvent.id)))).all())


async def settle() -> None:
    """Let the receiver's after-response processing finish (it runs on this loop)."""
    for _ in range(200):
        if not [r for r in await rows() if r.status == CallbackStatus.PENDING]:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("events still pending")


async def test_off_without_a_token_and_a_wrong_token_stores_nothing(
    sqlite_db: Settings, receiver: Receiver, engines: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with httpx.AsyncClient(base_url=receiver.url) as http:
        assert (await http.post("/callbacks/sft", json=PUBLISHED_10011_SAMPLE)).status_code == 404
        monkeypatch.setenv("SFT_CALLBACK_TOKEN", TOKEN)
        get_settings.cache_clear()
        try:
            assert (
                await http.post("/callbacks/sft", json=PUBLISHED_10011_SAMPLE)
            ).status_code == 401
            wrong = {"X-Authorization": "Bearer nope"}
            for body in (b"{not json", b'{"Request": {"notification": []}}'):
                r = await http.post("/callbacks/sft", content=body, headers=wrong)
                assert r.status_code == 401
            big = b"x" * (MAX_BODY_BYTES + 1)
            assert (await http.post("/callbacks/sft", content=big, headers=GOOD)).status_code == 413
            assert await rows() == []
            # An empty batch from the platform is fine and stores nothing either.
            r = await http.post(
                "/callbacks/sft", json={"Request": {"notification": []}}, headers=GOOD
            )
            assert r.status_code == 200
            assert r.json() == {"received": 0, "stored": 0, "unrecognised": 0}
            assert await rows() == []
        finally:
            get_settings.cache_clear()


async def test_the_published_10011_sample_is_stored_and_shown_to_staff(
    token_db: Settings, receiver: Receiver, engines: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="travelsim.services.callbacks")
    async with httpx.AsyncClient(base_url=receiver.url) as http:
        r = await http.post("/callbacks/sft", json=PUBLISHED_10011_SAMPLE, headers=GOOD)
        assert r.status_code == 200
        assert r.json() == {"received": 1, "stored": 1, "unrecognised": 1}
        again = await http.post("/callbacks/sft", json=PUBLISHED_10011_SAMPLE, headers=GOOD)
        assert again.json() == {"received": 1, "stored": 0, "unrecognised": 0}  # stored once
    (row,) = await rows()
    assert row.status == CallbackStatus.UNRECOGNISED and row.error == "no event type"
    assert row.payload == PUBLISHED_10011_SAMPLE["Request"]["notification"]
    assert [m for m in caplog.messages if "unrecognised" in m] == [
        f"platform callback {row.id} unrecognised: no event type"
    ]
    async with db.session() as s:
        view = await admin.overview(s)
    assert view.callbacks["unrecognised"] == "1"
    (shown,) = view.unrecognised
    assert shown["id"] == str(row.id) and shown["reason"] == "no event type"
    assert "Notification Message defined by the customer with variables" in shown["body"]


async def test_a_data_stream_batch_applies_what_it_knows_and_keeps_the_rest(
    token_db: Settings,
    sim: SimServer,
    client: SFTClient,
    receiver: Receiver,
    engines: None,
) -> None:
    st = await setup_esim(client, [FR_1GB_7D])
    uid = st.unique_ids[0]
    # Event types and description text as published on
    # https://docs.sft.bics.com/sft/account-data-streams-how-to; the field names are the
    # inferred ones of docs/sft-platform.md#data-stream-events.
    counter = {
        "eventType": "Counter Changes",
        "eventTimestamp": "02/12/2026 10:00:00",
        "accountId": "41094429",
        "description": "FR Counter threshold updated to 314572800 for Net(41094429)",
        "endPointId": st.endpoint_id,
        "uniqueId": uid,
        "planId": FR_1GB_7D,
        "status": "Active",
        "initialVolume": "1073741824",
        "remainingVolume": "759169024",
        "usedVolume": "314572800",
    }
    unknown = {"eventType": "Quantum Tunnel Opened", "endPointId": st.endpoint_id}
    sim_link = {"eventType": "SIM Link", "endPointId": st.endpoint_id}  # published, not applied
    async with httpx.AsyncClient(base_url=receiver.url) as http:
        r = await http.post(
            "/callbacks/sft", json={"events": [counter, unknown, sim_link]}, headers=GOOD
        )
    assert r.status_code == 200 and r.json() == {"received": 3, "stored": 3, "unrecognised": 1}
    await settle()
    async with db.session() as s:
        addon = (await s.exec(select(EsimAddon).where(col(EsimAddon.unique_id) == uid))).one()
    assert (addon.used_bytes, addon.remaining_bytes) == (314572800, 1073741824 - 314572800)
    by_type = {row.event_type: row for row in await rows()}
    assert by_type["counter_change"].status == CallbackStatus.PROCESSED
    assert by_type["SIM Link"].status == CallbackStatus.IGNORED
    odd = by_type["Quantum Tunnel Opened"]
    assert odd.status == CallbackStatus.UNRECOGNISED and odd.payload == unknown
    assert odd.error == "unrecognised event type: Quantum Tunnel Opened"


async def test_garbage_from_an_authenticated_sender_is_kept_raw(
    token_db: Settings, receiver: Receiver, engines: None
) -> None:
    markup = b'<script>alert("x")</script>{"Request": '
    huge = b"\xff" + b"y" * (RAW_KEEP_CHARS + 10)  # not UTF-8 either
    async with httpx.AsyncClient(base_url=receiver.url) as http:
        for body in (markup, huge, b'{"x": 1}'):
            r = await http.post("/callbacks/sft", content=body, headers=GOOD)
            assert r.status_code == 200
            assert r.json() == {"received": 1, "stored": 1, "unrecognised": 1}
    first, second, third = await rows()
    assert all(row.status == CallbackStatus.UNRECOGNISED for row in (first, second, third))
    assert first.payload == {"raw": markup.decode(), "truncated": False, "bytes": len(markup)}
    assert first.error == "invalid JSON: JSONDecodeError"
    assert second.payload["truncated"] is True and second.payload["bytes"] == len(huge)
    assert len(second.payload["raw"]) == RAW_KEEP_CHARS
    assert second.payload["raw"].startswith("\ufffdyyy")  # the undecodable byte, replaced
    assert third.error is not None and third.error.startswith("no event found")
    async with db.session() as s:
        view = await admin.overview(s)
    assert view.callbacks["unrecognised"] == "3"
    newest, middle, oldest = view.unrecognised
    assert newest["body"] == '{"x": 1}'
    assert middle["body"].endswith(" … (truncated)")
    assert len(middle["body"]) == RAW_SHOWN_CHARS + len(" … (truncated)")
    assert oldest["body"] == markup.decode()  # plain text: the page shows it, never runs it


async def test_a_known_event_in_a_batch_is_not_hurt_by_an_odd_one(
    token_db: Settings, receiver: Receiver, engines: None
) -> None:
    body = copy.deepcopy(PUBLISHED_10011_SAMPLE)
    note = body["Request"]["notification"]
    body["Request"]["notification"] = [note, 7, {**note, "callbackId": "2", "message": "{}"}]
    async with httpx.AsyncClient(base_url=receiver.url) as http:
        r = await http.post("/callbacks/sft", json=body, headers=GOOD)
    assert r.status_code == 200 and r.json() == {"received": 3, "stored": 3, "unrecognised": 3}
    assert [row.payload for row in await rows()] == [
        note,
        {"item": 7},
        {**note, "callbackId": "2", "message": "{}"},
    ]


async def test_values_no_column_takes_are_kept_without_breaking_the_answer(
    token_db: Settings, receiver: Receiver, engines: None
) -> None:
    # NaN is not JSON: kept raw. A NUL in a type and a sequence beyond 64 bits: stored, cleaned.
    nan = b'[{"eventType": "Counter Changes", "usedVolume": NaN}]'
    odd = {"eventType": "Odd\u0000Type", "sequence": str(2**70), "endPointId": "9" * 40}
    async with httpx.AsyncClient(base_url=receiver.url) as http:
        for body in (nan, json.dumps([odd]).encode()):
            r = await http.post("/callbacks/sft", content=body, headers=GOOD)
            assert r.status_code == 200 and r.json()["unrecognised"] == 1
    first, second = await rows()
    assert first.payload["raw"] == nan.decode() and first.error == "invalid JSON: ValueError"
    assert second.event_type == "OddType" and second.seq is None
    assert second.endpoint_id == "9" * 32 and second.payload == odd
