"""Test fixtures: a real PostgreSQL, migrated once, and a fresh database for every test.

The session starts its own embedded PostgreSQL (Unix socket in a temporary directory, so it
never touches another server on the machine), or uses BILLING_TEST_DATABASE_URL if set. A
template database is migrated once with Alembic; each test gets a copy of it, so tests that
commit (all API tests do) stay isolated.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import asyncpg
import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url
from starlette.applications import Starlette

from billing.app import create_app
from billing.config import Settings
from billing.db.embedded import ensure_database, start_embedded
from billing.db.engine import create_engine
from billing.db.migrate import migrations_head, run_alembic
from billing.domain import tokens

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


async def drop_database(pg_server: PgServer, name: str) -> None:
    conn = await asyncpg.connect(pg_server.admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def database(pg_server: PgServer, template_db: str) -> AsyncIterator[str]:
    """Name of a fresh, migrated database for this test."""
    name = f"billing_test_{uuid.uuid4().hex[:12]}"
    await ensure_database(pg_server.admin_url, name, template=template_db)
    yield name
    await drop_database(pg_server, name)


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


class Api:
    """Calls the GraphQL endpoint over the app's real HTTP stack."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.http = client

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        return await self.http.post("/graphql", json={"query": query, "variables": variables})

    async def run(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Execute a document that must not produce GraphQL errors; return its data."""
        response = await self.post(query, variables)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    async def create_client(self, login: str, name: str = "Test Client") -> tuple[str, str]:
        """Create a client; return (client id, wallet id)."""
        data = await self.run(CREATE_CLIENT, {"input": {"login": login, "name": name}})
        result = data["createClient"]
        assert result["__typename"] == "CreateClientSuccess", result
        return result["client"]["id"], result["wallet"]["id"]

    async def resupply(self, wallet_id: str, amount: str) -> dict[str, Any]:
        data = await self.run(RESUPPLY, {"input": {"walletId": wallet_id, "amount": amount}})
        result: dict[str, Any] = data["resupply"]
        return result

    async def transfer(self, source: str, target: str, amount: str) -> dict[str, Any]:
        data = await self.run(
            TRANSFER, {"input": {"walletFromId": source, "walletToId": target, "amount": amount}}
        )
        result: dict[str, Any] = data["transfer"]
        return result

    async def balance(self, wallet_id: str) -> str:
        data = await self.run(WALLET_BALANCE, {"id": wallet_id})
        balance: str = data["wallet"]["balance"]
        return balance


async def new_token(app: Starlette, client_id: int | None = None) -> str:
    """A fresh operator token, or a client token when ``client_id`` is given."""
    kind: Literal["OPERATOR", "CLIENT"] = "OPERATOR" if client_id is None else "CLIENT"
    _, secret = await tokens.create_token(
        app.state.db, kind=kind, client_id=client_id, name="tests"
    )
    return secret


@asynccontextmanager
async def api_for(app: Starlette, token: str | None) -> AsyncIterator[Api]:
    """An API client over the app's ASGI interface, sending ``token`` (if any)."""
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=headers
    ) as client:
        yield Api(client)


@asynccontextmanager
async def custom_api(settings: Settings, **changes: Any) -> AsyncIterator[tuple[Starlette, Api]]:
    """The service with some settings changed, and an operator client for it."""
    application = create_app(settings.model_copy(update=changes))
    async with (
        application.router.lifespan_context(application),
        api_for(application, await new_token(application)) as client,
    ):
        yield application, client


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


ERROR_FIELDS = "... on Error { code message }"

CREATE_CLIENT = f"""
mutation CreateClient($input: CreateClientInput!) {{
  createClient(input: $input) {{
    __typename
    ... on CreateClientSuccess {{ client {{ id login name }} wallet {{ id balance }} }}
    ... on InvalidInput {{ field }}
    ... on LoginTaken {{ login }}
    {ERROR_FIELDS}
  }}
}}
"""

RESUPPLY = f"""
mutation Resupply($input: ResupplyInput!) {{
  resupply(input: $input) {{
    __typename
    ... on ResupplySuccess {{
      walletId amount transactionNumber walletBalance wallet {{ id balance }}
    }}
    ... on InvalidInput {{ field }}
    ... on WalletNotFound {{ walletId }}
    ... on BalanceLimitExceeded {{ walletId limit }}
    {ERROR_FIELDS}
  }}
}}
"""

TRANSFER = f"""
mutation Transfer($input: TransferInput!) {{
  transfer(input: $input) {{
    __typename
    ... on TransferSuccess {{
      walletFromId walletToId amount transactionNumber walletFromBalance walletToBalance
      walletFrom {{ id balance }} walletTo {{ id balance }}
    }}
    ... on InvalidInput {{ field }}
    ... on WalletNotFound {{ walletId }}
    ... on InsufficientFunds {{ walletId balance requested }}
    ... on BalanceLimitExceeded {{ walletId limit }}
    {ERROR_FIELDS}
  }}
}}
"""

WALLET_BALANCE = "query Balance($id: ID!) { wallet(id: $id) { id balance } }"
