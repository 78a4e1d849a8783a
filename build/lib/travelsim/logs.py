"""Logging of the portal's own messages (``travelsim.*`` loggers) in the app's workers.

Reflex and Granian configure their own loggers and leave ours unhandled, so without this the
scheduler's lease changes, job failures and platform warnings would be silent. Each line
carries the worker's process id, so the lines of several backend workers can be told apart.
"""

from __future__ import annotations

import logging

from travelsim.settings import Settings

FORMAT = "%(asctime)s %(levelname)s [pid %(process)d] %(name)s: %(message)s"


def configure(settings: Settings) -> None:
    """Send ``travelsim.*`` records at ``LOG_LEVEL`` (e.g. ``INFO``) to stderr, once per
    process (no-op when the ``travelsim`` logger already has a handler)."""
    logger = logging.getLogger("travelsim")
    if logger.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    logger.addHandler(handler)
    logger.setLevel(settings.log_level.upper())
    logger.propagate = False
