"""The async engine: small pool, SERIALIZABLE by default.

There is no pre-ping (it would cost three round trips per checkout). Instead a connection is
checked without a round trip when it leaves the pool: an idle connection has nothing to read,
so one the server has closed or written to (a FATAL "terminating connection" before it hangs
up, as in a restart) is replaced at once. A connection that dies later fails on its first
statement; SQLAlchemy then invalidates the whole pool, and ``Database`` decides whether the
work may run again (see database.py).
"""

from __future__ import annotations

import select
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from billing.config import Settings

APPLICATION_NAME = "billing-api"


def create_engine(settings: Settings, url: str) -> AsyncEngine:
    engine = create_async_engine(
        url,
        isolation_level="SERIALIZABLE",
        pool_size=settings.pool_size,
        max_overflow=settings.pool_max_overflow,
        pool_timeout=settings.pool_timeout,
        hide_parameters=True,  # error messages and logs never carry the values sent
        connect_args={
            "timeout": settings.connect_timeout,
            "server_settings": {
                "application_name": APPLICATION_NAME,
                # A statement sent outside BEGIN ... COMMIT is a transaction of its own; the
                # money-moving ones are sent that way (see domain/payments.py).
                "default_transaction_isolation": "serializable",
                "statement_timeout": str(settings.statement_timeout_ms),
                "idle_in_transaction_session_timeout": "60000",
            },
        },
    )
    event.listen(engine.sync_engine.pool, "checkout", _replace_if_not_idle)
    return engine


def _replace_if_not_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    driver = dbapi_connection.driver_connection  # the asyncpg connection
    if driver.is_closed() or _has_unread_input(driver):
        raise DisconnectionError("the server closed this idle connection or wrote to it")


def _has_unread_input(driver: Any) -> bool:
    """Whether the connection's socket has bytes (or end of file) waiting: poll, no I/O."""
    sock = getattr(driver, "_transport", None)
    sock = sock.get_extra_info("socket") if sock is not None else None
    fd = sock.fileno() if sock is not None else -1
    if fd < 0:
        return False  # not inspectable: the first statement will tell
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    return bool(poller.poll(0))


async def check_reachable(settings: Settings, url: str) -> None:
    """Connect once; raise DatabaseUnreachable with a readable message if that fails."""
    engine = create_engine(settings, url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (OSError, DBAPIError) as exc:
        reason = getattr(exc, "orig", None) or exc
        raise DatabaseUnreachable(
            f"cannot reach the database at {safe_url(url)}: {reason}"
        ) from exc
    finally:
        await engine.dispose()


class DatabaseUnreachable(RuntimeError):
    """The database could not be reached (at startup)."""


def safe_url(url: str) -> str:
    """The URL with its password hidden, for logs and messages."""
    return make_url(url).render_as_string(hide_password=True)
