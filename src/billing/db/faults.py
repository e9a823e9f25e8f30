"""What a database exception means for the request that met it.

PostgreSQL and the drivers report faults in several forms (a SQLSTATE on the exception or on its
cause, a closed connection, a pool timeout). ``classify`` turns each into one of three reactions;
anything it does not recognise is a bug, not a fault, and is left to propagate.
"""

from __future__ import annotations

import enum

import asyncpg
from sqlalchemy import exc as sa_exc

from billing.errors import ServiceUnavailable

RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
# Connection problems, the server shutting down or starting up, too many connections.
UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "57P01", "57P02", "57P03", "53300", "40003")
# Statement or lock timeout: waiting longer will not help this request.
BUSY_SQLSTATES = frozenset({"57014", "55P03"})


class NoFreeConnection(Exception):
    """Every connection a process may use was in use for longer than it may wait."""


class CutOff(ConnectionError):
    """The connection was closed at the request's deadline while it was in use."""


class Fault(enum.Enum):
    RETRY = "retry"  # the server aborted the transaction: run it again
    UNAVAILABLE = "unavailable"  # the database could not be reached or the connection broke
    BUSY = "busy"  # timed out waiting; give up for now


def sqlstate_of(exc: BaseException) -> str | None:
    """The SQLSTATE carried by an exception as SQLAlchemy or asyncpg raise it."""
    for candidate in (exc, getattr(exc, "orig", None), getattr(exc, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None)
        if isinstance(code, str):
            return code
    orig = getattr(exc, "orig", None)
    cause = getattr(orig, "__cause__", None)
    code = getattr(cause, "sqlstate", None)
    return code if isinstance(code, str) else None


def classify(exc: BaseException) -> Fault | None:  # noqa: PLR0911 - one exit per rule
    """How to react to an exception from the database; None means it is a bug, not a fault."""
    state = sqlstate_of(exc)
    if state in RETRYABLE_SQLSTATES:
        return Fault.RETRY
    if state in BUSY_SQLSTATES:
        return Fault.BUSY
    if state is not None and state.startswith(UNAVAILABLE_SQLSTATE_PREFIXES):
        return Fault.UNAVAILABLE
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return Fault.UNAVAILABLE
    if isinstance(exc, NoFreeConnection | sa_exc.TimeoutError):
        return Fault.BUSY  # no pooled connection in time: the process is saturated
    if isinstance(exc, OSError | asyncpg.exceptions.ConnectionDoesNotExistError):
        return Fault.UNAVAILABLE  # refused, reset, connect timeout, connection gone
    if isinstance(exc, sa_exc.InterfaceError | asyncpg.InterfaceError) and "closed" in str(exc):
        return Fault.UNAVAILABLE  # "connection is closed": terminated while idle, no sqlstate
    if isinstance(exc, asyncpg.exceptions.InternalClientError) and "in progress" in str(exc):
        # The server wrote to the connection unasked (a FATAL as it terminates the session)
        # just as it was taken from the pool: the driver is still reading that message.
        return Fault.UNAVAILABLE
    return None


def unreachable(exc: BaseException) -> bool:
    """The connection broke or could not be made (as opposed to: the pool was exhausted)."""
    cause = exc.__cause__ if isinstance(exc, ServiceUnavailable) else exc
    return cause is not None and classify(cause) is Fault.UNAVAILABLE


def read_failure(exc: Exception) -> ServiceUnavailable | None:
    """What a failed read means for the caller: the database is down or saturated."""
    fault = classify(exc)
    if fault is Fault.UNAVAILABLE:
        return ServiceUnavailable()
    if fault is Fault.BUSY:
        return ServiceUnavailable(busy=True)
    return None
