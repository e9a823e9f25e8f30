"""Test fixtures: a real PostgreSQL, migrated once, and a fresh database for every test.

The session starts its own embedded PostgreSQL (Unix socket in a temporary directory, so it
never touches another server on the machine), or uses BILLING_TEST_DATABASE_URL if set. A
template database is migrated once with Alembic; each test gets a copy of it, so tests that
commit (all API tests do) stay isolated.

Only fixtures live here; the helpers tests share are in support/ (tests import those, never
this module).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event
from starlette.applications import Starlette

from billing.app import create_app
from billing.config import Settings
from billing.db.embedded import ensure_database, start_embedded
from billing.db.engine import create_engine
from billing.db.migrate import run_alembic
from support.api import Api, api_for, new_token
from support.postgres import PgServer, copy_of, drop_database


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    external = os.environ.get("BILLING_TEST_DATABASE_URL")
    if external:
        yield PgServer(admin_url=external.replace("+asyncpg", ""), pgdata=None)
        return
    data_dir = tmp_path_factory.mktemp("pg")
    # Stopped and deleted when the test process exits.
    server = start_embedded(data_dir, cleanup_mode="delete")
    yield PgServer(admin_url=server.admin_url, pgdata=server.pgdata)


@pytest.fixture(scope="session")
async def template_db(pg_server: PgServer) -> AsyncIterator[str]:
    name = f"billing_template_{uuid.uuid4().hex[:8]}"
    await ensure_database(pg_server.admin_url, name)
    engine = create_engine(Settings(), pg_server.url(name))
    try:
        await run_alembic(engine)
    finally:
        await engine.dispose()
    yield name
    await drop_database(pg_server, name)


@pytest.fixture
async def database(pg_server: PgServer, template_db: str) -> AsyncIterator[str]:
    """Name of a fresh, migrated database for this test."""
    async with copy_of(pg_server, template_db, "billing_test") as name:
        yield name


@pytest.fixture
def pool_size() -> int:
    """Overridden by tests that need more concurrent connections."""
    return 8


@pytest.fixture
def settings(pg_server: PgServer, database: str, pool_size: int) -> Settings:
    return Settings(
        database_url=pg_server.url(database),
        migrate_on_start=False,
        pool_size=pool_size,
        pool_max_overflow=0,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def sql(pg_server: PgServer, database: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection to the test's database, to arrange data and check what was written."""
    conn = await asyncpg.connect(pg_server.dsn(database))
    yield conn
    await conn.close()


@pytest.fixture
def statements(app: Starlette) -> Iterator[list[str]]:
    """Every SQL statement the app sends while the test runs."""
    seen: list[str] = []
    engine = app.state.db.engine.sync_engine

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
async def api(app: Starlette) -> AsyncIterator[Api]:
    """An API client with an operator token."""
    async with api_for(app, await new_token(app)) as client:
        yield client
