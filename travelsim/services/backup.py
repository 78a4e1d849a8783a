"""Backing up and restoring the portal database (``python -m travelsim.cli backup|restore``).

- **SQLite**: SQLite's online backup API (https://www.sqlite.org/backup.html, Python's
  ``sqlite3.Connection.backup``) copies the live database page by page into a new file, a
  consistent snapshot even while the portal writes (WAL mode: readers and the copy never block
  writers for long). The copy is checked with ``PRAGMA integrity_check`` before it is kept.
  Restoring copies a backup file into the portal's database file with the same API (the
  portal must be stopped: docs/going-live.md#backups).
- **PostgreSQL**: ``pg_dump --format=custom`` and ``pg_restore --clean --if-exists``
  (https://www.postgresql.org/docs/current/app-pgdump.html,
  https://www.postgresql.org/docs/current/app-pgrestore.html), run as subprocesses with the
  password in ``PGPASSWORD`` (never on the command line, where other local users could read
  it in the process list). ``pg_dump`` must be at least the server's major version.

A backup holds the activation codes and TOTP secrets **encrypted**: they can be read only with
the ``ENCRYPTION_KEY`` in force when they were written (docs/going-live.md#backups). A restore
refuses a file that is not a TravelSIM database, and one written by a newer version of the
portal (an Alembic revision this code does not know); an older one is migrated to head.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from travelsim.settings import Settings

__all__ = ["BackupError", "BackupReport", "backup", "known_revisions", "restore", "target_name"]


class BackupError(Exception):
    """A backup or restore that could not be done; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class BackupReport:
    """What :func:`backup` or :func:`restore` did: ``path`` (the backup file), ``engine``
    (``"sqlite"`` or ``"postgresql"``), ``size_bytes`` of the file, ``revision`` (the
    Alembic revision the data is at)."""

    path: Path
    engine: str
    size_bytes: int
    revision: str | None


def known_revisions() -> set[str]:
    """Every Alembic revision id of this code (``alembic/versions``)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    root = Path(__file__).resolve().parents[2]
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "alembic"))
    return {rev.revision for rev in ScriptDirectory.from_config(config).walk_revisions()}


def backup(settings: Settings, dest: Path) -> BackupReport:
    """Write a backup of the portal database to ``dest`` (a new file; an existing one is
    refused). Raises :class:`BackupError` (file exists, the database is unreadable or fails
    its integrity check, ``pg_dump`` missing or failing)."""
    if dest.exists():
        raise BackupError(f"{dest} already exists: choose a new file name")
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Readable by the service user alone: a backup holds every traveler's email address,
    # password hash and order (the activation codes and TOTP secrets in it are encrypted).
    _private_file(dest.with_name(dest.name + ".partial"))
    if settings.is_sqlite:
        return _sqlite_backup(_sqlite_path(settings), dest)
    return _pg_backup(settings.sync_database_url, dest)


def _private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 (whatever the umask), replacing a leftover
    partial file, so that what pg_dump or SQLite then writes into it is never readable by
    other users of the server, not even while it is written."""
    path.unlink(missing_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    os.chmod(path, 0o600)


def target_name(settings: Settings) -> str:
    """The database a restore would replace, for the operator to confirm: the SQLite file's
    path, or the PostgreSQL URL without its password (``postgresql://user:***@host/db``)."""
    if settings.is_sqlite:
        return str(_sqlite_path(settings))
    url = make_url(settings.sync_database_url)
    # As the operator wrote it: postgresql://, not the driver the portal picked.
    return url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)


def restore(settings: Settings, source: Path) -> BackupReport:
    """Replace the portal database's contents with the backup ``source``, then migrate it to
    this code's head. Stop the portal first. Raises :class:`BackupError` (no such file, not
    a TravelSIM backup, written by a newer version, ``pg_restore`` failing)."""
    if not source.is_file():
        raise BackupError(f"{source} is not a file")
    if settings.is_sqlite:
        report = _sqlite_restore(source, _sqlite_path(settings))
    else:
        report = _pg_restore(settings.sync_database_url, source)
    from travelsim import db

    db.migrate(db.sync_engine())
    return report


# ----------------------------------------------------------------------------- SQLite


def _sqlite_path(settings: Settings) -> Path:
    database = make_url(settings.sync_database_url).database
    if not database or database == ":memory:":
        raise BackupError("the SQLite database is in memory: nothing to back up")
    return Path(database)


def _revision(conn: sqlite3.Connection) -> str:
    """The Alembic revision of an open SQLite database; raises :class:`BackupError` when it
    is not a TravelSIM database."""
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        conn.execute("SELECT 1 FROM purchase_order LIMIT 1")
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"not a TravelSIM database ({exc})") from exc
    if row is None:
        raise BackupError("not a TravelSIM database (no Alembic revision recorded)")
    return str(row[0])


def _check_integrity(conn: sqlite3.Connection, what: str) -> None:
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{what} is not a readable SQLite database ({exc})") from exc
    if result is None or result[0] != "ok":
        raise BackupError(f"{what} failed its integrity check: {result[0] if result else '?'}")


def _sqlite_backup(source: Path, dest: Path) -> BackupReport:
    if not source.is_file():
        raise BackupError(f"the database file {source} does not exist")
    partial = dest.with_name(dest.name + ".partial")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    out = sqlite3.connect(partial)
    try:
        revision = _revision(src)
        # One step (pages=-1): a read transaction for the whole copy, which in WAL mode never
        # blocks the portal's writers and is never restarted by them.
        src.backup(out)
        # One self-contained file: a backup in WAL mode would need its -wal file too.
        out.execute("PRAGMA journal_mode=DELETE")
        _check_integrity(out, "the backup")
    except BaseException:
        out.close()
        partial.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    out.close()
    partial.replace(dest)
    return BackupReport(dest, "sqlite", dest.stat().st_size, revision)


def _sqlite_restore(source: Path, target: Path) -> BackupReport:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        _check_integrity(src, str(source))
        revision = _revision(src)
        if revision not in known_revisions():
            raise BackupError(
                f"{source} is at revision {revision}, which this version of TravelSIM does not "
                "know: restore it with the version that wrote it (or a newer one)"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        out = sqlite3.connect(target, timeout=30)
        try:
            src.backup(out)
        finally:
            out.close()
    finally:
        src.close()
    return BackupReport(source, "sqlite", source.stat().st_size, revision)


# ------------------------------------------------------------------------- PostgreSQL


def _pg_command(url: str, tool: str) -> tuple[list[str], dict[str, str]]:
    """``[tool, --dbname=<URL without password>]`` and an environment with ``PGPASSWORD``."""
    exe = shutil.which(tool)
    if exe is None:
        raise BackupError(
            f"{tool} is not installed: install the PostgreSQL client tools of your server's "
            "major version (Debian/Ubuntu: postgresql-client)"
        )
    parsed = make_url(url).set(drivername="postgresql")
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(password=None).render_as_string(hide_password=False)
    return [exe, f"--dbname={plain}"], env


def _run(argv: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise BackupError(f"{what} failed (exit {done.returncode}): {done.stderr.strip()[:500]}")


def _pg_backup(url: str, dest: Path) -> BackupReport:
    argv, env = _pg_command(url, "pg_dump")
    partial = dest.with_name(dest.name + ".partial")
    try:
        _run([*argv, "--format=custom", "--no-owner", f"--file={partial}"], env, "pg_dump")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    # Read back: the dump is a readable custom-format file and records its revision.
    revision = _pg_dump_revision(_pg_command(url, "pg_restore")[0][0], partial)
    partial.replace(dest)
    return BackupReport(dest, "postgresql", dest.stat().st_size, revision)


def _pg_restore(url: str, source: Path) -> BackupReport:
    argv, env = _pg_command(url, "pg_restore")
    listing = subprocess.run(  # noqa: S603
        [argv[0], "--list", str(source)], capture_output=True, text=True, check=False
    )
    if listing.returncode != 0 or "TABLE public alembic_version" not in listing.stdout:
        raise BackupError(f"{source} is not a TravelSIM pg_dump (custom format) file")
    revision = _pg_dump_revision(argv[0], source)
    if revision not in known_revisions():
        raise BackupError(
            f"{source} is at revision {revision}, which this version of TravelSIM does not "
            "know: restore it with the version that wrote it (or a newer one)"
        )
    _run(
        [*argv, "--clean", "--if-exists", "--no-owner", "--single-transaction", str(source)],
        env,
        "pg_restore",
    )
    return BackupReport(source, "postgresql", source.stat().st_size, revision)


def _pg_dump_revision(pg_restore: str, source: Path) -> str:
    """The Alembic revision inside a custom-format dump: the one row of ``alembic_version``'s
    ``COPY`` block, printed by ``pg_restore --data-only --table=alembic_version``."""
    done = subprocess.run(  # noqa: S603
        [pg_restore, "--data-only", "--table=alembic_version", "--file=-", str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = done.stdout.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("COPY public.alembic_version") and i + 1 < len(lines):
            return lines[i + 1].strip()
    raise BackupError(f"{source} records no Alembic revision: not a TravelSIM dump")
