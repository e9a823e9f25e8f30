"""The PostgreSQL server the tests run on, and its databases."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

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
