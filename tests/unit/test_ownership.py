"""The ownership rule (services/ownership.py) on a real SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.models import Esim, InventoryState, User
from travelsim.services.ownership import is_owner, owned_esim


def _esim(state: str, user_id: int | None) -> Esim:
    return Esim(iccid="8932000000000000001", endpoint_id="1", state=state, user_id=user_id)


@pytest.mark.parametrize(
    ("state", "owner", "asking", "expected"),
    [
        (InventoryState.ASSIGNED, 7, 7, True),
        (InventoryState.ASSIGNED, 7, 8, False),
        (InventoryState.ASSIGNED, 7, None, False),
        (InventoryState.RESERVED, 7, 7, False),
        (InventoryState.RETIRED, 7, 7, False),
        (InventoryState.FREE, None, None, False),
    ],
)
def test_is_owner(state: str, owner: int | None, asking: int | None, expected: bool) -> None:
    assert is_owner(_esim(state, owner), asking) is expected


def test_no_esim_is_nobodys() -> None:
    assert is_owner(None, 7) is False


@pytest.fixture
async def session(tmp_path: Path) -> AsyncIterator[AsyncSession]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'own.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)
    async with AsyncSession(engine, expire_on_commit=False) as s:
        yield s
    await engine.dispose()


async def test_owned_esim_reads_the_row_only_for_its_owner(session: AsyncSession) -> None:
    alice = User(email="alice@example.com", password_hash="x")
    bob = User(email="bob@example.com", password_hash="x")
    session.add_all([alice, bob])
    await session.flush()
    esim = Esim(
        iccid="8932000000000000002",
        endpoint_id="2",
        state=InventoryState.ASSIGNED,
        user_id=alice.id,
    )
    session.add(esim)
    await session.commit()
    assert (await owned_esim(session, alice.id, esim.id)) == esim
    assert await owned_esim(session, bob.id, esim.id) is None
    assert await owned_esim(session, alice.id, (esim.id or 0) + 1) is None
    assert await owned_esim(session, alice.id, None) is None
