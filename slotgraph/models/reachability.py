"""Which failures mean PostgreSQL cannot be reached (C30), told apart in one place so the
API can answer 503 for them instead of an unexpected error.

It reads only SQLAlchemy's exception tree and duck-types the driver's (asyncpg's errors
carry a `sqlstate`), so the API layer may ask without importing the driver.
"""

from __future__ import annotations

import socket

from sqlalchemy import exc as sa_exc

# SQLSTATE class 08 (connection exception) and the server going away or not yet up:
# 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now.
_UNREACHABLE_STATES = ("08", "57P01", "57P02", "57P03")


def database_unreachable(error: BaseException | None) -> bool:
    """True when `error`, or anything in its chain, says the database cannot be reached:
    a refused or timed-out connection, one dropped mid-operation, the server shutting down
    or starting, or no pooled connection free in time. Query errors (bad SQL, constraint
    violations) are not."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if _unreachable(error):
            return True
        error = error.__cause__ or error.__context__
    return False


def _unreachable(error: BaseException) -> bool:
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, sa_exc.TimeoutError):  # the pool had no connection in time
        return True
    # Refused, reset, timed out, name not resolved; not every OSError (a file name too
    # long is the caller's input, not the network).
    if isinstance(error, ConnectionError | TimeoutError | socket.gaierror):
        return True
    state = getattr(error, "sqlstate", None)
    return isinstance(state, str) and state.startswith(_UNREACHABLE_STATES)
