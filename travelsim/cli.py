"""Command-line tasks: ``python -m travelsim.cli seed``.

``seed`` upgrades the portal database to head and loads the local-demo data (the
catalogue's seller-owned fields from ``CATALOGUE_SEED_FILE``). It is idempotent.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from travelsim import db
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
    await db.async_engine().dispose()


DEMO_EMAIL = "demo@travelsim.local"
DEMO_PASSWORD = "travel-demo-2026"


async def _demo_traveler() -> None:
    """A verified traveler for the local demo (never created outside ``APP_ENV=demo``)."""
    from sqlmodel import select

    from travelsim.models import User, utcnow
    from travelsim.services import accounts

    async with db.session() as s:
        exists = (await s.exec(select(User).where(User.email == DEMO_EMAIL))).first()
        if exists is None:
            s.add(
                User(
                    email=DEMO_EMAIL,
                    password_hash=accounts.hash_password(DEMO_PASSWORD),
                    email_verified_at=utcnow(),
                )
            )
            await s.commit()
            log.info("demo traveler: %s (password in the README)", DEMO_EMAIL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m travelsim.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("seed", help="migrate the database and load the demo catalogue")
    args = parser.parse_args(argv)
    logging.basicConfig(level=get_settings().log_level, format="%(levelname)s %(name)s %(message)s")
    if args.command == "seed":
        asyncio.run(_seed())
        log.info("database migrated and demo data loaded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
