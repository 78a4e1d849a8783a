"""Two processors applying different platform events of one eSIM at the same time (the
receiver's after-response task of each batch, the scheduler's sweep) keep the newest figures
(docs/business-rules.md#platform-callbacks).

Each event is applied by reading the add-on row (its used bytes), comparing, and writing it.
Under PostgreSQL's READ COMMITTED two processors could both read the same old row and the
later commit won: an older Counter Change over a newer one (a lost update; this test failed
then). The application now takes turns per eSIM.
"""

# ruff: noqa: F811  (pytest fixtures imported from the support module)

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from jobs_support import FR_1GB_7D, client, engines, setup_esim, sim  # noqa: F401
from sqlalchemy import update
from sqlmodel import col, select

from travelsim import db
from travelsim.models import CallbackEvent, CallbackStatus, EsimAddon, utcnow
from travelsim.services import callbacks
from travelsim.settings import Settings, get_settings
from travelsim.sft import SFTClient

MB = 1_048_576
GB = 1_073_741_824
ROUNDS = 25


@pytest.fixture
def token_db(monkeypatch: pytest.MonkeyPatch, any_db: Settings) -> Iterator[Settings]:
    monkeypatch.setenv("SFT_CALLBACK_TOKEN", "t" * 40)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def _counter(endpoint_id: str, unique_id: str, minute: int, used: int) -> dict[str, str]:
    """A Counter Changes event, data-stream shape (docs/sft-platform.md#data-stream-events)."""
    return {
        "eventType": "Counter Changes",
        "eventTimestamp": f"02/12/2026 {10 + minute // 60:02d}:{minute % 60:02d}:00",
        "accountId": "41094429",
        "endPointId": endpoint_id,
        "uniqueId": unique_id,
        "planId": FR_1GB_7D,
        "status": "Active",
        "initialVolume": str(GB),
        "remainingVolume": str(GB - used),
        "usedVolume": str(used),
    }


async def _pending_ids() -> list[int]:
    async with db.session() as s:
        rows = await s.exec(
            select(CallbackEvent.id)
            .where(col(CallbackEvent.status) == CallbackStatus.PENDING)
            .order_by(col(CallbackEvent.id))
        )
        return [i for i in rows.all() if i is not None]


async def test_an_older_event_applied_alongside_a_newer_one_never_wins(
    token_db: Settings, sim: object, client: SFTClient, engines: None
) -> None:
    st = await setup_esim(client, [FR_1GB_7D])
    uid = st.unique_ids[0]
    for n in range(ROUNDS):
        async with db.session() as s:  # the add-on as a fresh one: nothing used yet
            await s.execute(
                update(EsimAddon)
                .where(col(EsimAddon.unique_id) == uid)
                .values(used_bytes=0, remaining_bytes=GB)
            )
            await s.commit()
        older, newer = (n + 1) * MB, (n + 1) * MB + 100 * MB
        await callbacks.receive({"events": [_counter(st.endpoint_id, uid, 2 * n, older)]})
        await callbacks.receive({"events": [_counter(st.endpoint_id, uid, 2 * n + 1, newer)]})
        first, second = await _pending_ids()
        now = utcnow()
        await asyncio.gather(
            callbacks._process_one(db.session, first, now),
            callbacks._process_one(db.session, second, now),
        )
        async with db.session() as s:
            row = (await s.exec(select(EsimAddon).where(col(EsimAddon.unique_id) == uid))).one()
        assert (n, row.used_bytes, row.remaining_bytes) == (n, newer, GB - newer)
