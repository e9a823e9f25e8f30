"""The PostgreSQL server the tests run on, and its databases."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from billing.db.embedded import ensure_database
from billing.db.migrate import migrations_head

HEAD = migrations_head()


@dataclass(frozen=True)
class PgServer:
    admin_url: str  # asyncpg URL of a maintenance database on the server
    pgdata: Path | None  # set for the embedded server the tests started

    def url(self, database: str) -> str:
        """SQLAlchemy (asyncpg) URL of one database."""
        url = make_url(self.admin_url).set(drivername="postgresql+asyncpg", database=database)
        return url.render_as_string(hide_password=False)

    def dsn(self, database: str) -> str:
        """asyncpg DSN of one database."""
        url = make_url(self.admin_url).set(database=database)
        return url.render_as_string(hide_password=False)


async def drop_database(pg_server: PgServer, name: str) -> None:
    conn = await asyncpg.connect(pg_server.admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@asynccontextmanager
async def copy_of(pg_server: PgServer, template: str, prefix: str) -> AsyncIterator[str]:
    """Name of a new database copied from ``template`` (``prefix`` and a random suffix); it is
    dropped when the block ends."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    await ensure_database(pg_server.admin_url, name, template=template)
    try:
        yield name
    finally:
        await drop_database(pg_server, name)
