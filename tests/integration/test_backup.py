"""Backup and restore of the portal database (travelsim.services.backup; `python -m
travelsim.cli backup|restore`): a round trip on SQLite and PostgreSQL, a consistent copy while
the portal writes, and the refusals."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy.engine import make_url
from sqlmodel import col, select

from travelsim import cli, db
from travelsim.keys import secret_box
from travelsim.models import Esim, User
from travelsim.services import backup
from travelsim.settings import Settings

T = TypeVar("T")
CODE = "LPA:1$smdp.example.com$BACKUP-ROUND-TRIP"


async def _add(email: str, iccid: str | None = None) -> None:
    async with db.session() as s:
        s.add(User(email=email, password_hash="x"))
        if iccid:
            s.add(
                Esim(
                    iccid=iccid,
                    endpoint_id=f"ep-{iccid}",
                    activation_code_enc=secret_box().encrypt(CODE),
                )
            )
        await s.commit()


async def _emails() -> list[str]:
    async with db.session() as s:
        return list((await s.exec(select(User.email).order_by(col(User.email)))).all())


async def _code(iccid: str) -> str:
    async with db.session() as s:
        esim = (await s.exec(select(Esim).where(Esim.iccid == iccid))).one()
    assert esim.activation_code_enc
    return secret_box().decrypt(esim.activation_code_enc)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """One ``asyncio.run`` with the engines reset after (pooled connections of one event
    loop cannot serve the next)."""
    try:
        return asyncio.run(coro)
    finally:
        db.reset_engines()


def _cli(*argv: str) -> int:
    """The command as an operator runs it (start-up checks included), engines reset after."""
    try:
        return cli.main(list(argv))
    finally:
        db.reset_engines()


def test_backup_and_restore_round_trip(
    any_db: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(_add("kept@example.com", "8900000000000000042"))
    target = tmp_path / "backups" / "first.bak"
    assert _cli("backup", "--to", str(target)) == 0
    out = capsys.readouterr().out
    assert f"backup written: {target}" in out and "ENCRYPTION_KEY" in out
    assert target.stat().st_size > 0
    # Readable by the service user alone (it holds every traveler's address and hash).
    assert target.stat().st_mode & 0o777 == 0o600

    _run(_add("after-backup@example.com"))  # a change the restore must undo
    capsys.readouterr()
    assert _cli("restore", str(target)) == 2  # without --yes: nothing happens
    assert _run(_emails()) == ["after-backup@example.com", "kept@example.com"]
    # It names the database it would replace, password hidden, so a test restore into a
    # scratch database can be checked before --yes.
    url = make_url(any_db.sync_database_url)
    shown = (
        str(Path(url.database or ""))
        if any_db.is_sqlite
        else url.set(drivername="postgresql").render_as_string()
    )
    said = capsys.readouterr().err
    assert f"restore replaces everything in {shown} (DATABASE_URL) with {target}" in said
    assert url.password is None or str(url.password) not in said

    assert _cli("restore", str(target), "--yes") == 0
    assert f"into {shown} (revision " in capsys.readouterr().out
    assert _run(_emails()) == ["kept@example.com"]
    assert _run(_code("8900000000000000042")) == CODE
    assert _cli("backup", "--to", str(target)) == 1  # never overwrites a backup
    assert "already exists" in capsys.readouterr().err


def test_a_backup_taken_while_the_portal_writes_is_consistent(
    sqlite_db: Settings, tmp_path: Path
) -> None:
    """SQLite's online backup is one read transaction: a writer committing users one by one
    meanwhile is neither blocked nor torn; the copy holds a whole prefix of them."""
    live = Path(str(make_url(sqlite_db.sync_database_url).database))
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:
        conn = sqlite3.connect(live, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        i = 0
        while not stop.is_set():
            conn.execute(
                "INSERT INTO app_user (email, password_hash, is_staff, created_at, currency) "
                "VALUES (?, 'x', 0, '2026-12-03 00:00:00', 'EUR')",
                (f"w{i:05d}@example.com",),
            )
            conn.commit()
            written.append(i)
            i += 1
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 200 and thread.is_alive():
            stop.wait(0.01)
        assert thread.is_alive(), "the writer stopped"
        report = backup.backup(sqlite_db, tmp_path / "live.bak")
        at_backup = len(written)
    finally:
        stop.set()
        thread.join()
    copy = sqlite3.connect(report.path)
    emails = [r[0] for r in copy.execute("SELECT email FROM app_user ORDER BY email")]
    assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one file
    copy.close()
    assert 200 <= len(emails) <= at_backup + 1
    assert emails == [f"w{i:05d}@example.com" for i in range(len(emails))]  # a prefix


def test_restore_refuses_what_is_not_a_travelsim_backup(
    sqlite_db: Settings, tmp_path: Path
) -> None:
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE notes (t TEXT)").connection.commit()
    with pytest.raises(backup.BackupError, match="not a TravelSIM database"):
        backup.restore(sqlite_db, other)
    text = tmp_path / "text.bak"
    text.write_text("hello")
    with pytest.raises(backup.BackupError, match="not a readable SQLite database"):
        backup.restore(sqlite_db, text)
    with pytest.raises(backup.BackupError, match="is not a file"):
        backup.restore(sqlite_db, tmp_path / "missing.bak")


def test_restore_refuses_a_backup_from_a_newer_version(sqlite_db: Settings, tmp_path: Path) -> None:
    report = backup.backup(sqlite_db, tmp_path / "now.bak")
    newer = tmp_path / "newer.bak"
    shutil.copy(report.path, newer)
    conn = sqlite3.connect(newer)
    conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    conn.commit()
    conn.close()
    with pytest.raises(backup.BackupError, match=r"9999_from_the_future.*does not know"):
        backup.restore(sqlite_db, newer)
    assert report.revision in backup.known_revisions()


@pytest.mark.postgres
def test_postgres_restore_refuses_a_sqlite_file(pg_db: Settings, tmp_path: Path) -> None:
    fake = tmp_path / "not-a-dump.bak"
    fake.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    with pytest.raises(backup.BackupError, match="not a TravelSIM pg_dump"):
        backup.restore(pg_db, fake)
