"""`billing serve` as operators run it: metrics over worker processes, logs, and stopping."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import pytest

from support.contention import wait_until_api_waits_for_a_lock
from support.documents import CREATE_CLIENT, TRANSFER
from support.promtext import Samples, parse, value
from support.serve import Served, gql, postmasters, serving

pytestmark = pytest.mark.slow

RESUPPLY = (
    "mutation($w: ID!, $a: Money!) { resupply(input: {walletId: $w, amount: $a}) { __typename } }"
)


def base_url(served: Served) -> str:
    return served.url.removesuffix("/graphql")


def log_lines(served: Served) -> list[dict[str, Any]]:
    """The JSON log lines the server wrote so far (stderr is not a terminal: JSON it is)."""
    found = []
    for line in list(served.output):
        if line.startswith("{"):
            found.append(json.loads(line))
    return found


def wait_for_startups(served: Served, count: int, timeout: float = 60) -> None:
    """Until ``count`` worker processes have started their application (restarts included)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        started = [
            line for line in log_lines(served) if line["message"] == "Application startup complete."
        ]
        if len(started) >= count:
            return
        time.sleep(0.1)
    raise AssertionError("".join(served.output))


def worker_pids(served: Served) -> list[int]:
    """The API worker processes (spawned by uvicorn's supervisor)."""
    return [
        child.pid
        for child in psutil.Process(served.proc.pid).children()
        if "spawn_main" in " ".join(child.cmdline())
    ]


def scrape(served: Served, token: str) -> Samples:
    response = httpx.get(
        base_url(served) + "/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    return parse(response.text)


def transfer(served: Served, token: str, source: str, target: str, amount: str) -> str:
    variables = {"input": {"walletFromId": source, "walletToId": target, "amount": amount}}
    kind: str = gql(served.url, token, TRANSFER, variables)["transfer"]["__typename"]
    return kind


def two_wallets(served: Served, token: str, funds: str) -> tuple[str, str]:
    wallets = []
    for login in ("ops-source", "ops-target"):
        data = gql(served.url, token, CREATE_CLIENT, {"input": {"login": login, "name": "Ops"}})
        wallets.append(data["createClient"]["wallet"]["id"])
    gql(served.url, token, RESUPPLY, {"w": wallets[0], "a": funds})
    return wallets[0], wallets[1]


def test_metrics_add_up_over_workers_and_outlive_a_killed_one(tmp_path: Path) -> None:
    with serving(tmp_path, "--workers", "2", BILLING_POOL_MAX_OVERFLOW="3") as served:
        token = served.token()
        wait_for_startups(served, 2)
        first, second = worker_pids(served)
        source, target = two_wallets(served, token, "100.00")
        # when: twenty transfers, each on a connection of its own, which the kernel spreads
        # over the two workers' sockets
        kinds = [transfer(served, token, source, target, "1.00") for _ in range(20)]
        samples = scrape(served, token)
        # then: both workers served some, and the counts are the sums over both
        assert kinds == ["TransferSuccess"] * 20
        served_by = Counter(
            line["pid"] for line in log_lines(served) if line.get("operation") == "transfer"
        )
        assert set(served_by) == {first, second}, served_by
        ops = "billing_operations_total"
        assert value(samples, ops, operation="transfer", result="TransferSuccess") == 20
        assert value(samples, "billing_request_duration_seconds_count", operation="transfer") == 20
        assert value(samples, "billing_db_pool_size") == 2 * 8
        assert value(samples, "billing_db_pool_max_overflow") == 2 * 3
        # when: a worker is killed and its replacement starts
        os.kill(first, signal.SIGKILL)
        wait_for_startups(served, 3)
        transfer(served, token, source, target, "1.00")
        samples = scrape(served, token)
        # then: what the dead worker counted still counts, but its pool is gone
        assert value(samples, ops, operation="transfer", result="TransferSuccess") == 21
        assert value(samples, "billing_db_pool_size") == 2 * 8
        assert value(samples, "billing_db_pool_checked_out") == 0


async def connect_embedded(pgdata: Path) -> asyncpg.Connection:
    """A session on the embedded server that `billing serve` started (socket from its pid file)."""
    lines = (pgdata / "postmaster.pid").read_text().splitlines()
    port, socket_dir = int(lines[3]), lines[4]
    conn: asyncpg.Connection = await asyncpg.connect(
        host=socket_dir, port=port, user="postgres", database="billing"
    )
    return conn


async def lock_wallet(conn: asyncpg.Connection, wallet: str) -> None:
    """Hold the wallet's row lock until COMMIT: writers to the wallet wait for it meanwhile."""
    await conn.execute("BEGIN")
    await conn.execute("SELECT id FROM wallets WHERE id = $1 FOR UPDATE", int(wallet))


async def wait_for_lock_waiter(pgdata: Path) -> None:
    # A session of its own: inside the holder's transaction pg_stat_activity would not change.
    conn = await connect_embedded(pgdata)
    try:
        await wait_until_api_waits_for_a_lock(conn)
    finally:
        await conn.close()


async def refused(url: str) -> bool:
    """True once new connections are refused (within ten seconds)."""
    deadline = time.monotonic() + 10
    async with httpx.AsyncClient(timeout=1) as http:
        while time.monotonic() < deadline:
            try:
                await http.get(url)
            except httpx.ConnectError:
                return True
            except httpx.TransportError:
                pass  # accepted, then dropped: not yet refused
            await asyncio.sleep(0.05)
    return False


@pytest.mark.parametrize("workers", [1, 2])
async def test_sigterm_lets_in_flight_requests_finish_then_stops_postgres(
    tmp_path: Path, workers: int
) -> None:
    # given: the metrics directories of an earlier run that was killed and of one still going
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    gone = await asyncio.create_subprocess_exec(sys.executable, "-c", "")
    await gone.wait()
    killed = scratch / f"billing-metrics-{gone.pid}-old"
    running = scratch / f"billing-metrics-{os.getpid()}-now"
    killed.mkdir()
    running.mkdir()
    pgdata = tmp_path / "data" / "pgdata"
    with serving(tmp_path / "data", "--workers", str(workers), TMPDIR=str(scratch)) as served:
        token = served.token()
        wait_for_startups(served, workers)
        source, target = two_wallets(served, token, "100.00")
        # then: the killed run's directory is gone, the running one's kept, one more made
        assert not killed.exists()
        assert running.exists()
        assert len(list(scratch.glob("billing-metrics-*"))) == 2
        # given: eight transfers in flight, all waiting for a wallet lock a session holds
        holder = await connect_embedded(pgdata)
        await lock_wallet(holder, source)
        variables = {"input": {"walletFromId": source, "walletToId": target, "amount": "1.00"}}
        body = {"query": TRANSFER, "variables": variables}
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(timeout=30) as http:
            in_flight = [
                asyncio.create_task(http.post(served.url, json=body, headers=headers))
                for _ in range(8)
            ]
            await wait_for_lock_waiter(pgdata)
            await asyncio.sleep(0.5)  # every request has reached the server by now
            # when: SIGTERM
            served.proc.send_signal(signal.SIGTERM)
            # then: new connections are refused at once, while the server waits for the others
            assert await refused(base_url(served) + "/healthz")
            await asyncio.sleep(0.5)
            assert served.proc.poll() is None
            assert not any(task.done() for task in in_flight)
            # when: the lock is released
            await holder.execute("COMMIT")
            await holder.close()
            answers = await asyncio.gather(*in_flight)
        code = await asyncio.to_thread(served.proc.wait, 30)
    # then: every in-flight request was answered in full
    assert [a.status_code for a in answers] == [200] * 8
    results = [a.json()["data"]["transfer"] for a in answers]
    assert {r["__typename"] for r in results} == {"TransferSuccess"}
    assert sorted(r["walletFromBalance"] for r in results)[0] == "92.00"
    # and the service stopped cleanly: exit status 0, pools closed, PostgreSQL stopped, and the
    # metrics directory removed
    output = "".join(served.output)
    assert code == 0, output
    messages = [line["message"] for line in log_lines(served)]
    assert messages.count("database connections closed") == workers
    assert postmasters(pgdata) == []
    assert not (pgdata / "postmaster.pid").exists()
    assert list(scratch.glob("billing-metrics-*")) == [running]


async def test_requests_that_outlast_the_shutdown_timeout_are_cut(tmp_path: Path) -> None:
    pgdata = tmp_path / "pgdata"
    with serving(tmp_path, BILLING_SHUTDOWN_TIMEOUT="1", BILLING_LOG_FORMAT="text") as served:
        token = served.token()
        source, target = two_wallets(served, token, "10.00")
        holder = await connect_embedded(pgdata)
        await lock_wallet(holder, source)
        variables = {"input": {"walletFromId": source, "walletToId": target, "amount": "1.00"}}
        async with httpx.AsyncClient(timeout=30) as http:
            stuck = asyncio.create_task(
                http.post(
                    served.url,
                    json={"query": TRANSFER, "variables": variables},
                    headers={"Authorization": f"Bearer {token}"},
                )
            )
            await wait_for_lock_waiter(pgdata)
            # when: SIGTERM while the lock is still held
            started = time.monotonic()
            served.proc.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(served.proc.wait, 30)
            stopped_after = time.monotonic() - started
            try:
                cut = (await stuck).status_code == 500
            except httpx.TransportError:
                cut = True
        holder.terminate()  # its server has stopped
    # then: it stopped after about the timeout, cutting the request short
    output = "".join(served.output)
    assert code == 0, output
    assert stopped_after < 8, output
    assert cut
    assert re.search(r"billing\.requests: POST /graphql 500 - - \d+", output), output
    assert postmasters(pgdata) == []
    # and its log was plain text, as asked
    assert "INFO" in output
    assert not any(line.startswith("{") for line in served.output)
    assert "database connections closed" in output
