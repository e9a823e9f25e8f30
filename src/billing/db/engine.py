"""The async engine: small pool, SERIALIZABLE by default.

There is no pre-ping (it would cost three round trips per checkout). Instead a connection is
checked without a round trip when it leaves the pool: an idle connection has nothing to read,
so one the server has closed or written to (a FATAL "terminating connection" before it hangs
up, as in a restart) is replaced at once. A connection that dies later fails on its first
statement; SQLAlchemy then invalidates the whole pool, and ``Database`` decides whether the
work may run again (see database.py).

A connection whose other end stops answering (a dead switch, a partition, a frozen host) is
dropped on both ends within ``tcp_timeout`` seconds, not the kernel's default two hours: on
ours, TCP keepalives and TCP_USER_TIMEOUT on its socket; on the server's, the same through its
``tcp_keepalives_*`` and ``tcp_user_timeout`` settings, sent with every connection. The server
then ends the backend, and with it any transaction and advisory lock it held. A transaction
left open by a client that went away ends after ``idle_in_transaction_session_timeout``.
(Over a Unix socket, as to the embedded server, there is no TCP and none of this applies.)
"""

from __future__ import annotations

import math
import select
import socket
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from billing.config import Settings
from billing.db.faults import Fault, classify
from billing.db.gate import gate_connections

APPLICATION_NAME = "billing-api"


def create_engine(
    settings: Settings, url: str | URL, *, session: Mapping[str, str] | None = None, **options: Any
) -> AsyncEngine:
    """The request path's engine; ``options`` (a pool class, an isolation level) and other
    ``session`` settings make engines for the service's background work (of those, a pooled
    connection gets only its application's name, like any other)."""
    server = server_settings(settings)
    server |= {k: v for k, v in (session or {}).items() if k in server}
    connect_args: dict[str, Any] = {"timeout": settings.connect_timeout, "server_settings": server}
    if not settings.prepared_statements:
        # Unnamed statements only, parsed on every call: asyncpg's cache off (0.31 and later then
        # prepare unnamed), and SQLAlchemy's cache of prepared statements off too.
        connect_args["statement_cache_size"] = 0
        url = make_url(url).update_query_dict({"prepared_statement_cache_size": "0"})
    if "poolclass" not in options:
        options |= {
            "pool_size": settings.pool_size,
            # Room for the wallet gate's connections too (see billing.db.database).
            "max_overflow": settings.pool_max_overflow
            + gate_connections(settings.pool_size + settings.pool_max_overflow),
            "pool_timeout": settings.pool_timeout,
        }
    engine = create_async_engine(
        url,
        isolation_level=options.pop("isolation_level", "SERIALIZABLE"),
        hide_parameters=True,  # error messages and logs never carry the values sent
        connect_args=connect_args,
        **options,
    )
    event.listen(engine.sync_engine.pool, "checkout", _replace_if_not_idle)

    def on_connect(dbapi_connection: Any, record: Any) -> None:
        drop_dead_peers(dbapi_connection.driver_connection, settings.tcp_timeout)

    event.listen(engine.sync_engine.pool, "connect", on_connect)
    return engine


def server_settings(settings: Settings, *, direct: bool = False) -> dict[str, str]:
    """What every connection asks of its server session, when it starts.

    Through a pooler in transaction mode (``settings.database_pooled``), and unless the
    connection is ``direct``, only the application's name: a pooler refuses the others (or
    would drop them), and sessions are shared anyway. There ``transaction_settings`` sets
    them in each transaction."""
    if settings.database_pooled and not direct:
        return {"application_name": APPLICATION_NAME}
    idle, interval, count = keepalive_timers(settings.tcp_timeout)
    return {
        "application_name": APPLICATION_NAME,
        **session_settings(settings),
        "tcp_keepalives_idle": str(idle),
        "tcp_keepalives_interval": str(interval),
        "tcp_keepalives_count": str(count),
        "tcp_user_timeout": str(1000 * settings.tcp_timeout),
    }


def transaction_settings(settings: Settings) -> str:
    """``SET LOCAL`` statements for the session settings, sent with each BEGIN when the
    database is pooled (else nothing: every session has them from its start)."""
    if not settings.database_pooled:
        return ""
    return "".join(
        f"; SET LOCAL {name} = '{value}'"
        for name, value in session_settings(settings).items()
        if name != "default_transaction_isolation"  # each BEGIN names its isolation level
    )


def session_settings(settings: Settings) -> dict[str, str]:
    """The server settings the service relies on, in every session or transaction."""
    longest_request = max(settings.write_timeout, settings.read_timeout)
    return {
        # A statement sent outside BEGIN ... COMMIT is a transaction of its own; the
        # money-moving ones are sent that way (see domain/posting.py).
        "default_transaction_isolation": "serializable",
        # Each statement the service prepares is one of a fixed set, run thousands of times with
        # parameters that do not change its best plan (ids, amounts): one plan per connection
        # and statement, kept. Planned anew on every call (PostgreSQL's choice here), a posting
        # costs 1.2 ms in the server instead of 0.65 ms. Every lookup of the service has an
        # index; a plan made while a table was empty would scan it whole instead, and under
        # SERIALIZABLE such a scan makes every writer of that table conflict with every other.
        # So a sequential scan is chosen only where no index can serve.
        "plan_cache_mode": "force_generic_plan",
        "enable_seqscan": "off",
        "statement_timeout": str(settings.statement_timeout_ms),
        # No request keeps a transaction open longer than its bound: one still open at twice
        # that was left by a client that went away.
        "idle_in_transaction_session_timeout": str(math.ceil(2000 * longest_request)),
    }


def keepalive_timers(timeout: int) -> tuple[int, int, int]:
    """Seconds of silence before the first probe, between probes, and how many go unanswered
    before the connection is dropped: about ``timeout`` seconds in all."""
    count = 3
    interval = max(1, timeout // 5)
    return max(1, timeout - count * interval), interval, count


def drop_dead_peers(driver: Any, timeout: int) -> None:
    """Keepalives and TCP_USER_TIMEOUT on an asyncpg connection's socket, if it is TCP."""
    transport = getattr(driver, "_transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None or sock.family not in {socket.AF_INET, socket.AF_INET6}:
        return
    idle, interval, count = keepalive_timers(timeout)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (
        ("TCP_KEEPIDLE", idle),
        ("TCP_KEEPINTVL", interval),
        ("TCP_KEEPCNT", count),
        ("TCP_USER_TIMEOUT", 1000 * timeout),  # unacknowledged data: give up after this long
    ):
        if hasattr(socket, option):  # Linux has them all
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


def _replace_if_not_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    driver = dbapi_connection.driver_connection  # the asyncpg connection
    if driver.is_closed() or has_unread_input(driver):
        raise DisconnectionError("the server closed this idle connection or wrote to it")


def has_unread_input(driver: Any) -> bool:
    """Whether the connection's socket has bytes (or end of file) waiting: poll, no I/O."""
    return input_probe(driver)()


def input_probe(driver: Any) -> Callable[[], bool]:
    """``has_unread_input`` for one connection, made once for its life (its socket stays the
    same)."""
    sock = getattr(driver, "_transport", None)
    sock = sock.get_extra_info("socket") if sock is not None else None
    fd = sock.fileno() if sock is not None else -1
    if fd < 0:
        return _never  # not inspectable: the first statement will tell
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    return lambda: bool(poller.poll(0))


def _never() -> bool:
    return False


async def check_reachable(settings: Settings, url: str) -> None:
    """Connect once; raise DatabaseUnreachable with a readable message if that fails."""
    engine = create_engine(settings, url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (OSError, DBAPIError) as exc:
        reason = getattr(exc, "orig", None) or exc
        raise DatabaseUnreachable(
            f"cannot reach the database at {safe_url(url)}: {reason}",
            transient=classify(exc) is Fault.UNAVAILABLE,
        ) from exc
    finally:
        await engine.dispose()


class DatabaseUnreachable(RuntimeError):
    """The database could not be reached (at startup). ``transient``: it did not answer (it may
    later), as opposed to refusing us (a wrong password, a database that does not exist)."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


def safe_url(url: str) -> str:
    """The URL with its password hidden, for logs and messages."""
    return make_url(url).render_as_string(hide_password=True)
