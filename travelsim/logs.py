"""Logging of the portal's own messages (``travelsim.*`` loggers) in the app's workers.

Reflex and Granian configure their own loggers and leave ours unhandled, so without this the
scheduler's lease changes, job failures and platform warnings would be silent. Each line
carries the worker's process id, so the lines of several backend workers can be told apart.

``LOG_FORMAT=json`` writes one JSON object per line instead (python-json-logger), for a log
pipeline: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, ``pid``, every
``extra=`` field the call passed (``sft_operation``, ``http_status``, …), and ``request_id``
(the HTTP request being answered: the proxy's ``X-Request-ID`` or one made here,
:class:`travelsim.routes.http.RequestIdMiddleware`) and ``order_id`` (the order being
provisioned, :func:`with_order_id`) where known (docs/monitoring.md#logs).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Concatenate, ParamSpec, TypeVar

from pythonjsonlogger.json import JsonFormatter

from travelsim.settings import Settings

FORMAT = "%(asctime)s %(levelname)s [pid %(process)d] %(name)s: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(process)d"

#: The HTTP request being answered (its ``X-Request-ID``).
REQUEST_ID: ContextVar[str | None] = ContextVar("travelsim_request_id", default=None)
#: The order whose provisioning runs in this task.
ORDER_ID: ContextVar[str | None] = ContextVar("travelsim_order_id", default=None)

_P = ParamSpec("_P")
_R = TypeVar("_R")


class ContextFilter(logging.Filter):
    """Adds ``request_id`` and ``order_id`` from the context to every record (unless the
    call's ``extra=`` gave them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in (("request_id", REQUEST_ID), ("order_id", ORDER_ID)):
            if getattr(record, name, None) is None:
                value = var.get()
                if value is not None:
                    setattr(record, name, value)
        return True


def json_formatter() -> logging.Formatter:
    """The ``LOG_FORMAT=json`` formatter (module docstring)."""
    return JsonFormatter(
        JSON_FIELDS,
        rename_fields={
            "asctime": "time",
            "levelname": "level",
            "name": "logger",
            "process": "pid",
        },
        datefmt="%Y-%m-%dT%H:%M:%S%z",
        json_ensure_ascii=False,
    )


def configure(settings: Settings) -> None:
    """Send ``travelsim.*`` records at ``LOG_LEVEL`` (e.g. ``INFO``) to stderr in
    ``LOG_FORMAT`` (``text`` or ``json``), once per process (no-op when the ``travelsim``
    logger already has a handler)."""
    logger = logging.getLogger("travelsim")
    if logger.handlers:
        return
    handler = logging.StreamHandler()
    if settings.log_format == "json":
        handler.setFormatter(json_formatter())
    else:
        handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(ContextFilter())
    logger.addHandler(handler)
    logger.setLevel(settings.log_level.upper())
    logger.propagate = False


def with_order_id(
    fn: Callable[Concatenate[str, _P], Awaitable[_R]],
) -> Callable[Concatenate[str, _P], Awaitable[_R]]:
    """Decorate an ``async def f(order_id, ...)``: its log records carry ``order_id``."""

    @functools.wraps(fn)
    async def wrapper(order_id: str, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        token = ORDER_ID.set(order_id)
        try:
            return await fn(order_id, *args, **kwargs)
        finally:
            ORDER_ID.reset(token)

    return wrapper


__all__ = [
    "ORDER_ID",
    "REQUEST_ID",
    "ContextFilter",
    "configure",
    "json_formatter",
    "with_order_id",
]
