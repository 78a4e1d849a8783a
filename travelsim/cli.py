"""Command-line tasks: ``python -m travelsim.cli check [--serve]``, ``seed`` and
``staff grant|revoke EMAIL``.

Every command first runs the start-up checks (``travelsim.startup.enforce``: one
``refused: ...`` line each on stderr, exit status 1; docs/architecture.md
#security-modes-and-start-up-checks). ``check`` runs only them and prints ``start allowed``;
``check --serve`` adds what ``make serve`` needs (``GRANIAN_WORKERS``, ``REDIS_URL``,
PostgreSQL, ``TRUSTED_PROXY_HOPS``).

``seed`` upgrades the portal database to head and loads the local-demo data (the
catalogue's seller-owned fields from ``CATALOGUE_SEED_FILE``; in ``APP_ENV=demo`` a demo
traveler and a demo staff account). It is idempotent.

``staff grant|revoke EMAIL`` gives or takes the staff role of an existing account (the only
ways to get it are this command and another admin on ``/admin/travelers``; never sign-up).
It is recorded in the audit log as actor ``cli``. Exit status 1 when refused.

``backup [--to FILE]`` writes a consistent copy of the portal database (SQLite online backup;
``pg_dump`` for PostgreSQL) and ``restore FILE --yes`` puts one back and migrates it to head
(``travelsim.services.backup``; exit 1 refused). ``keys status|rotate`` counts, then
re-encrypts, every stored secret under the newest ``ENCRYPTION_KEY``
(``travelsim.services.key_rotation``; exit 0 all current, 3 values left under older keys, 1
values no key opens). docs/going-live.md#backups.

``reconcile`` runs the money reconciliation once (Stripe, the portal's orders and SFT
compared, discrepancies stored and new ones emailed to staff, as the daily job does;
docs/reconciliation.md) and prints what it found. Exit 0 nothing open, 3 discrepancies are
open (see ``/admin/reconciliation``), 1 Stripe could not be read.

``sft check [--url URL] [--endpoint ID]`` asks the SFT account (``SFT_BASE_URL``, or
``--url``; ``SFT_USERNAME``, ``SFT_PASSWORD``) read-only questions and reports, field by field,
whether it answered as the portal expects (``travelsim.sft.selfcheck``;
docs/sft-platform.md#self-check). Exit 0 understood, 3 some checks could not run, 1 a
misunderstanding, 2 bad usage. It needs neither the database nor the start-up checks (it is
the first step of going live), and never changes anything on the platform.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from travelsim import db, startup
from travelsim.settings import get_settings

log = logging.getLogger("travelsim.cli")


async def _seed() -> None:
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db.migrate(db.sync_engine())
    from travelsim.services import catalogue

    report = await catalogue.seed_and_sync(settings)
    log.info("catalogue: %d plans synced from SFT", len(report.created) + len(report.updated))
    if settings.app_env == "demo":
        await _demo_traveler()
        await _demo_staff()
    await db.async_engine().dispose()


# Addresses must pass the same validation as sign-in (email-validator refuses special-use
# domains such as .local): example.com is reserved for documentation and examples.
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "travel-demo-2026"


async def _demo_traveler() -> None:
    """A verified traveler for the local demo (never created outside ``APP_ENV=demo``)."""
    from sqlmodel import select

    from travelsim.models import User, utcnow
    from travelsim.services.auth.passwords import hash_password

    async with db.session() as s:
        exists = (await s.exec(select(User).where(User.email == DEMO_EMAIL))).first()
        if exists is None:
            s.add(
                User(
                    email=DEMO_EMAIL,
                    password_hash=hash_password(DEMO_PASSWORD),
                    email_verified_at=utcnow(),
                )
            )
            await s.commit()
            log.info("demo traveler: %s (password in the README)", DEMO_EMAIL)


DEMO_STAFF_EMAIL = "staff@example.com"
DEMO_STAFF_PASSWORD = "staff-demo-2026"


async def _demo_staff() -> None:
    """A verified staff account for the local demo (only in ``APP_ENV=demo``). Its first
    sign-in asks to set up two-step verification (staff always need it)."""
    from sqlmodel import select

    from travelsim.models import User, utcnow
    from travelsim.services import admin
    from travelsim.services.auth.passwords import hash_password

    async with db.session() as s:
        exists = (await s.exec(select(User).where(User.email == DEMO_STAFF_EMAIL))).first()
        if exists is not None:
            return
        s.add(
            User(
                email=DEMO_STAFF_EMAIL,
                password_hash=hash_password(DEMO_STAFF_PASSWORD),
                email_verified_at=utcnow(),
            )
        )
        await s.commit()
    await admin.set_staff(None, DEMO_STAFF_EMAIL, grant=True, actor_label="seed")
    log.info("demo staff: %s (password in the README)", DEMO_STAFF_EMAIL)


async def _staff(action: str, email: str) -> int:
    from travelsim.services import admin

    outcome = await admin.set_staff(None, email, grant=action == "grant", actor_label="cli")
    await db.async_engine().dispose()
    print(f"{outcome.result}: {outcome.message}")
    return 0 if outcome.ok else 1


async def _sft_check(url: str | None, endpoint: str | None) -> int:
    import httpx

    from travelsim.sft import SFTClient
    from travelsim.sft.factory import SIMULATOR_BASE_URL, get_rate_budget, simulator_app
    from travelsim.sft.selfcheck import RecordingTransport, exit_status, format_report, run_check

    settings = get_settings()
    base_url = url or settings.sft_base_url
    inner: httpx.AsyncBaseTransport
    if base_url:
        inner = httpx.AsyncHTTPTransport()
    elif settings.app_env in ("demo", "test"):
        inner, base_url = httpx.ASGITransport(app=simulator_app(settings)), SIMULATOR_BASE_URL
    else:
        print("sft check: give --url or set SFT_BASE_URL (the real platform: https://sft.bics.com)")
        return 2
    path = settings.sft_addon_details_path
    recorder = RecordingTransport(inner, path)
    async with SFTClient(
        base_url,
        settings.sft_username,
        settings.sft_password,
        rate_budget=get_rate_budget(settings),
        transport=recorder,
        timeout=settings.sft_timeout_seconds,
        long_timeout=settings.sft_long_timeout_seconds,
        target_account_id=settings.sft_target_account_id,
        addon_details_path=path,
    ) as client:
        report = await run_check(client, recorder, endpoint_id=endpoint, addon_details_path=path)
    print(format_report(report))
    return exit_status(report)


def _backup(to: str | None) -> int:
    from datetime import UTC, datetime
    from pathlib import Path

    from travelsim.services import backup

    settings = get_settings()
    if to is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        suffix = "db" if settings.is_sqlite else "dump"
        to = str(settings.data_dir / "backups" / f"travelsim-{stamp}.{suffix}")
    try:
        report = backup.backup(settings, Path(to))
    except backup.BackupError as exc:
        print(f"backup refused: {exc}", file=sys.stderr)
        return 1
    print(
        f"backup written: {report.path} ({report.engine}, {report.size_bytes} bytes, "
        f"revision {report.revision})"
    )
    print(
        "its activation codes and TOTP secrets open only with the ENCRYPTION_KEY in use now:"
        " keep that key safe, apart from the backup"
    )
    return 0


def _restore(source: str, yes: bool) -> int:
    from pathlib import Path

    from travelsim.services import backup

    settings = get_settings()
    try:
        target = backup.target_name(settings)
    except backup.BackupError as exc:
        print(f"restore refused: {exc}", file=sys.stderr)
        return 1
    if not yes:
        print(
            f"restore replaces everything in {target} (DATABASE_URL) with {source}: stop the "
            "portal using it, then run again with --yes (to test a backup, point "
            "DATABASE_URL at a scratch database instead)",
            file=sys.stderr,
        )
        return 2
    try:
        report = backup.restore(settings, Path(source))
    except backup.BackupError as exc:
        print(f"restore refused: {exc}", file=sys.stderr)
        return 1
    print(f"restored {report.path} into {target} (revision {report.revision}), migrated to head")
    return 0


async def _keys(action: str, batch: int) -> int:
    from travelsim.keys import secret_box
    from travelsim.services import key_rotation

    box = secret_box()
    if action == "rotate":
        report = await key_rotation.rotate_all(
            box,
            db.session,
            batch=batch,
            after_batch=lambda table, n: print(f"{table}: {n} re-encrypted so far"),
        )
        print(f"rotated {sum(report.rotated.values())} values under the newest key")
        report = await key_rotation.key_status(box, db.session)
    else:
        report = await key_rotation.key_status(box, db.session)
    await db.async_engine().dispose()
    for table, counts in report.by_key.items():
        keys = ", ".join(f"key {k + 1}: {n}" for k, n in sorted(counts.items())) or "none stored"
        print(f"{table}: {keys}; unreadable: {report.unreadable[table]}")
    if report.unreadable_values:
        print("some values open with no configured key: was a key removed too early?")
        return 1
    if report.old_key_values:
        print("values remain under older keys: run `keys rotate` before removing a key")
        return 3
    print("every value is under the newest key: the older keys can be removed")
    return 0


async def _reconcile() -> int:
    from travelsim.services import reconciliation
    from travelsim.services.payments import PaymentProviderError
    from travelsim.sft.factory import build_client, get_rate_budget

    settings = get_settings()
    client = build_client(settings, rate_budget=get_rate_budget(settings))
    try:
        report = await reconciliation.reconcile(client, settings=settings)
    except PaymentProviderError as exc:
        print(f"reconcile failed: Stripe could not be read ({exc.code})", file=sys.stderr)
        return 1
    finally:
        await client.aclose()
        await db.async_engine().dispose()
    kinds = ", ".join(f"{k}: {n}" for k, n in sorted(report.by_kind.items())) or "none"
    print(
        f"found {report.found} discrepancies ({kinds}); {report.new} new, "
        f"{report.reopened} reopened, {report.cleared} cleared; {report.open} open"
    )
    print(
        f"read {report.intents} PaymentIntents and the add-ons of {report.endpoints} "
        f"endpoints; {len(report.endpoints_failed)} endpoints could not be read"
        + (f" ({', '.join(report.endpoints_failed[:10])})" if report.endpoints_failed else "")
    )
    return 3 if report.open else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m travelsim.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="run the start-up checks only (exit 1 if refused)")
    check.add_argument("--serve", action="store_true", help="also what `make serve` needs")
    sub.add_parser("seed", help="migrate the database and load the demo catalogue")
    staff = sub.add_parser("staff", help="grant or revoke the staff role of an account")
    staff.add_argument("action", choices=["grant", "revoke"])
    staff.add_argument("email")
    back = sub.add_parser("backup", help="back up the portal database (docs/going-live.md#backups)")
    back.add_argument("--to", help="the new backup file (default: DATA_DIR/backups/…)")
    rest = sub.add_parser("restore", help="replace the portal database with a backup")
    rest.add_argument("source", help="a file made by `backup`")
    rest.add_argument("--yes", action="store_true", help="yes, replace the database")
    keys = sub.add_parser("keys", help="ENCRYPTION_KEY rotation (docs/going-live.md)")
    keys.add_argument("action", choices=["status", "rotate"])
    keys.add_argument("--batch", type=int, default=200, help="rows per transaction")
    sub.add_parser(
        "reconcile", help="compare Stripe, the orders and SFT once (docs/reconciliation.md)"
    )
    sft = sub.add_parser("sft", help="SFT platform tools")
    sft_sub = sft.add_subparsers(dest="sft_command", required=True)
    sft_check = sft_sub.add_parser(
        "check", help="read-only self-check of the SFT account (docs/sft-platform.md#self-check)"
    )
    sft_check.add_argument("--url", help="the SFT base URL (default: SFT_BASE_URL)")
    sft_check.add_argument("--endpoint", help="the endpoint to inspect (default: the first linked)")
    args = parser.parse_args(argv)
    if args.command == "sft":
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
        return asyncio.run(_sft_check(args.url, args.endpoint))
    workers = os.environ.get("GRANIAN_WORKERS")
    serve = args.command == "check" and args.serve
    settings = startup.checked_settings(
        "cli", extra=(lambda s: startup.serve_problems(s, workers)) if serve else None
    )
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s %(message)s")
    if args.command == "check":
        print(f"start allowed (APP_ENV={settings.app_env})")
    elif args.command == "seed":
        asyncio.run(_seed())
        log.info("database migrated and demo data loaded")
    elif args.command == "staff":
        return asyncio.run(_staff(args.action, args.email))
    elif args.command == "backup":
        return _backup(args.to)
    elif args.command == "restore":
        return _restore(args.source, args.yes)
    elif args.command == "keys":
        return asyncio.run(_keys(args.action, args.batch))
    elif args.command == "reconcile":
        return asyncio.run(_reconcile())
    return 0


if __name__ == "__main__":
    sys.exit(main())
