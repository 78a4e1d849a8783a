"""Re-encrypting every stored secret under the newest ``ENCRYPTION_KEY``
(``python -m travelsim.cli keys rotate``; ``keys status`` counts what is left).

``ENCRYPTION_KEY`` is a comma-separated list of Fernet keys, newest first
(:class:`travelsim.crypto.SecretBox`): the first encrypts, all decrypt. To rotate, put a new
key in front (``NEW,OLD``), restart the portal, run ``keys rotate``, and remove ``OLD`` only
once ``keys status`` reports nothing under it (docs/going-live.md#encryption-key-rotation).
Fernet's own rotation is used (https://cryptography.io/en/latest/fernet/#cryptography.fernet.MultiFernet.rotate).

The encrypted columns (:data:`ENCRYPTED_COLUMNS`): activation codes (``esim``), TOTP secrets
(``user_totp``) and provider ID tokens of open sessions (``session_factor``). The sweep is
**resumable**: it walks each table in primary-key order in short transactions of ``batch``
rows, skips a value the newest key already encrypts, and writes each new value with a
compare-and-set on the old one (a value the portal rewrote meanwhile is left alone: it is
already under the newest key). Interrupted, it is simply run again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import SQLModel, col, select, update

from travelsim.crypto import SecretBox
from travelsim.db import SessionFactory
from travelsim.models import Esim, SessionFactor, UserTotp

__all__ = ["ENCRYPTED_COLUMNS", "KeyReport", "key_status", "rotate_all"]

#: ``(model, primary-key attribute, encrypted attribute)`` of every secret at rest.
ENCRYPTED_COLUMNS: tuple[tuple[type[SQLModel], str, str], ...] = (
    (Esim, "id", "activation_code_enc"),
    (UserTotp, "user_id", "secret_enc"),
    (SessionFactor, "session_id", "id_token_enc"),
)


@dataclass
class KeyReport:
    """Per table (``"esim.activation_code_enc"``): ``by_key`` counts values per key index
    (0 = the newest key), ``unreadable`` those no configured key opens (their key was
    removed or the value is damaged: they stay as they are), ``rotated`` those re-encrypted by
    this run."""

    by_key: dict[str, dict[int, int]] = field(default_factory=dict)
    unreadable: dict[str, int] = field(default_factory=dict)
    rotated: dict[str, int] = field(default_factory=dict)

    @property
    def old_key_values(self) -> int:
        """Values still under an older key (what a rotation has left to do)."""
        return sum(n for counts in self.by_key.values() for k, n in counts.items() if k > 0)

    @property
    def unreadable_values(self) -> int:
        return sum(self.unreadable.values())


def _column(model: type[SQLModel], name: str) -> Any:
    return col(getattr(model, name))


async def _batches(
    factory: SessionFactory, model: type[SQLModel], pk: str, enc: str, batch: int
) -> Any:
    """Yield lists of ``(primary key, value)`` in primary-key order, one short read each."""
    last: Any = None
    while True:
        query = select(_column(model, pk), _column(model, enc)).where(
            _column(model, enc).is_not(None)
        )
        if last is not None:
            query = query.where(_column(model, pk) > last)
        async with factory() as s:
            rows = list((await s.exec(query.order_by(_column(model, pk)).limit(batch))).all())
        if not rows:
            return
        yield rows
        last = rows[-1][0]


async def key_status(box: SecretBox, factory: SessionFactory, *, batch: int = 500) -> KeyReport:
    """Count every encrypted value by the key that opens it (reads only)."""
    report = KeyReport()
    for model, pk, enc in ENCRYPTED_COLUMNS:
        name = f"{model.__tablename__}.{enc}"
        counts: dict[int, int] = {}
        bad = 0
        async for rows in _batches(factory, model, pk, enc, batch):
            for _key, value in rows:
                index = box.key_index(value)
                if index is None:
                    bad += 1
                else:
                    counts[index] = counts.get(index, 0) + 1
        report.by_key[name], report.unreadable[name] = counts, bad
    return report


async def rotate_all(
    box: SecretBox,
    factory: SessionFactory,
    *,
    batch: int = 200,
    after_batch: Callable[[str, int], None] | None = None,
) -> KeyReport:
    """Re-encrypt under ``box``'s newest key every value an older key encrypts (module
    docstring); commits once per batch. ``after_batch(table, rotated so far)`` is called after
    each commit (progress output; a test interrupts the sweep there). Returns the counts as
    found before rotating (``by_key``), plus ``rotated`` and ``unreadable``."""
    report = KeyReport()
    for model, pk, enc in ENCRYPTED_COLUMNS:
        name = f"{model.__tablename__}.{enc}"
        counts: dict[int, int] = {}
        rotated = bad = 0
        async for rows in _batches(factory, model, pk, enc, batch):
            changes = []
            for key, value in rows:
                index = box.key_index(value)
                if index is None:
                    bad += 1
                    continue
                counts[index] = counts.get(index, 0) + 1
                if index > 0:
                    changes.append((key, value, box.rotate(value)))
            if changes:
                async with factory() as s:
                    for key, old, new in changes:
                        result = await s.exec(
                            update(model)
                            .where(_column(model, pk) == key, _column(model, enc) == old)
                            .values({enc: new})
                        )
                        rotated += result.rowcount  # type: ignore[attr-defined]
                    await s.commit()
            if after_batch is not None:
                after_batch(name, rotated)
        report.by_key[name], report.unreadable[name], report.rotated[name] = counts, bad, rotated
    return report
