"""Queries on a streaming hot standby while it keeps up; on the primary when it lags, when its
lag is unknown, or when the caller asks; mutations and their payloads always on the primary."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from billing.app import create_app
from billing.config import Settings
from billing.db.database import Database
from billing.db.engine import create_engine
from billing.db.migrate import run_alembic
from billing.db.replica import ReadReplica
from billing.domain import tokens
from support.documents import CREATE_CLIENT, RESUPPLY
from support.standby import Replicated, primary_and_standby

pytestmark = pytest.mark.slow

BALANCE = "query($id: ID!) { wallet(id: $id) { balance } }"
RESUPPLY_WITH_WALLET = RESUPPLY  # its success selects wallet { balance }: the payload's read


@pytest.fixture(scope="module")
def replicated() -> Iterator[Replicated]:
    with primary_and_standby() as pair:

        async def migrate() -> None:
            engine = create_engine(Settings(), pair.primary.url())
            try:
                await run_alembic(engine)
            finally:
                await engine.dispose()

        asyncio.run(migrate())
        yield pair


@pytest.fixture
async def app(replicated: Replicated) -> AsyncIterator[Starlette]:
    settings = Settings(
        database_url=replicated.primary.url(),
        read_database_url=replicated.standby_url("billing"),
        read_max_lag=0.5,
        migrate_on_start=False,
        events_relay=False,
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        replica: ReadReplica = application.state.replica
        for _ in range(100):  # its lag measured once
            if replica.lag is not None:
                break
            await asyncio.sleep(0.05)
        yield application


@pytest.fixture
async def standby(replicated: Replicated) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(replicated.standby_dsn("billing"))
    yield conn
    if await conn.fetchval("SELECT pg_is_wal_replay_paused()"):
        await conn.execute("SELECT pg_wal_replay_resume()")
    await conn.close()


class Caller:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post(
        self, query: str, variables: dict[str, Any], **headers: str
    ) -> tuple[dict[str, Any], str | None]:
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        return body["data"], response.headers.get("Billing-Read-From")

    async def balance(self, wallet: str, **headers: str) -> tuple[str, str | None]:
        data, source = await self.post(BALANCE, {"id": wallet}, **headers)
        return data["wallet"]["balance"] if data["wallet"] else "missing", source


@pytest.fixture
async def caller(app: Starlette) -> AsyncIterator[Caller]:
    _, secret = await tokens.create_token(app.state.db, kind="OPERATOR", name="replica")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers={"Authorization": f"Bearer {secret}"}
    ) as client:
        yield Caller(client)


async def new_wallet(caller: Caller, amount: str) -> str:
    login = f"r{time.monotonic_ns()}"
    data, _ = await caller.post(CREATE_CLIENT, {"input": {"login": login, "name": login}})
    wallet: str = data["createClient"]["wallet"]["id"]
    await caller.post(RESUPPLY, {"input": {"walletId": wallet, "amount": amount}})
    return wallet


async def settled(caller: Caller, wallet: str, balance: str) -> str | None:
    """Wait until a query shows ``balance``; where it read."""
    for _ in range(100):
        shown, source = await caller.balance(wallet)
        if shown == balance:
            return source
        await asyncio.sleep(0.05)
    raise AssertionError(f"the balance never read {balance}")


async def test_queries_read_on_the_standby_while_it_keeps_up(caller: Caller) -> None:
    # given: a wallet written on the primary
    wallet = await new_wallet(caller, "10.00")
    # when: it is queried, once the standby has replayed it
    source = await settled(caller, wallet, "10.00")
    # then: the query read on the standby, and said so
    assert source == "replica"


async def test_a_lagging_standby_is_left_for_the_primary_once_its_lag_passes_the_bound(
    app: Starlette, caller: Caller, standby: asyncpg.Connection
) -> None:
    # given: a wallet both servers show, then the standby stops replaying
    wallet = await new_wallet(caller, "10.00")
    assert await settled(caller, wallet, "10.00") == "replica"
    await standby.execute("SELECT pg_wal_replay_pause()")
    # when: the primary moves on
    await caller.post(RESUPPLY, {"input": {"walletId": wallet, "amount": "5.00"}})
    moved = time.monotonic()
    # then: until the measured lag passes 0.5 s queries may read the old balance on the
    # standby; from then on they read the new one, on the primary
    while (found := await caller.balance(wallet)) != ("15.00", "primary"):
        assert found == ("10.00", "replica"), found
        assert time.monotonic() - moved < 2.0, "still reading on the standby after 2 s"
        await asyncio.sleep(0.02)
    lag = app.state.replica.lag
    assert lag is not None
    assert lag > 0.5
    # and once it replays again, queries go back to it
    await standby.execute("SELECT pg_wal_replay_resume()")
    assert await settled(caller, wallet, "15.00") == "primary"
    for _ in range(100):
        if await caller.balance(wallet) == ("15.00", "replica"):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("queries never went back to the standby")


async def test_mutation_payloads_and_primary_reads_come_from_the_primary(
    app: Starlette, caller: Caller, standby: asyncpg.Connection
) -> None:
    # given: a standby that stopped replaying, but within a bound so wide that queries still
    # read on it
    app.state.replica.max_lag = 3600
    wallet = await new_wallet(caller, "10.00")
    assert await settled(caller, wallet, "10.00") == "replica"
    await standby.execute("SELECT pg_wal_replay_pause()")
    # when: money is added, and the wallet read in the mutation's payload and by queries
    data, source = await caller.post(
        RESUPPLY_WITH_WALLET, {"input": {"walletId": wallet, "amount": "5.00"}}
    )
    # then: the payload shows the new balance (read on the primary, no replica header)
    assert data["resupply"]["wallet"]["balance"] == "15.00"
    assert source is None
    # and a query reads the standby's old balance, unless it asks for the primary
    assert await caller.balance(wallet) == ("10.00", "replica")
    assert await caller.balance(wallet, **{"Billing-Read": "primary"}) == ("15.00", "primary")


async def test_a_standby_that_does_not_answer_is_left_for_the_primary(
    replicated: Replicated,
) -> None:
    # given: a replica whose standby cannot be reached
    primary = Database(create_engine(Settings(), replicated.primary.url()))
    gone = Database(
        create_engine(Settings(connect_timeout=1), "postgresql+asyncpg://x@/x?host=/nonexistent")
    )
    replica = ReadReplica(primary, gone, max_lag=10, interval=0.05)
    try:
        # when: it measures
        await replica.start()
        await asyncio.sleep(0.5)
        # then: its lag is unknown, and queries read on the primary
        assert replica.lag is None
        assert replica.for_queries() is primary
    finally:
        await replica.stop()
        await primary.engine.dispose()
        await gone.engine.dispose()


async def test_an_unknown_read_preference_is_refused(caller: Caller) -> None:
    refused = [
        await caller.client.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"Billing-Read": "standby"}
        ),
        await caller.client.get(
            "/graphql", params={"query": "{ __typename }"}, headers={"Billing-Read": "standby"}
        ),
    ]
    for response in refused:
        assert response.status_code == 400, response.text
        assert "Billing-Read" in response.text
