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
    await db.async_engine().dispose()


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
