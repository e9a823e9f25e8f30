"""Fixed statements sent straight to the driver, as prepared statements.

A statement the service runs thousands of times with only its parameters changing needs
nothing of what SQLAlchemy does per call (compiling, caching, processing rows): ``fetch`` sends
it on the pooled connection's asyncpg connection, which prepares it once per connection and
keeps it (unless prepared statements are off: see ``Settings.prepared_statements``).
Statements are written with ``:name`` parameters, as for SQLAlchemy's ``text()``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection

_NAMED = re.compile(r"(?<![:\w]):(\w+)")


class Record(asyncpg.Record):  # type: ignore[misc]  # asyncpg ships no type hints
    """A row whose columns read as attributes too (``row.wallet_id``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(frozen=True)
class Statement:
    """A statement's text with ``:name`` parameters, and as PostgreSQL takes it (``$n``)."""

    text: str
    names: tuple[str, ...] = field(init=False)
    sql: str = field(init=False)

    def __post_init__(self) -> None:
        names = tuple(dict.fromkeys(_NAMED.findall(self.text)))
        object.__setattr__(self, "names", names)
        sql = _NAMED.sub(lambda m: f"${names.index(m.group(1)) + 1}", self.text)
        object.__setattr__(self, "sql", sql)


def driver_of(conn: AsyncConnection) -> Any:
    """The asyncpg connection under a checked-out connection (no round trip: it is there)."""
    sync = conn.sync_connection
    driver = sync.connection.driver_connection if sync is not None else None
    assert driver is not None, "a checked-out connection has its asyncpg connection"
    return driver


async def fetch(
    conn: AsyncConnection, statement: Statement, values: Mapping[str, object]
) -> list[Record]:
    """The rows of ``statement`` run with ``values`` (one for each of its names).

    Inside a transaction, the transaction must have been begun on the driver (see
    ``Database.read``): SQLAlchemy begins its own lazily, on its first statement."""
    arguments = [values[name] for name in statement.names]
    rows: list[Record] = await _call(
        conn,
        statement.sql,
        arguments,
        lambda driver: driver.fetch(statement.sql, *arguments, record_class=Record),
    )
    return rows


async def run(conn: AsyncConnection, sql: str) -> None:
    """Send ``sql``, one or more statements without parameters, in one message (PostgreSQL's
    simple query protocol): several statements cost one round trip."""
    await _call(conn, sql, [], lambda driver: driver.execute(sql))


async def _call(
    conn: AsyncConnection,
    sql: str,
    arguments: list[object],
    call: Callable[[Any], Awaitable[Any]],
) -> Any:
    sync = conn.sync_connection
    assert sync is not None
    if sync.dispatch.before_cursor_execute:  # whoever listens to the engine hears of it too
        sync.dispatch.before_cursor_execute(sync, None, sql, arguments, None, False)
    try:
        return await call(driver_of(conn))
    except asyncpg.PostgresError:
        raise  # the server answered (a serialization failure, say): the connection is sound
    except (Exception, asyncio.CancelledError):
        # Interrupted mid-call, the driver may be left in any state; SQLAlchemy did not see
        # the call, so it must be told not to take this connection back.
        await conn.invalidate()
        raise
