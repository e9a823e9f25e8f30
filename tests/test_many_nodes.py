"""Two API nodes through PgBouncer in transaction pooling mode, one PostgreSQL behind it.

Node A has no LISTEN connection (it polls for revocations and events); node B listens on a
direct connection (BILLING_LISTEN_DATABASE_URL). Both reach the database only through
PgBouncer, with its stock settings (see support.pgbouncer).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.config import Settings
from billing.db.database import Database
from billing.db.engine import create_engine
from billing.db.statements import Statement, fetch
from billing.domain import tokens
from support import ledger_depth as depth
from support.documents import CREATE_CLIENT, RESUPPLY, TRANSFER
from support.pgbouncer import PgBouncer, pgbouncer, require_pgbouncer
from support.postgres import PgServer, copy_of
from support.serve import Served, serving
from support.ws import socket

pytestmark = pytest.mark.slow

TRANSFER_REPLAYED = TRANSFER.replace("__typename", "__typename ... on TransferSuccess { replayed }")


@dataclass
class Cluster:
    bouncer: PgBouncer
    database: str
    direct_dsn: str
    a: Served  # polls
    b: Served  # listens
    token: str
    token_id: int


async def _operator_token(url: str, settings: Settings) -> tuple[int, str]:
    engine = create_engine(settings, url)
    try:
        record, secret = await tokens.create_token(Database(engine), kind="OPERATOR", name="nodes")
    finally:
        await engine.dispose()
    return record.id, secret


@pytest.fixture(scope="module")
def cluster(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    require_pgbouncer()
    directory = tmp_path_factory.mktemp("nodes")
    loop = asyncio.new_event_loop()
    copy = copy_of(pg_server, template_db, "billing_nodes")
    database = loop.run_until_complete(copy.__aenter__())
    try:
        with ExitStack() as stack:
            bouncer = stack.enter_context(pgbouncer(pg_server.admin_url))
            pooled = Settings(database_url=bouncer.url(database), database_pooled=True)
            token_id, token = loop.run_until_complete(
                _operator_token(bouncer.url(database), pooled)
            )
            common = {
                "BILLING_DATABASE_URL": bouncer.url(database),
                "BILLING_DATABASE_POOLED": "true",
                "BILLING_MIGRATE_ON_START": "false",
                "BILLING_LOG_FORMAT": "text",
            }
            a = stack.enter_context(serving(directory / "a", **common))
            b = stack.enter_context(
                serving(
                    directory / "b",
                    **common,
                    BILLING_LISTEN_DATABASE_URL=pg_server.url(database),
                )
            )
            yield Cluster(bouncer, database, pg_server.dsn(database), a, b, token, token_id)
    finally:
        loop.run_until_complete(copy.__aexit__(None, None, None))
        loop.close()


class Node:
    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        self.client = client
        self.url = url

    async def run(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.post(self.url, json={"query": query, "variables": variables})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    async def wallet(self, amount: str = "0") -> str:
        login = f"n-{uuid.uuid4().hex[:10]}"
        created = await self.run(CREATE_CLIENT, {"input": {"login": login, "name": login}})
        wallet: str = created["createClient"]["wallet"]["id"]
        if amount != "0":
            done = await self.run(RESUPPLY, {"input": {"walletId": wallet, "amount": amount}})
            assert done["resupply"]["__typename"] == "ResupplySuccess", done
        return wallet

    async def transfer(self, source: str, target: str, amount: str, **extra: Any) -> dict[str, Any]:
        variables = {"walletFromId": source, "walletToId": target, "amount": amount, **extra}
        query = TRANSFER_REPLAYED if "idempotencyKey" in extra else TRANSFER
        done: dict[str, Any] = (await self.run(query, {"input": variables}))["transfer"]
        return done


@pytest.fixture
async def nodes(cluster: Cluster) -> AsyncIterator[tuple[Node, Node]]:
    headers = {"Authorization": f"Bearer {cluster.token}"}
    async with httpx.AsyncClient(headers=headers, timeout=30) as client:
        yield Node(client, cluster.a.url), Node(client, cluster.b.url)


async def test_the_settings_the_service_relies_on_are_in_force_through_pgbouncer(
    cluster: Cluster,
) -> None:
    # given: the service's database through PgBouncer, as the nodes use it
    settings = Settings(
        database_url=cluster.bouncer.url(cluster.database),
        database_pooled=True,
        statement_timeout_ms=4321,
    )
    db = Database.configured(create_engine(settings, settings.database_url or ""), settings)
    shown = Statement(
        "SELECT current_setting('transaction_isolation') AS isolation,"
        " current_setting('statement_timeout') AS timeout,"
        " current_setting('enable_seqscan') AS seqscan,"
        " current_setting('idle_in_transaction_session_timeout') AS idle"
    )

    async def show(conn: AsyncConnection) -> tuple[str, ...]:
        return tuple((await fetch(conn, shown, {}))[0])

    try:
        # when: a write (sent as a single statement where sessions allow it), and reads
        one = await db.write(show, one_statement=True)
        several = await db.write(show)
        read = await db.read_one(show)
        async with db.read() as conn:
            snapshot = await show(conn)
    finally:
        await db.engine.dispose()
    # then: each runs at its isolation level, bounded as configured
    assert one == several == ("serializable", "4321ms", "off", "20s")
    assert read == snapshot == ("repeatable read", "4321ms", "off", "20s")
    # and none of it came from the session: a plain connection through PgBouncer has none of it
    plain = await asyncpg.connect(cluster.bouncer.dsn(cluster.database), statement_cache_size=0)
    try:
        assert await plain.fetchval("SHOW transaction_isolation") == "read committed"
        assert await plain.fetchval("SHOW statement_timeout") == "0"
    finally:
        await plain.close()


async def test_one_key_sent_to_both_nodes_at_once_moves_money_once(
    nodes: tuple[Node, Node],
) -> None:
    a, b = nodes
    source, target = await a.wallet("100.00"), await a.wallet()
    for _ in range(5):
        # when: the same request, with the same key, to both nodes at the same time
        key = uuid.uuid4().hex
        answers = await asyncio.gather(
            a.transfer(source, target, "1.00", idempotencyKey=key),
            b.transfer(source, target, "1.00", idempotencyKey=key),
        )
        # then: both succeed with the same transaction, one of them as a replay
        assert {x["__typename"] for x in answers} == {"TransferSuccess"}, answers
        assert len({x["transactionNumber"] for x in answers}) == 1
        assert sorted(x["replayed"] for x in answers) == [False, True]
    # and the money moved five times, not ten
    balance = await b.run("query($id: ID!) { wallet(id: $id) { balance } }", {"id": target})
    assert balance["wallet"]["balance"] == "5.00"


async def test_one_hold_captured_from_both_nodes_at_once_is_captured_once(
    nodes: tuple[Node, Node],
) -> None:
    a, b = nodes
    source, target = await a.wallet("100.00"), await a.wallet()
    for _ in range(5):
        held = await a.run(
            depth.HOLD, {"input": {"walletFromId": source, "walletToId": target, "amount": "1.00"}}
        )
        hold = held["holdTransfer"]["hold"]["id"]
        # when: both nodes capture it at the same time (each queues only in its own process,
        # until the hold's capturers have collided)
        answers = await asyncio.gather(
            *(node.run(depth.CAPTURE, {"input": {"holdId": hold}}) for node in (a, b))
        )
        # then: one captures it; the other is told it is no longer pending, not to try again
        kinds = sorted(x["captureHold"]["__typename"] for x in answers)
        assert kinds == ["CaptureHoldSuccess", "HoldNotPending"], answers
    # and the money moved five times, nothing is left held
    found = await b.run("query($id: ID!) { wallet(id: $id) { balance held } }", {"id": source})
    assert found["wallet"] == {"balance": "95.00", "held": "0.00"}


async def test_ten_hot_wallets_hammered_from_both_nodes_fail_no_request(
    nodes: tuple[Node, Node],
) -> None:
    # given: ten wallets with enough money for every transfer below
    a, b = nodes
    wallets = [await a.wallet("1000.00") for _ in range(10)]

    async def worker(node: Node, start: int) -> list[str]:
        outcomes = []
        for i in range(25):
            source = wallets[(start + i) % 10]
            target = wallets[(start + 3 * i + 1) % 10]
            if source == target:
                target = wallets[(start + i + 1) % 10]
            outcomes.append((await node.transfer(source, target, "1.00"))["__typename"])
        return outcomes

    # when: 16 workers on each node move money among them at once
    results = await asyncio.gather(
        *(worker(node, n) for n in range(16) for node in (a, b)),
    )
    # then: every request succeeded (none ran out of retries), and no money appeared or vanished
    outcomes = [outcome for result in results for outcome in result]
    assert outcomes == ["TransferSuccess"] * (32 * 25)
    total = 0
    for wallet in wallets:
        found = await b.run("query($id: ID!) { wallet(id: $id) { balance } }", {"id": wallet})
        total += int(found["wallet"]["balance"].replace(".", ""))
    assert total == 10 * 100_000


async def test_a_revoked_token_is_refused_by_both_nodes_within_two_seconds(
    cluster: Cluster,
) -> None:
    # given: a token both nodes have seen (and cached)
    settings = Settings(database_url=cluster.bouncer.url(cluster.database), database_pooled=True)
    token_id, token = await _operator_token(settings.database_url or "", settings)
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as client:

        async def refused(url: str) -> float:
            """Seconds until ``url`` refuses the token."""
            while (await client.post(url, json={"query": "{ __typename }"})).status_code == 200:
                assert time.monotonic() - revoked < 2.0, f"{url} accepts it after two seconds"
                await asyncio.sleep(0.05)
            return time.monotonic() - revoked

        for url in (cluster.a.url, cluster.b.url):
            response = await client.post(url, json={"query": "{ __typename }"})
            assert response.status_code == 200
        # when: it is revoked (as `billing token revoke` does, through PgBouncer)
        engine = create_engine(settings, settings.database_url or "")
        try:
            assert await tokens.revoke_token(Database.configured(engine, settings), token_id)
        finally:
            await engine.dispose()
        revoked = time.monotonic()
        # then: the node that listens and the node that polls both refuse it within 2 s
        polled, heard = await asyncio.gather(refused(cluster.a.url), refused(cluster.b.url))
    assert heard < 2.0
    assert polled < 2.0


@pytest.mark.parametrize("subscribed_on", ["a", "b"])
async def test_a_subscriber_on_one_node_sees_a_transfer_made_on_the_other(
    cluster: Cluster, nodes: tuple[Node, Node], subscribed_on: str
) -> None:
    a, b = nodes
    here, there = (a, b) if subscribed_on == "a" else (b, a)
    source, target = await there.wallet("10.00"), await there.wallet()
    async with socket(here.url, cluster.token) as ws:
        operation = await ws.subscribe({"walletId": target})
        # when: a transfer to the wallet, made on the other node
        done = await there.transfer(source, target, "2.50")
        assert done["__typename"] == "TransferSuccess", done
        # then: the subscriber hears of it
        [event] = await ws.items(operation, 1, seconds=10)
    assert event["kind"] == "TRANSFER"
    assert event["amount"] == "2.50"
    assert event["transactionNumber"] == done["transactionNumber"]


def test_the_nodes_ran_through_pgbouncer_without_a_session_setting(cluster: Cluster) -> None:
    # PgBouncer refuses a connection whose startup asks for a setting it does not track: had a
    # node asked for one, PgBouncer would have said so in its log, and the node would not run.
    log = cluster.bouncer.log()
    assert "unsupported startup parameter" not in log
    assert "login attempt" in log  # (the log is PgBouncer's, and it saw the nodes connect)
